"""How the command line shows rnnkit's errors and warnings: one line each, parameters as flags.

Library messages name parameters in backquotes (``rnnkit/errors.py``). Here each name becomes
the flag that sets it:

- a training option's flag, as ``options.flag_of`` makes it (``max_steps`` -> ``--max-steps``,
  ``val_files`` -> ``--val``, ``carry`` -> ``--no-carry``, the positional ``files``);
- ``FLAGS`` below, for a viz function's parameter that its verb spells another way;
- otherwise ``--`` and the name with dashes (``max_chars`` -> ``--max-chars``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from rnnkit.errors import RnnkitError, RnnkitWarning, render
from rnnkit.train.lm_config import TrainConfig
from rnnkit.train.options import flag_of
from rnnkit.train.task_config import TaskTrainConfig

OPTION_CLASSES = (TrainConfig, TaskTrainConfig)  # their fields are the training flags
FLAGS = {  # parameter -> flag, where the default rule would name another
    "output": "-o",
    "json_out": "--json",
    "html_out": "--html",
    "text_file": "--text",
    "run_dir": "DIR",
}


def flag(name: str) -> str:
    """The flag (or positional) that sets the parameter ``name``."""
    if name in FLAGS:
        return FLAGS[name]
    for cls in OPTION_CLASSES:
        if name in cls.__dataclass_fields__:
            return flag_of(cls, name)
    return "--" + name.replace("_", "-")


def error_line(e: RnnkitError) -> str:
    return f"rnnkit: error: {render(e.message, flag)}"


def warning_lines(previous: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints an ``RnnkitWarning`` as one line on stderr,
    "rnnkit: warning: ...", and hands any other warning to ``previous``."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if isinstance(message, RnnkitWarning):
            print(f"rnnkit: warning: {render(message.message, flag)}", file=file or sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    return show
