"""``rnnkit plot``, ``rnnkit inspect``, ``rnnkit gradflow`` and ``rnnkit serve``: looking inside a model.

Each verb lives in its own module and registers itself with ``add_parser``; this module
only lists them. matplotlib (for ``plot`` and ``gradflow``) is imported when a plot is
drawn, so the verbs exist, and say what to install, without it.

Output files (``-o``, ``--json``, ``--html``) are checked before any work by
``output_path.check_output`` (suffix, not a directory, an existing writable parent; a missing suffix
becomes ``.png`` or ``.html``) and written atomically, so a bad path is one error line.
"""

from __future__ import annotations

from rnnkit.viz import gradflow, inspect_units, plot_curves, serve


def add_parser(sub) -> None:
    for module in (plot_curves, inspect_units, gradflow, serve):
        module.add_parser(sub)
