"""Hidden-unit inspection: a self-contained HTML page of a text coloured by one unit's activation.

Following Karpathy, Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent
Networks": read a text through the model, colour each character by the activation
h^(l)_t[u] of one hidden unit u of layer l after reading it (red > 0, blue < 0), and show
the model's top-5 next-character probabilities when the pointer rests on a character.

Unit search finds the interpretable cells: every unit's activation sequence is correlated
(Pearson r over the characters) with simple signals of the text,

    in_quotes      1 inside "..." (or “...”), 0 outside
    bracket_depth  nesting depth of (), [] and {}
    line_position  characters since the last newline
    after_newline  1 right after a newline was read (the state that starts a line)
    in_word        1 on a letter or digit

and the units with the largest |r| are listed per signal; clicking one shows it.

The page is one file: the data is embedded as JSON (``<script type="application/json">``)
and all script and style is inline, so it opens offline and can be mailed around.

The page draws segments, each one sequence as one stack read it (``form_trace.Trace``): the
LM's page has one, a form's page one per example (``inspect_forms.py``; seq2seq two per
example, the encoder's and the decoder's). ``page_from_traces`` builds the data and
``templates/units.js`` draws it, here and in ``rnnkit serve``'s form page.

    rnnkit inspect runs/shakespeare --text play.txt --html units.html --layer 1 --unit 17
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from rnnkit.data.corpus import load_prepared, read_text_file
from rnnkit.data.vocab import Vocab
from rnnkit.errors import RnnkitError
from rnnkit.models.char_rnn import CharRNN
from rnnkit.train.load_lm import load_lm

from .activations import trace
from .form_trace import Trace, describe
from .output_path import check_output, write_atomically

ACT_SCALE = 1000  # activations are embedded as round(h * ACT_SCALE): integers, error <= 5e-4
TOP_K = 5  # next-character probabilities shown on hover
RANK_K = 10  # units listed per signal
HTML_SUFFIXES = (".html", ".htm")  # the page is HTML: another suffix would open as text, or not at all

SIGNALS = {
    "in_quotes": "inside double quotes",
    "bracket_depth": "depth of (), [] and {}",
    "line_position": "characters since the last newline",
    "after_newline": "a newline was just read",
    "in_word": "on a letter or digit",
}


def text_signals(text: Sequence[str]) -> dict[str, np.ndarray]:
    """Each signal as a float array (N,); position t describes the text after reading text[t].

    ``text``: a string, or a list of tokens (a word token counts as one position)."""
    N = len(text)
    sig = {k: np.zeros(N) for k in SIGNALS}
    quote, depth, col = False, 0, 0
    for t, ch in enumerate(text):
        if ch == '"':
            quote = not quote
        elif ch == "“":
            quote = True
        elif ch == "”":
            quote = False
        if ch in "([{":
            depth += 1
        elif ch in ")]}" and depth > 0:
            depth -= 1
        col = 0 if ch == "\n" else col + 1
        sig["in_quotes"][t] = quote
        sig["bracket_depth"][t] = depth
        sig["line_position"][t] = col
        sig["after_newline"][t] = ch == "\n"
        sig["in_word"][t] = ch.isalnum()
    return sig


def correlations(states: np.ndarray, signal: np.ndarray) -> np.ndarray | None:
    """Pearson r of every unit with ``signal``: states (N, L, H), signal (N,) -> (L, H).

    None when the signal is constant over the text (r is undefined). Constant units get r = 0.
    """
    s = signal - signal.mean()
    s_norm = np.sqrt((s * s).sum())
    if s_norm == 0:
        return None
    a = states.astype(np.float64) - states.mean(axis=0)  # (N, L, H)
    a_norm = np.sqrt((a * a).sum(axis=0))  # (L, H)
    cov = np.tensordot(s, a, axes=(0, 0))  # (L, H)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / (a_norm * s_norm)
    return np.nan_to_num(r, nan=0.0)


def rank_units(states: np.ndarray, signals: dict[str, np.ndarray], k: int = RANK_K) -> dict[str, list]:
    """signal -> the ``k`` units with the largest |r|: [{"layer", "unit", "r"}], best first."""
    out = {}
    for name, sig in signals.items():
        r = correlations(states, sig)
        if r is None:
            out[name] = []
            continue
        flat = np.argsort(-np.abs(r), axis=None, kind="stable")[:k]
        out[name] = [
            {"layer": int(i // r.shape[1]), "unit": int(i % r.shape[1]), "r": round(float(r.flat[i]), 4)}
            for i in flat
        ]
    return out


def unit_choice(traces: list[Trace], layer: int | None, unit: int | None) -> tuple[dict, dict]:
    """(ranking, initial) for the stack that read ``traces``: its units ranked over all their
    tokens together, and the unit shown first (``layer``/``unit``, else the best-ranked one)."""
    states = np.concatenate([t.states for t in traces])  # (N, L, W)
    per_trace = [text_signals(t.tokens) for t in traces]
    ranking = rank_units(states, {k: np.concatenate([s[k] for s in per_trace]) for k in SIGNALS})
    L, W = states.shape[1:]
    if layer is None and unit is None:
        best = max((e for lst in ranking.values() for e in lst[:1]), key=lambda e: abs(e["r"]), default=None)
        layer, unit = (best["layer"], best["unit"]) if best else (L - 1, 0)
    layer = L - 1 if layer is None else layer
    unit = 0 if unit is None else unit
    if not 0 <= layer < L:
        raise RnnkitError(f"`layer` must lie in [0, {L - 1}], got {layer}")
    if not 0 <= unit < W:
        raise RnnkitError(f"`unit` must lie in [0, {W - 1}], got {unit}")
    return ranking, {"layer": layer, "unit": unit}


def segment_data(tr: Trace) -> dict:
    """One trace as the page draws it (``templates/units.js``), JSON-ready."""
    N, L, W = tr.states.shape
    acts = np.rint(tr.states * ACT_SCALE).astype(np.int32).transpose(1, 2, 0)  # (L, W, N)
    top, top_p = [], []
    if tr.probs is not None:
        k = min(TOP_K, tr.probs.shape[1])
        top = np.argsort(-tr.probs, axis=1, kind="stable")[:, :k]  # (N, k)
        top_p = np.round(np.take_along_axis(tr.probs, top, axis=1).astype(np.float64), 4).tolist()  # (N, k)
        top = top.tolist()
    return {
        "name": tr.name,
        "stack": tr.stack,
        "net": tr.net,
        "summary": tr.summary,
        "words": tr.words,
        "strip": tr.strip,
        "layers": L,
        "width": W,
        "chars": list(tr.tokens),
        "acts": acts.tolist(),  # [layer][unit][t]
        "vocab": list(tr.labels),
        "dist_title": tr.dist,
        "top_ids": top,
        "top_p": top_p,
    }


def page_from_traces(
    traces: list[Trace],
    task: str,
    model_cfg: dict,
    source: str = "",
    layer: int | None = None,
    unit: int | None = None,
) -> dict:
    """The page's data: the first trace's ``segment_data`` at the top level, the others in
    ``more``; each with the unit ranking and first unit of its stack (``layer`` and ``unit``
    choose net 0's)."""
    segments = [segment_data(t) for t in traces]
    for net in sorted({t.net for t in traces}):
        ranking, initial = unit_choice(
            [t for t in traces if t.net == net], *((layer, unit) if net == 0 else (None, None))
        )
        for seg in segments:
            if seg["net"] == net:
                seg.update(ranking=ranking, initial=initial)
    return {
        "source": source,
        "task": task,
        "model": model_cfg,
        "act_scale": ACT_SCALE,
        "signals": SIGNALS,
        **segments[0],
        "more": segments[1:],
    }


def page_data(
    model: CharRNN,
    vocab: Vocab,
    text: str,
    layer: int | None = None,
    unit: int | None = None,
    source: str = "",
) -> dict:
    """Everything the page shows of a character LM reading ``text``, as JSON-ready data."""
    if not text:
        raise RnnkitError("the text is empty")
    ids = vocab.encode(text, what=source or "the text")
    states, probs = trace(model, ids)  # (N, L, H), (N, V)
    tr = Trace("text", list(text), states, probs, vocab.chars, "next character", describe(model.rnn))
    return page_from_traces([tr], "lm", model.cfg.to_dict(), source, layer, unit)


# What JSON may hold literally but a <script> must not: '<', '>', '&' (markup), and U+2028 and
# U+2029 (line ends to older JavaScript); each becomes its \uXXXX escape, which JSON reads back.
SCRIPT_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}


