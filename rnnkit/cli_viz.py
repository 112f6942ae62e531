"""``rnnkit plot``, ``rnnkit inspect``, ``rnnkit gradflow`` and ``rnnkit serve``: looking inside a model.

Each verb lives in its own module and registers itself with ``add_parser``; this module
only lists them. matplotlib (for ``plot`` and ``gradflow``) is imported when a plot is
drawn, so the verbs exist, and say what to install, without it.
"""
from __future__ import annotations

from . import gradflow, inspect_units, plot_curves, serve


def add_parser(sub) -> None:
    for module in (plot_curves, inspect_units, gradflow, serve):
        module.add_parser(sub)
