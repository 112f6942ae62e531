"""Inverted dropout, as ``torch.nn.Dropout``: in training each unit is kept with probability
1 - p and scaled by 1/(1 - p), so its expected value is unchanged and evaluation needs no
rescaling.

    y = x ⊙ m,   m_i = [u_i >= p] / (1 - p),   u_i ~ U[0, 1)
    dL/dx = dL/dy ⊙ m        (the caller keeps m for its backward pass)
"""

from __future__ import annotations

import numpy as np


def dropout(x: np.ndarray, p: float, train: bool, rng: np.random.Generator | None, dtype):
    """x (any shape) -> (y, m): ``(x ⊙ m, m)`` when training with p > 0, else ``(x, None)``.

    ``rng`` draws m; None draws from a fresh, unseeded generator.
    """
    if not train or p <= 0:
        return x, None
    rng = rng if rng is not None else np.random.default_rng()
    m = (rng.random(x.shape) >= p).astype(dtype) / (1 - p)
    return x * m, m
