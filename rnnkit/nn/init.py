"""Weight initialisations.

- ``uniform``: every RNN weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), as ``torch.nn.RNN``.
- ``orthogonal``: W_hh is a random orthogonal matrix (QR of a Gaussian), so repeated
  multiplication by W_hh neither shrinks nor grows a vector at initialisation.
- ``identity``: W_hh = I (Le, Jaitly & Hinton 2015, "IRNN"); the state is copied forward.
  The input weights and biases keep the uniform initialisation in every scheme.

One exception, for one-hot input (``INPUT_INITS``): there layer 0's ``W_ih`` (H, V) is an
embedding table, column c the vector character c adds to the pre-activation, and it is
drawn as ``torch.nn.Embedding`` draws its table, N(0, 1) (``onehot_input``), not
U(-1/sqrt(H), 1/sqrt(H)). Our reading of why (not isolated by experiment): with the
uniform bound a character moves each pre-activation by about 1/sqrt(3H) (0.036 at H=256),
so at the start the input barely reaches the state, and Adam, which moves every weight by
about the learning rate per step, grows those columns no faster than any other weight. An
E-wide embedding in front gets the same effect from E weights per unit at once. Measured on
the default corpus, 600 steps, lr 2e-3, validation nats/char, uniform -> N(0, 1):
2x256 2.295 -> 1.599, 2x512 1.912 -> 1.463, 1x1024 2.368 -> 1.486 (``docs/input_init.md``).
The task models redraw every one-hot input's columns the same way (``redraw_onehot_input``);
seq2seq, where it measured worse, defaults to uniform (``train/task_config.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import DTypeLike

RECURRENT_INITS = ("uniform", "orthogonal", "identity")
INPUT_INITS = ("normal", "uniform")  # layer 0's W_ih under one-hot input


def uniform(rng: np.random.Generator, shape: tuple[int, ...], bound: float, dtype: DTypeLike) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def recurrent(rng: np.random.Generator, H: int, scheme: str, dtype: DTypeLike) -> np.ndarray:
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


def onehot_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
    """Layer 0's W_ih (H, V) for one-hot input: every entry ~ N(0, 1), as ``torch.nn.Embedding``."""
    return rng.standard_normal(shape).astype(dtype)


def check_input_init(value: str) -> None:
    """A model config's ``input_init`` must name one of ``INPUT_INITS`` (a ValueError naming
    it)."""
    if value not in INPUT_INITS:
        raise ValueError(f"input_init must be one of {', '.join(INPUT_INITS)}, got {value!r}")


def redraw_onehot_input(
    weights: Iterable[np.ndarray], rng: np.random.Generator, cols: slice = slice(None)
) -> None:
    """In place, for each W_ih (H, D) in ``weights`` in turn (one per direction): the columns
    ``cols``, those that one-hot input selects, are redrawn N(0, 1) (``onehot_input``).

    Models call it after building their stack and before anything else draws, when the
    config's ``input_init`` is ``normal``; with ``uniform`` nothing is redrawn.
    """
    for W in weights:
        W[:, cols] = onehot_input(rng, W[:, cols].shape, W.dtype)
