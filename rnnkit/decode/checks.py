"""The checks every decoding entry point makes on its settings, in one place.

Each refusal is one ``RnnkitError`` line naming the setting (``temperature``, ...), which the
command line shows as its flag (``--temperature``).
"""

from __future__ import annotations

import math

from rnnkit.errors import RnnkitError


def check_sampling(
    length: int,
    temperature: float,
    top_k: int = 0,
    top_p: float = 1.0,
    beam: int = 0,
    seed: int | None = None,
) -> None:
    """``length`` >= 0; ``temperature`` finite and >= 0 (0 is greedy); ``top_k`` >= 0 (0: all);
    ``top_p`` in (0, 1]; ``beam`` >= 0 (0: sample); ``seed`` None or >= 0."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise RnnkitError(f"`length` must be a non-negative integer, got {length!r}")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
        raise RnnkitError(
            f"`temperature` must be a finite non-negative number (0 is greedy), got {temperature!r}"
        )
    if not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise RnnkitError(f"`top_p` must lie in (0, 1], got {top_p!r}")
    for name, v in (("top_k", top_k), ("beam", beam)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise RnnkitError(f"`{name}` must be a non-negative integer, got {v!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise RnnkitError(f"`seed` must be None or a non-negative integer, got {seed!r}")
