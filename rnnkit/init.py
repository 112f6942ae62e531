"""Weight initialisations.

- ``uniform``: every RNN weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), as ``torch.nn.RNN``.
- ``orthogonal``: W_hh is a random orthogonal matrix (QR of a Gaussian), so repeated
  multiplication by W_hh neither shrinks nor grows a vector at initialisation.
- ``identity``: W_hh = I (Le, Jaitly & Hinton 2015, "IRNN"); the state is copied forward.
  The input weights and biases keep the uniform initialisation in every scheme.
"""
from __future__ import annotations

import numpy as np

RECURRENT_INITS = ("uniform", "orthogonal", "identity")


def uniform(rng: np.random.Generator, shape, bound: float, dtype) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def recurrent(rng: np.random.Generator, H: int, scheme: str, dtype) -> np.ndarray:
    """An (H, H) recurrent matrix for the named scheme."""
    if scheme == "uniform":
        return uniform(rng, (H, H), 1.0 / np.sqrt(H), dtype)
    if scheme == "orthogonal":
        q, r = np.linalg.qr(rng.standard_normal((H, H)))
        q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
        return q.astype(dtype)
    if scheme == "identity":
        return np.eye(H, dtype=dtype)
    raise ValueError(f"unknown recurrent init {scheme!r}; choose one of {', '.join(RECURRENT_INITS)}")
