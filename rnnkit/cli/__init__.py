"""The ``rnnkit`` command line: one parser, one sub-command per verb.

Every verb module exposes ``add_parser(subparsers)`` that registers its flags and sets
``func``. Errors in the user's input (a bad flag, or an ``RnnkitError`` from the library)
end with one line on stderr and exit status 2, never a traceback; a training run that
fails (``TrainingFailed``) ends with one line and exit status 1. Library warnings
(``RnnkitWarning``) are one line each. ``messages.py`` shows the parameters they name as flags.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from rnnkit.cli import messages
from rnnkit.errors import RnnkitError, RnnkitWarning, TrainingFailed
from rnnkit.torch.distributed import launched_rank
from rnnkit.version import __version__

# Modules that register verbs. A module that fails to import for a missing optional
# dependency is skipped, and its verb then says which extra to install.
VERB_MODULES = ["rnnkit.cli.lm", "rnnkit.cli.viz", "rnnkit.cli.tasks"]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="rnnkit",
        description="Vanilla RNNs and character language models in NumPy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB", parser_class=Parser)
    sub.required = True
    for name in VERB_MODULES:
        importlib.import_module(name).add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", RnnkitWarning)  # each one, as it happens
        warnings.showwarning = messages.warning_lines(warnings.showwarning)
        return _run(args)


def _run(args) -> int:
    try:
        return int(args.func(args) or 0)
    except RnnkitError as e:
        # Every torchrun rank stops on a failed run; rank 0 alone says why, as it alone logs.
        if not (isinstance(e, TrainingFailed) and launched_rank() != 0):
            print(messages.error_line(e), file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `rnnkit sample ... | head`
        return 0
