"""Which task a run or checkpoint trained, read from its ``config.json`` without loading the model.

Each insight verb draws the LM and the forms (classify, generate, seq2seq, tag) differently;
this is how it tells them apart before loading anything.
"""

from __future__ import annotations

import json
from pathlib import Path

from rnnkit.train import checkpoint as ckpt


def checkpoint_config(ckpt_dir: Path) -> dict:
    """A checkpoint directory's ``config.json`` as a dict; {} when it cannot be read."""
    try:
        obj = json.loads((Path(ckpt_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return obj if isinstance(obj, dict) else {}


def task_of(path: str | Path, which: str = "best") -> str | None:
    """The task (``lm`` or a form's verb) of a run directory's ``which`` checkpoint, or of a
    checkpoint directory; None when its ``config.json`` does not say (loading it then says why).
    A path that holds no checkpoint is a ``RnnkitError`` (``checkpoint.resolve``)."""
    task = checkpoint_config(ckpt.resolve(path, which)).get("task")
    return task if isinstance(task, str) else None
