"""Softmax and cross-entropy fused into one numerically stable step.

For logits y (N, V), integer targets c (N,) and a 0/1 mask m (N,):

    log p_i = y_i - max(y_i) - log sum_j exp(y_ij - max(y_i))     (shift: exp never overflows)
    loss    = - sum_i m_i log p_i[c_i] / sum_i m_i                 (nats per counted position)
    dloss/dy_i = m_i (softmax(y_i) - onehot(c_i)) / sum_i m_i

Computing the gradient as ``softmax - onehot`` instead of chaining the softmax Jacobian
with d(-log p) is both cheaper and exact.
"""

from __future__ import annotations

import numpy as np

from ..errors import RnnkitError


def log_softmax(y: np.ndarray) -> np.ndarray:
    """Stable log-softmax over the last axis."""
    z = y - y.max(axis=-1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return z


def softmax(y: np.ndarray) -> np.ndarray:
    z = np.exp(y - y.max(axis=-1, keepdims=True))
    z /= z.sum(axis=-1, keepdims=True)
    return z


def softmax_cross_entropy(
    logits: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None, need_grad: bool = True
) -> tuple[float, float, float, np.ndarray | None]:
    """logits (…, V), targets (…,) int, mask (…,) or None.

    Returns (mean_loss, total_nats, count, dlogits). ``dlogits`` has the shape of
    ``logits`` and is None when ``need_grad`` is false. With every position masked out the
    loss is 0 and the gradient is 0.
    """
    V = logits.shape[-1]
    y = logits.reshape(-1, V)  # (N, V)
    c = targets.reshape(-1)  # (N,)
    if c.size and (c.min() < 0 or c.max() >= V):
        raise RnnkitError(f"targets must lie in [0, {V}), got range [{c.min()}, {c.max()}]")
    rows = np.arange(y.shape[0])
    ymax = y.max(axis=1, keepdims=True)  # (N, 1)
    p = y - ymax
    picked = p[rows, c]  # y[c] - max, (N,)
    np.exp(p, out=p)
    s = p.sum(axis=1)  # (N,), >= 1
    nll = np.log(s) - picked  # -log p[c], (N,)
    if mask is None:
        count = y.shape[0]
        total = float(nll.sum(dtype=np.float64))
    else:
        mk = mask.reshape(-1).astype(y.dtype)
        count = float(mk.sum())
        total = float((nll * mk).sum(dtype=np.float64))
    denom = max(count, 1)
    loss = total / denom
    if not need_grad:
        return loss, total, count, None
    p /= s[:, None]  # softmax
    p[rows, c] -= 1.0
    if mask is None:
        p *= 1.0 / denom
    else:
        p *= (mk / denom)[:, None]
    return loss, total, count, p.reshape(logits.shape)
