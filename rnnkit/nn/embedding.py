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
from numpy.typing import DTypeLike

from ..errors import RnnkitError


def onehot(ids: np.ndarray, V: int, dtype: DTypeLike = np.float32) -> np.ndarray:
    """(…,) int -> (…, V) one-hot floats. For tests and teaching; the engine never calls it."""
    out = np.zeros(ids.shape + (V,), dtype=dtype)
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    return out


def gather_rows(
    table: np.ndarray, ids: np.ndarray, out: np.ndarray | None = None, checked: bool = False
) -> np.ndarray:
    """table (V, E), ids (…,) -> (…, E), written into ``out`` when given.

    Out-of-range ids raise. Callers that ran ``check_ids`` first pass ``checked=True``: then
    ``np.take`` runs with ``mode="clip"``, which writes straight into ``out`` (the default
    ``mode="raise"`` gathers into a temporary and copies it over: measured 5-7x slower).
    """
    return np.take(table, ids, axis=0, out=out, mode="clip" if checked else "raise")


# Below this vocabulary size the scatter-add is done as one GEMM with a one-hot matrix:
# 2·N·V·E flops, but BLAS runs them at full speed, while np.add.at walks the N rows one by one
# (measured with B*T = 2048, E = 128..1024, V = 65: the GEMM is 10-15x faster than np.add.at).
# Above it, rows are sorted by id and summed per id with np.add.reduceat (no V-wide matrix).
# Either way a row's contributions are summed; x*1 and y*0 are exact, so only the order of
# the float additions differs from np.add.at.
ONEHOT_GEMM_MAX_V = 256


def _onehot_rows(ids: np.ndarray, V: int, dtype) -> np.ndarray:
    """ids (N,) -> (N, V) one-hot, built with one fancy-index write."""
    oh = np.zeros((ids.size, V), dtype=dtype)
    oh[np.arange(ids.size), ids] = 1
    return oh


def _sorted_segments(ids: np.ndarray):
    """ids (N,) -> (order, unique ids u (K,), segment starts (K,)) of the id-sorted rows."""
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    return order, s[starts], starts


def scatter_add_rows(dtable: np.ndarray, ids: np.ndarray, drows: np.ndarray) -> None:
    """dtable (V, E) = onehot(ids)^T @ drows: the sum of drows (…, E) into the rows named by
    ids (…,). Overwrites dtable. Repeated ids accumulate (as ``np.add.at`` does).
    """
    _scatter_add(dtable, ids, drows, transposed=False)


def scatter_add_cols(dtableT: np.ndarray, ids: np.ndarray, drows: np.ndarray) -> None:
    """dtableT (E, V) = drows^T @ onehot(ids): ``scatter_add_rows`` into a transposed table.

    This is ``dW_ih`` (H, V) of an RNN layer reading one-hot ids: column c collects every
    dz_t (H,) whose input was c. Overwrites dtableT.
    """
    _scatter_add(dtableT, ids, drows, transposed=True)


def _scatter_add(out: np.ndarray, ids: np.ndarray, drows: np.ndarray, transposed: bool) -> None:
    """out (V, E), or (E, V) when ``transposed``, = the per-id sums of drows (…, E)."""
    V = out.shape[1] if transposed else out.shape[0]
    ids = ids.reshape(-1)  # (N,)
    d = drows.reshape(ids.size, -1)  # (N, E)
    if ids.size == 0:
        out[...] = 0
    elif V <= ONEHOT_GEMM_MAX_V:
        oh = _onehot_rows(ids, V, out.dtype)  # (N, V)
        if transposed:
            np.matmul(d.T, oh, out=out)  # (E, N) @ (N, V)
        else:
            np.matmul(oh.T, d, out=out)  # (V, N) @ (N, E)
    else:
        order, u, starts = _sorted_segments(ids)
        out[...] = 0
        rows = out.T if transposed else out  # (V, E) view
        rows[u] = np.add.reduceat(d[order], starts, axis=0)  # (K, E)


def check_ids(ids: np.ndarray, V: int) -> None:
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids must be integers, got {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise RnnkitError(f"ids must lie in [0, {V}), got range [{ids.min()}, {ids.max()}]")


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

    def forward(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_ids(ids, self.V)
        return gather_rows(self.params["weight"], ids, checked=True), ids

    def backward(self, dy: np.ndarray, cache: np.ndarray) -> tuple[None, dict[str, np.ndarray]]:
        scatter_add_rows(self.grads["weight"], cache, dy)
        return None, self.grads
