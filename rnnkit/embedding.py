"""Embedding lookup: the one-hot product done as a row gather.

For ids x_t in {0..V-1} and a table E of shape (V, E_dim):

    onehot(x_t) @ E == E[x_t]             (forward: gather one row)
    dE = onehot(x)^T @ dY == scatter-add   (backward: add each dY row into row x_t)

The same identity gives ``W_ih @ onehot(x_t) == W_ih[:, x_t]``, which is how the first
RNN layer reads one-hot characters without ever building a one-hot matrix
(``tests/test_embedding.py`` proves both).
"""
from __future__ import annotations

import numpy as np


def onehot(ids: np.ndarray, V: int, dtype=np.float32) -> np.ndarray:
    """(…,) int -> (…, V) one-hot floats. For tests and teaching; the engine never calls it."""
    out = np.zeros(ids.shape + (V,), dtype=dtype)
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    return out


def gather_rows(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """table (V, E), ids (…,) -> (…, E)."""
    return np.take(table, ids, axis=0)


def scatter_add_rows(dtable: np.ndarray, ids: np.ndarray, drows: np.ndarray) -> None:
    """dtable (V, E) += sum of drows (…, E) into the rows named by ids (…,). Overwrites dtable.

    Repeated ids accumulate (``np.add.at`` is unbuffered, unlike ``dtable[ids] += …``).
    """
    dtable[...] = 0
    np.add.at(dtable, ids.reshape(-1), drows.reshape(-1, dtable.shape[1]))


def check_ids(ids: np.ndarray, V: int) -> None:
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids must be integers, got {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"ids must lie in [0, {V}), got range [{ids.min()}, {ids.max()}]")


class Embedding:
    """A learned table E (V, E_dim): y = E[x]. Parameter name ``weight`` as ``torch.nn.Embedding``.

    >>> emb = Embedding(5, 3, rng=np.random.default_rng(0))
    >>> y, cache = emb.forward(np.array([[1, 4]]))   # (T=1, B=2) -> (1, 2, 3)
    """

    def __init__(self, V: int, E: int, rng=None, dtype=np.float32):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.V, self.E = V, E
        self.params = {"weight": rng.standard_normal((V, E)).astype(dtype)}  # like torch: N(0, 1)
        self.grads = {"weight": np.zeros((V, E), dtype=dtype)}

    def forward(self, ids: np.ndarray):
        check_ids(ids, self.V)
        return gather_rows(self.params["weight"], ids), ids

    def backward(self, dy: np.ndarray, cache):
        scatter_add_rows(self.grads["weight"], cache, dy)
        return None, self.grads
