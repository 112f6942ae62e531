"""The ``rnnkit`` command line: one parser, one sub-command per verb.

Every verb module exposes ``add_parser(subparsers)`` that registers its flags and sets
``func``. Errors in the user's input (a ``UserError``, or a bad flag) end with one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rnnkit.errors import UserError

# Modules that register verbs. A module that fails to import for a missing optional
# dependency is skipped, and its verb then says which extra to install.
VERB_MODULES = ["rnnkit.cli.lm", "rnnkit.cli.viz", "rnnkit.cli.tasks"]


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="rnnkit",
        description="Vanilla RNNs and character language models in NumPy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = p.add_subparsers(dest="verb", metavar="VERB", parser_class=Parser)
    sub.required = True
    for name in VERB_MODULES:
        importlib.import_module(name).add_parser(sub)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `rnnkit sample ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
