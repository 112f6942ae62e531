"""matplotlib as an optional extra (``pip install 'rnnkit[plot]'``), imported only when a plot is drawn.

The non-interactive Agg backend is selected, so plots render on machines without a display.
"""
from __future__ import annotations

from .errors import UserError

INSTALL_HINT = "plotting needs matplotlib: pip install 'rnnkit[plot]'"


def pyplot():
    """``matplotlib.pyplot`` with the Agg backend, or a ``UserError`` naming the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def png_size(path) -> tuple[int, int]:
    """(width, height) in pixels from a PNG file's IHDR header."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
