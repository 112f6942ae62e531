"""``rnnkit.load``: any run or checkpoint directory as a ready model of the right class."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.train import checkpoint as ckpt

from .base import Model, read_history
from .char_lm import CharLM
from .classifier import Classifier
from .generator import Generator
from .seq2seq import Seq2Seq
from .tagger import Tagger

CLASSES: dict[str, type[Model]] = {
    "lm": CharLM,
    "classify": Classifier,
    "tag": Tagger,
    "seq2seq": Seq2Seq,
    "generate": Generator,
}


def load(path: str | os.PathLike, which: str = "best") -> Model:
    """The model saved at ``path``: a run directory (from ``rnnkit train``, a form's ``train``
    or ``Model.save``; its ``best`` checkpoint, or ``which="last"``) or a checkpoint
    directory. A run directory's model continues its run when ``fit`` is called again.
    """
    if which not in ("best", "last"):
        raise RnnkitError(f"`which` must be 'best' or 'last', got {which!r}")
    c = ckpt.load(path, which=which)
    task = c.config.get("task")
    if task not in CLASSES:
        raise RnnkitError(f"{c.dir} holds a model of task {task!r}, which rnnkit cannot load")
    cls = CLASSES[task]
    settings = inspect.signature(cls).parameters
    model = cls(**{k: v for k, v in c.config.get("train", {}).items() if k in settings})
    model._load(c.dir)
    run = Path(path)
    if ckpt.is_run_dir(run):
        model._run = run.resolve()
        model.history = read_history(model._run)
    return model
