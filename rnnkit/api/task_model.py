"""What the four form models of the Python API share: examples in, the task trainer, a form.

A form model (``Classifier``, ``Tagger``, ``Seq2Seq``, ``Generator``) is fitted on lists of
field pairs, the rows of its verb's TSV (``text<TAB>label``, ...). They are written to a
temporary TSV and trained by the same trainer as ``rnnkit classify train`` and the others,
which keeps a copy in the run (``RUN/data/``) so the run resumes, from Python or the CLI,
without them. Prediction and scoring go through the verb's ``Form`` (``rnnkit.train.forms``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError
from rnnkit.train.load_task import load_task
from rnnkit.train.task_config import TaskTrainConfig
from rnnkit.train.task_trainer import train

from .base import Model, settings_signature

Pairs = list[tuple[str, str]]
# The settings of the form models' shared backbone, in the order of their constructors' parameters.
BACKBONE = ("hidden", "layers", "bidirectional", "embed", "dropout")


class TaskModel(Model):
    """A form's model; a subclass sets ``verb`` and ``fields`` (the names of its two columns)."""

    verb = ""
    fields: tuple[str, str] = ("", "")
    config_class = TaskTrainConfig
    data_fields = ("data", "val")

    # The backbone's settings, as ``rnnkit VERB train`` 's flags (a form may add its own).
    __signature__ = settings_signature(TaskTrainConfig, BACKBONE)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._form = None  # the verb's Form, with the vocabularies
        self._engine = ("numpy", None)  # (engine, device) the trainer runs on

    @property
    def task(self) -> str:  # config.json's task is the verb
        return self.verb

    def fit(
        self,
        inputs: Sequence,
        targets: Sequence,
        val: tuple[Sequence, Sequence] | None = None,
        *,
        out: str | os.PathLike | None = None,
        force: bool = False,
        verbose: bool = True,
        **train_args: Any,
    ) -> TaskModel:
        """Train on the examples (``inputs[i]``, ``targets[i]``), named by ``fields``: texts and
        labels for a ``Classifier``, texts and tags for a ``Tagger``, sources and targets for a
        ``Seq2Seq``, labels and texts for a ``Generator``. ``val`` = (inputs, targets) is the
        validation set (else ``val_fraction`` of the examples is held out). ``train_args``: the
        verb's training settings, named like its flags (``max_steps``, ``minutes``, ``batch``,
        ``lr``, ``seed``, ...; and ``engine``, ``device``). A second call continues the run on the
        same examples."""
        pairs = self._pairs(inputs, targets)
        held = self._pairs(*val) if val is not None else None
        engine = train_args.pop("engine", "numpy"), train_args.pop("device", None)
        if self._run is not None:
            self._check_same_inputs((pairs, held))
            self._engine = engine
            return self._fit({}, train_args, out, force, verbose)
        with tempfile.TemporaryDirectory(prefix="rnnkit-tsv-") as tmp:
            data = {"data": write_tsv(pairs, Path(tmp) / "train.tsv", self.fields), "verb": self.verb}
            if held is not None:
                data["val"] = write_tsv(held, Path(tmp) / "val.tsv", self.fields)
            self._inputs, self._engine = (pairs, held), engine
            return self._fit(data, train_args, out, force, verbose)

    def _start(self, cfg: TaskTrainConfig, out: Path, force: bool, log) -> int:
        engine, device = self._engine
        return train(
            cfg, out, force=force, log=log, engine=engine, device=device, keep_data=True, stop_lines=False
        )

    def _resume(self, run: Path, given: dict, log) -> int:
        engine, device = self._engine
        return train(
            None, run, resume=True, given=given, log=log, engine=engine, device=device, stop_lines=False
        )

    def _load(self, path: Path) -> None:
        self._form, self.model, c = load_task(path, self.verb)
        self._checkpoint = c.dir

    def _ready(self) -> None:
        if self.model is None:
            raise RnnkitError(f"this {type(self).__name__} has no weights yet: fit or load it first")

    def _pairs(self, inputs: Sequence, targets: Sequence) -> Pairs:
        return pairs_of(inputs, targets, self.fields)

    def evaluate(self, inputs: Sequence, targets: Sequence, **kw: Any) -> dict:
        """The verb's ``eval --json`` dict for these examples (``accuracy`` for a classifier or
        a tagger, ``exact_match`` and ``token_error_rate`` for seq2seq, ``nll`` for a generator)."""
        self._ready()
        pairs = self._pairs(inputs, targets)
        data = self._form.encode(pairs, "the examples")
        r = self._form.evaluate(self.model, data, pairs, **kw)
        r["checkpoint"] = str(self._checkpoint)
        return r


def pairs_of(first: Sequence, second: Sequence, names: tuple[str, str]) -> Pairs:
    """Two equally long sequences of strings -> their rows; anything else is refused in one line."""
    first, second = list(first), list(second)
    if len(first) != len(second):
        raise RnnkitError(
            f"`{names[0]}` has {len(first)} items but `{names[1]}` has {len(second)}; give one per example"
        )
    if not first:
        raise RnnkitError(f"`{names[0]}` is empty: give at least one example")
    return list(zip(first, second))


def write_tsv(pairs: Pairs, path: Path, names: tuple[str, str]) -> str:
    """Write ``pairs`` as the verb's TSV; -> its path. A field that is not a non-empty string
    without TAB or line breaks cannot be a TSV field, and is refused naming it."""
    lines = []
    for i, row in enumerate(pairs):
        for name, value in zip(names, row):
            if not isinstance(value, str):
                raise RnnkitError(f"`{name}`[{i}] is a {type(value).__name__}, not a str")
            if value == "" or any(c in value for c in "\t\n\r"):
                what = "is empty" if value == "" else "holds a TAB or a line break"
                raise RnnkitError(f"`{name}`[{i}] {what}; each example is one line of a TSV")
        lines.append("\t".join(row) + "\n")
    try:
        path.write_bytes("".join(lines).encode("utf-8"))
    except UnicodeEncodeError as e:
        raise RnnkitError(f"an example cannot be encoded as UTF-8: {e.reason}") from None
    return os.fspath(path)
