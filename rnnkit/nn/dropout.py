"""Inverted dropout, as ``torch.nn.Dropout``: in training each unit is kept with probability
1 - p and scaled by 1/(1 - p), so its expected value is unchanged and evaluation needs no
rescaling.

    y = x ⊙ m,   m_i = [u_i >= p] / (1 - p),   u_i ~ U[0, 1)
    dL/dx = dL/dy ⊙ m        (the caller keeps m for its backward pass)

Locked (variational) dropout, Gal & Ghahramani 2016: for a sequence x (T, B, ...) one mask
per sequence, m (1, B, ...), drawn once and used at every time step, so a unit dropped at
t = 1 stays dropped for the whole sequence (``locked=True``). The same formulas hold with m
broadcast over T.

DropConnect on a weight matrix (Wan et al. 2013; AWD-LSTM's weight drop) is the same
function applied to the weight: W~ = W ⊙ m, one mask per batch, and dL/dW = dL/dW~ ⊙ m.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike


def dropout(
    x: np.ndarray,
    p: float,
    train: bool,
    rng: np.random.Generator | None,
    dtype: DTypeLike,
    locked: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """x (any shape) -> (y, m): ``(x ⊙ m, m)`` when training with p > 0, else ``(x, None)``.

    ``rng`` draws m; None draws from a fresh, unseeded generator. ``locked``: x is (T, B, ...)
    and m (1, B, ...), one mask per sequence shared by all T steps.
    """
    if not train or p <= 0:
        return x, None
    m = keep_mask((1,) + x.shape[1:] if locked else x.shape, p, rng, dtype)
    return x * m, m


def keep_mask(
    shape: tuple[int, ...], p: float, rng: np.random.Generator | None, dtype: DTypeLike
) -> np.ndarray:
    """m of ``shape``: m_i = [u_i >= p] / (1 - p), u_i ~ U[0, 1) drawn from ``rng`` (None: a
    fresh, unseeded generator)."""
    rng = rng if rng is not None else np.random.default_rng()
    return (rng.random(shape) >= p).astype(dtype) / (1 - p)
