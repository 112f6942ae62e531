"""Bidirectional RNN: one layer reads left to right, another right to left.

    h→_t = tanh(W→_ih x_t + b→ + W→_hh h→_{t-1})      t = 1..T
    h←_t = tanh(W←_ih x_t + b← + W←_hh h←_{t+1})      t = T..1
    y_t  = [h→_t ; h←_t]                              (T, B, 2H)

Useful when the answer at t depends on what comes after it ("I read books that he gave").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .params import MergedDict
from .rnn_layer import RNNLayer


class Bidirectional:
    """Two ``RNNLayer`` s, the second with ``reverse=True``; states concatenated per step.

    >>> bi = Bidirectional(D=3, H=4, rng=np.random.default_rng(0))
    >>> (y, h_last), cache = bi.forward(np.ones((5, 2, 3), np.float32))  # (5, 2, 8), (2, 2, 4)
    """

    def __init__(self, D: int, H: int, layer: int = 0, rng=None, init="uniform", dtype=np.float32):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.fwd = RNNLayer(D, H, f"_l{layer}", False, rng, init, dtype)
        self.bwd = RNNLayer(D, H, f"_l{layer}_reverse", True, rng, init, dtype)
        self.H = H
        # One dict for both directions, so a FlatParams built over this module rebinds both.
        self.params = MergedDict([self.fwd.params, self.bwd.params])
        self.grads = MergedDict([self.fwd.grads, self.bwd.grads])

    def forward(
        self,
        x: np.ndarray,
        h0: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        hh_mask: np.ndarray | None = None,
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[tuple, tuple]]:
        """x (T, B, D) or ids (T, B); h0 (2, B, H) or None -> ((y (T, B, 2H), h_last (2, B, H)), cache).

        ``hh_mask`` (2, H, H) or None: each direction's DropConnect mask on its W_hh."""
        h0f, h0b = (None, None) if h0 is None else (h0[0], h0[1])
        mf, mb = (None, None) if hh_mask is None else (hh_mask[0], hh_mask[1])
        (yf, hf), cf = self.fwd.forward(x, h0f, mask, mf)
        (yb, hb), cb = self.bwd.forward(x, h0b, mask, mb)
        return (np.concatenate([yf, yb], axis=2), np.stack([hf, hb])), (cf, cb)

    def backward(
        self,
        dy: np.ndarray | None,
        dh_last: np.ndarray | None,
        cache: tuple[tuple, tuple],
        on_step: Callable[[int, int, np.ndarray], None] | None = None,
    ) -> tuple[np.ndarray | None, np.ndarray, MergedDict]:
        """dy (T, B, 2H) or None, dh_last (2, B, H) or None -> (dx, dh0 (2, B, H), grads).

        ``on_step(direction, i, g)``, if given, sees each direction's g_t as its sweep reaches
        it (direction 0 left to right, 1 right to left; i in processing order, see ``RNNLayer``).
        """
        cf, cb = cache
        H = self.H
        dyf = None if dy is None else dy[:, :, :H]
        dyb = None if dy is None else dy[:, :, H:]
        dhf = None if dh_last is None else dh_last[0]
        dhb = None if dh_last is None else dh_last[1]
        hooks = (None, None) if on_step is None else [lambda i, g, d=d: on_step(d, i, g) for d in (0, 1)]
        dxf, dh0f, _ = self.fwd.backward(dyf, dhf, cf, on_step=hooks[0])
        dxb, dh0b, _ = self.bwd.backward(dyb, dhb, cb, on_step=hooks[1])
        dx = None if dxf is None else dxf + dxb
        return dx, np.stack([dh0f, dh0b]), self.grads
