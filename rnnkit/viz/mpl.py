"""matplotlib as an optional extra (``pip install 'rnnkit[plot]'``), imported only when a plot is drawn.

The non-interactive Agg backend is selected, so plots render on machines without a display.
``figure_output`` checks an output path before a figure is drawn (matplotlib would only
fail at ``savefig``, after the work), and ``save_figure`` writes it atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from rnnkit.errors import RnnkitError

from .output_path import check_output, one_line, write_atomically

if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.figure import Figure

INSTALL_HINT = "plotting needs matplotlib: pip install 'rnnkit[plot]'"


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` with the Agg backend, or a ``RnnkitError`` naming the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise RnnkitError(INSTALL_HINT) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def figure_output(path: str | os.PathLike, name: str = "output") -> Path:
    """The image file to write for ``path``: ``.png`` appended when it has no suffix.

    Raises a ``RnnkitError`` (naming the parameter ``name``) for a suffix matplotlib cannot
    write, a directory, or an unwritable parent, so a bad path fails before any work is done.
    """
    pyplot()  # matplotlib installed, or the install hint
    from matplotlib.figure import Figure

    suffixes = ["." + ext for ext in Figure().canvas.get_supported_filetypes()]  # .png, .pdf, .svg, ...
    return check_output(path, suffixes, ".png", name)


def save_figure(fig: Figure, path: Path) -> Path:
    """Save ``fig`` to ``path`` (from ``figure_output``) atomically, in the format its suffix names."""
    fmt = Path(path).suffix[1:].lower()

    def write(tmp: Path) -> None:
        try:
            fig.savefig(tmp, format=fmt)  # explicit: the temporary name has no real suffix
        except RuntimeError as e:  # e.g. .pgf without a LaTeX installation
            raise RnnkitError(f"cannot write {path} as {fmt}: {one_line(e)}") from None

    return write_atomically(path, write)
