"""``rnnkit.CharLM``: the character language model of ``rnnkit train`` as a Python object.

    p(c_{t+1} | c_1..c_t) = softmax(W_hy h_t),   h_t = tanh(W_h [h_{t-1}; x_t])

trained by truncated BPTT on a text (``fit``), scored in nats per character (``evaluate``),
and sampled one character at a time (``sample``), by the code the CLI runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from rnnkit.data.corpus import iter_text_file
from rnnkit.decode.lm import default_prime, sample_text
from rnnkit.decode.sampler import Sampling
from rnnkit.errors import RnnkitError
from rnnkit.train.evaluate import evaluate_text
from rnnkit.train.lm_config import TrainConfig
from rnnkit.train.lm_trainer import train
from rnnkit.train.load_lm import load_lm

from .base import Model, settings_signature

TextOrPaths = str | os.PathLike | list


class CharLM(Model):
    """A character-level RNN language model: one-hot (or ``embed``-wide) characters into
    ``layers`` tanh RNN layers of ``hidden`` units, and a softmax over the characters.

    >>> lm = CharLM(hidden=64, layers=1).fit("abcabcabc" * 300, max_steps=60, batch=8,
    ...                                      seq_len=16, progress=False, verbose=False)
    >>> lm.sample("ab", length=7, temperature=0)
    'abcabcabc'
    """

    task = "lm"
    config_class = TrainConfig
    data_fields = ("files", "val_files")
    # `bidirectional` is no setting of a language model: it is a parameter, as in the form
    # models, only so that True is refused with the reason.
    __signature__ = settings_signature(
        TrainConfig, ("hidden", "layers", "embed", "dropout"), bidirectional=False
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self._settings.pop("bidirectional"):
            raise RnnkitError(
                "a language model predicts each character from the ones before it; a bidirectional "
                "layer would read the character it is asked to predict (`bidirectional` must be False)"
            )
        self.vocab = None  # the model's Vocab, once fitted or loaded

    # ------------------------------------------------------------------ train
    def fit(
        self,
        text: TextOrPaths | None = None,
        val: TextOrPaths | None = None,
        *,
        out: str | os.PathLike | None = None,
        force: bool = False,
        verbose: bool = True,
        **train_args: Any,
    ) -> CharLM:
        """Train on ``text`` (a ``str`` is the text itself; a path, or a list of paths, is read as
        ``rnnkit train`` reads files), holding out ``val_fraction`` of it, or ``val``, for
        validation. ``train_args`` are ``rnnkit train`` 's settings, named like its flags:
        ``max_steps``, ``minutes``, ``seq_len``, ``batch``, ``lr``, ``seed``, ... A second call
        continues the run on the same text (``text`` may then be left out)."""
        if self._run is not None:
            if text is not None or val is not None:
                self._check_same_inputs((text, val))
            return self._fit({}, train_args, out, force, verbose)
        if text is None:
            raise RnnkitError("give the text to train on: CharLM().fit(text) or .fit([paths])")
        with tempfile.TemporaryDirectory(prefix="rnnkit-text-") as tmp:
            data = {"files": _as_files(text, Path(tmp) / "train.txt")}
            if val is not None:
                data["val_files"] = _as_files(val, Path(tmp) / "val.txt")
            self._inputs = (text, val)
            return self._fit(data, train_args, out, force, verbose)

    def _start(self, cfg: TrainConfig, out: Path, force: bool, log) -> int:
        return train(cfg, out, force=force, log=log, stop_lines=False)

    def _resume(self, run: Path, given: dict, log) -> int:
        return train(TrainConfig(), run, resume=run, given=given, log=log, stop_lines=False)

    def _load(self, path: Path) -> None:
        self.model, self.vocab, c = load_lm(path)
        self._checkpoint = c.dir

    def _ready(self) -> None:
        if self.model is None:
            raise RnnkitError("this CharLM has no weights yet: fit or load it first")

    # --------------------------------------------------------------- use it
    def evaluate(self, text: TextOrPaths, unknown: str = "error") -> dict:
        """Score ``text`` (a ``str``, or a file path) read as one sequence from a zero state:
        the dict ``rnnkit eval --json`` prints (``loss_nats``, ``bpc``, ``perplexity``,
        ``chars``, ``predictions``, ``skipped``, ``checkpoint``). A character outside the
        vocabulary is refused (``unknown="error"``) or left out and counted (``"skip"``)."""
        self._ready()
        if isinstance(text, str):
            pieces, what = [text], "the text"
        else:
            pieces, what = iter_text_file(text), str(text)
        r = evaluate_text(self.model, self.vocab, pieces, what, unknown)
        r["checkpoint"] = str(self._checkpoint)
        return r

    def sample(
        self,
        prime: str = "",
        length: int = 200,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        beam: int = 0,
    ) -> str:
        """``prime`` followed by ``length`` generated characters, each drawn from
        softmax(logits / ``temperature``) (0: the most likely one), among the ``top_k`` most
        likely (0: all) and the smallest set holding ``top_p`` of the probability; ``beam`` > 0
        searches for the most likely continuation instead. With no prime, generation starts
        after a newline (``rnnkit sample`` 's default) and the result holds only the new text;
        ``rnnkit sample`` prints the same characters for the same settings and seed."""
        self._ready()
        start = prime or default_prime(self.vocab)
        sampling = Sampling(temperature, top_k, top_p, beam=beam, seed=seed)
        return prime + sample_text(self.model, self.vocab, start, length, sampling)


def _as_files(text: TextOrPaths, spill: Path) -> list[str]:
    """A ``str`` is written to ``spill`` (the trainer reads files); paths are kept."""
    if isinstance(text, str):
        if text == "":
            raise RnnkitError("the text to train on is empty")
        try:
            spill.write_bytes(text.encode("utf-8"))  # bytes: no newline translation
        except UnicodeEncodeError as e:
            raise RnnkitError(
                f"the text cannot be encoded as UTF-8 at offset {e.start}: {e.reason}"
            ) from None
        return [str(spill)]
    paths = [text] if isinstance(text, os.PathLike) else list(text)
    if not paths:
        raise RnnkitError("no files given to train on")
    return [os.fspath(p) for p in paths]
