"""``rnnkit serve`` for a form's run: type a text, see what the model makes of it as you type.

``POST /api/predict`` takes JSON {"text"} (generate: {"text": a label, "temperature"?,
"seed"?}) and answers with the same data as ``rnnkit inspect``'s page for that one example
(``inspect_units.page_from_traces``): the class probabilities after each character
(classify), the tag of each character (tag), the encoder over the source and the decoder's
greedy output with its distribution per step (seq2seq), or one sample for the label,
greedy at temperature 0 (generate). Every view carries the stack's hidden states.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnkit.train.forms import Form

from . import serve_requests as checks
from .form_trace import form_traces, generate_trace
from .inspect_units import page_from_traces
from .serve_requests import MAX_TEMPERATURE, BadRequest, check_fields

INPUT = {"classify": "text", "tag": "text", "seq2seq": "source", "generate": "label"}


def first_example(form: Form) -> str:
    """The input of the first example of the run's training data (generate: its first label):
    the page's starting text; empty when the data is gone."""
    if form.verb == "generate":
        return form.labels.labels[0]
    try:
        with open(Path(form.cfg.data), encoding="utf-8") as f:
            for line in f:
                item = line.rstrip("\r\n").split("\t", 1)[0]
                if item.strip():
                    return item
    except (OSError, UnicodeDecodeError, TypeError):
        pass
    return ""


class FormPredictor:
    """A form's model and the request rules of ``/api/predict``, shared by every handler
    thread (read-only); see ``serve.Generator`` for ``post_path`` and ``streams``."""

    post_path, streams = "/api/predict", False

    def __init__(self, form, model, max_length: int = 2000):
        self.form, self.model, self.max_length = form, model, max_length
        self.fields = {"text", "temperature", "seed"} if form.verb == "generate" else {"text"}

    def info(self) -> dict:
        f, c = self.form, self.model.cfg
        return {
            "task": f.verb,
            "input": INPUT[f.verb],
            "labels": f.labels.labels if f.verb == "generate" else [],
            "example": first_example(f),
            "layers": c.layers,
            "hidden": c.hidden,
            "max_length": self.max_length,
            "max_temperature": MAX_TEMPERATURE,
        }

    def parse(self, body: object) -> dict:
        """Check a request body; returns the arguments of ``predict`` or raises ``BadRequest``."""
        body = check_fields(body, self.fields)
        text = checks.text(body, "text", self.max_length)
        if self.form.verb != "generate":
            return {"text": text}
        if text not in self.form.labels.index:
            known = ", ".join(repr(l) for l in self.form.labels.labels[:20])
            raise BadRequest(400, f"text must name a label: one of {known}, got {text!r}")
        return {"text": text, "temperature": checks.temperature(body, 1.0), "seed": checks.seed(body)}

    def predict(self, text: str, temperature: float = 0.0, seed: int | None = None) -> dict:
        """The page data of one example (``page_from_traces``); a ``RnnkitError`` when it does not fit."""
        if self.form.verb == "generate":
            traces = [generate_trace(self.form, self.model, text, temperature, np.random.default_rng(seed))]
        else:
            traces = form_traces(self.form, self.model, text)
        return page_from_traces(traces, self.form.verb, self.model.cfg.to_dict())