def embed_json(obj: object) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' appear literally."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).translate(SCRIPT_ESCAPES)


def template(name: str) -> str:
    return resources.files("rnnkit.viz").joinpath("templates", name).read_text(encoding="utf-8")


PLACEHOLDER = re.compile(r"__([A-Z_]+)__")  # __NAME__ in a page
# What the pages share, each a file in templates/ that ``__NAME__`` stands for in a page.
PIECES = {
    "PAGE_HEAD": "page_head.html",  # <!DOCTYPE html> to <title>__TITLE__</title>
    "UNITS_HEADER": "units_header.html",  # the heading the units pages' scripts fill in
    "UNITS_DATA": "units_data.html",  # units.js's tooltip, and the page's data (JSON, id "data")
    "UNITS_CSS": "units.css",  # the units pages' drawing code: the hidden units and the tooltip
    "UNITS_JS": "units.js",
}


def fill(page: str, **values: str) -> str:
    """``page`` with each ``__NAME__`` of ``PIECES`` replaced by that file, then each
    ``__NAME__`` replaced by ``values["NAME"]`` in one pass: a value that holds ``__OTHER__``
    (a user's text, say) is not replaced again, while a piece may hold a value's name
    (``__TITLE__``)."""
    page = PLACEHOLDER.sub(lambda m: template(PIECES[m[1]]) if m[1] in PIECES else m[0], page)
    return PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), page)


