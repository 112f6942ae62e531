"""The flags of every ``train`` verb: one per option of its configuration, group by group,
with the run directory's --out, --resume and --force (not part of the config) in "run"."""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.train.options import add_flags
from rnnkit.train.settings import TrainSettings


def add_train_flags(
    p: argparse.ArgumentParser,
    defaults: TrainSettings,
    groups: tuple[str, ...],
    out_help: str,
    resume_note: str = "",
    verb: str | None = None,
    words: dict | None = None,
) -> None:
    """Add the argparse ``groups``, in this order, each with the flags of ``defaults``' options
    in it (``options.add_flags``; ``verb`` and ``words`` are passed on), the run group
    beginning with --out (``out_help``), --resume and --force."""
    for name in groups:
        g = p.add_argument_group(name)
        if name == "run":
            g.add_argument("--out", type=Path, help=out_help)
            g.add_argument(
                "--resume",
                type=Path,
                metavar="DIR",
                help="continue the run in DIR exactly where its last checkpoint left it" + resume_note,
            )
            g.add_argument(
                "--force",
                action="store_true",
                default=False,
                help="start over in an existing --out directory, deleting its checkpoints",
            )
        add_flags(g, name, defaults, verb, words)