def render_html(data: dict) -> str:
    title = f"rnnkit inspect: {data['source']}" if data["source"] else "rnnkit inspect"
    return fill(template("inspect.html"), TITLE=html.escape(title), DATA=embed_json(data))


def read_embedded(html_text: str) -> dict:
    """The data embedded in a page written by ``render_html`` (for tests and tools)."""
    opening = '<script type="application/json" id="data">'
    start = html_text.index(opening) + len(opening)
    end = html_text.index("</script>", start)
    return json.loads(html_text[start:end])


def html_output(path: str | os.PathLike) -> Path:
    """The page file to write for ``--html path``: ``.html`` appended when it has no suffix.

    Only ``.html`` and ``.htm`` are accepted, and the path is checked (not a directory, a
    writable parent) before the model is loaded; see ``output_path.check_output``.
    """
    return check_output(path, HTML_SUFFIXES, ".html", "html_out")


def lm_run_text(
    run_dir: Path, text_file: Path | None, max_chars: int, which: str
) -> tuple[CharRNN, Vocab, str, str]:
    """``run_dir``'s LM and the text it is shown over: -> (model, vocab, text, source), the text
    being ``text_file`` (default: the run's validation text), at most ``max_chars`` characters of it."""
    model, vocab, c = load_lm(run_dir, which)
    if model.rnn.dirs != 1:
        raise RnnkitError("inspect needs a left-to-right model")
    if text_file is not None:
        text, source = read_text_file(text_file)[:max_chars], str(text_file)
    else:
        data_dir = Path(run_dir) / "data"
        if not (data_dir / "meta.json").is_file():
            raise RnnkitError(f"{run_dir} holds no prepared data; give the text with `text_file` FILE")
        prep = load_prepared(data_dir)
        ids = prep.val_ids()[:max_chars]
        if prep.vocab.chars != vocab.chars:
            raise RnnkitError(f"{data_dir} was prepared with another vocabulary; give `text_file` FILE")
        text, source = vocab.decode(ids), f"{run_dir} (validation text)"
    return model, vocab, text, source


def write_page(data: dict, html_out: Path) -> dict:
    """Write the page of ``data`` to ``html_out`` (atomically); returns ``data`` with ``"html"``
    the path written."""
    page = render_html(data)
    write_atomically(html_out, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return {**data, "html": html_out}
