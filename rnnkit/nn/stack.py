"""A stack of L RNN layers, each one- or two-directional.

    h^(1)_t = RNN_1(x_t),   h^(l)_t = RNN_l(dropout(h^(l-1)_t)),   l = 2..L

In training, two more regularisers (``dropout.py``): ``locked_dropout`` draws the dropout
between layers once per sequence instead of once per step, and ``weight_drop`` P > 0 drops
entries of every layer's W_hh (each direction's) with probability P, one mask per forward
call (DropConnect, ``rnn_layer.py``).

The sequence length T stays the same through the stack; only the feature size changes
(D -> H, or 2H when bidirectional). Initial and final states use ``torch.nn.RNN`` 's
layout: (L * dirs, B, H), ordered layer by layer, forward direction first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from .bidirectional import Bidirectional
from .dropout import dropout, keep_mask
from .params import MergedDict
from .rnn_layer import RNNLayer


class RNNStack:
    """L layers of ``RNNLayer`` or ``Bidirectional``; dropout ``p`` between layers.

    >>> rnn = RNNStack(D=3, H=4, L=2, bidirectional=True, rng=np.random.default_rng(0))
    >>> (y, h_n), cache = rnn.forward(np.ones((5, 2, 3), np.float32))   # (5, 2, 8), (4, 2, 4)
    """

    def __init__(
        self,
        D: int,
        H: int,
        L: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        rng=None,
        init: str = "uniform",
        dtype=np.float32,
        *,
        weight_drop: float = 0.0,
        locked_dropout: bool = False,
    ):
        if L < 1 or H < 1 or D < 1:
            raise ValueError(f"sizes must be positive: D={D}, H={H}, L={L}")
        for name, p in (("dropout", dropout), ("weight_drop", weight_drop)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {p}")
        rng = rng if rng is not None else np.random.default_rng(0)
        self.D, self.H, self.L, self.dropout = D, H, L, dropout
        self.weight_drop, self.locked_dropout = weight_drop, locked_dropout
        self.dirs = 2 if bidirectional else 1
        self.layers = []
        for k in range(L):
            d_in = D if k == 0 else H * self.dirs
            if bidirectional:
                self.layers.append(Bidirectional(d_in, H, k, rng, init, dtype))
            else:
                self.layers.append(RNNLayer(d_in, H, f"_l{k}", False, rng, init, dtype))
        self.params = MergedDict([l.params for l in self.layers])
        self.grads = MergedDict([l.grads for l in self.layers])
        self.dtype = np.dtype(dtype)

    def input_weights(self) -> list:
        """Layer 0's W_ih (H, D), one per direction, forward first (the arrays themselves)."""
        first = self.layers[0]
        directions = [first.fwd, first.bwd] if self.dirs == 2 else [first]
        return [d.params[d.k_ih] for d in directions]

    @property
    def out_size(self) -> int:
        return self.H * self.dirs

    def _h(self, h, k):
        if h is None:
            return None
        return h[k] if self.dirs == 1 else h[2 * k : 2 * k + 2]

    def forward(
        self,
        x: np.ndarray,
        h0: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        train: bool = False,
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[list, list]]:
        """x (T, B, D) or ids (T, B); h0 (L*dirs, B, H) -> ((y (T, B, dirs*H), h_n (L*dirs, B, H)), cache).

        Dropout (inverted: kept units scaled by 1/(1-p)) applies between layers only, and
        DropConnect to each W_hh, when ``train`` is true; ``rng`` draws their masks: every
        layer's W_hh masks first (``hh_masks``), then the dropout in front of each layer.
        """
        caches, drops, finals = [], [], []
        h = x
        masks = hh_masks(self.L, self.dirs, self.H, self.weight_drop, rng, self.dtype, train)
        for k, layer in enumerate(self.layers):
            drop = None
            if k > 0:  # between layers only
                h, drop = dropout(h, self.dropout, train, rng, self.dtype, self.locked_dropout)
            (h, hn), c = layer.forward(h, self._h(h0, k), mask, masks[k])
            caches.append(c)
            drops.append(drop)
            finals.append(hn if self.dirs == 2 else hn[None])
        return (h, np.concatenate(finals, axis=0)), (caches, drops)

    def backward(
        self,
        dy: np.ndarray | None,
        dh_n: np.ndarray | None,
        cache: tuple[list, list],
        on_step: Callable[[int, int, int, np.ndarray], None] | None = None,
    ) -> tuple[np.ndarray | None, np.ndarray, MergedDict]:
        """dy (T, B, dirs*H) or None, dh_n (L*dirs, B, H) or None -> (dx, dh0 (L*dirs, B, H), grads).

        ``on_step(layer, direction, i, g)``, if given, sees every g_t = dL/dh_t of every layer
        and direction as the sweeps reach it (i in processing order; ``viz/gradflow.py``).
        """
        caches, drops = cache
        dh0s = [None] * self.L
        d = dy
        for k in range(self.L - 1, -1, -1):
            dhk = self._h(dh_n, k)
            d, dh0, _ = self.layers[k].backward(d, dhk, caches[k], on_step=self._layer_hook(on_step, k))
            dh0s[k] = dh0 if self.dirs == 2 else dh0[None]
            if drops[k] is not None:
                d = d * drops[k]
        return d, np.concatenate(dh0s, axis=0), self.grads

    def _layer_hook(self, on_step, k: int):
        """``on_step(layer, direction, i, g)`` as layer k's own hook: a ``Bidirectional`` calls
        it with (direction, i, g), an ``RNNLayer`` with (i, g)."""
        if on_step is None:
            return None
        if self.dirs == 2:
            return lambda direction, i, g: on_step(k, direction, i, g)
        return lambda i, g: on_step(k, 0, i, g)


def hh_masks(
    L: int, dirs: int, H: int, p: float, rng: np.random.Generator | None, dtype: DTypeLike, train: bool = True
) -> list[np.ndarray | None]:
    """DropConnect's masks for a stack, one per layer in order: (H, H), or (2, H, H) with two
    directions (forward first); None each when not training or p = 0. Both engines draw them
    here, so the same ``rng`` gives the same masks (``torch/``)."""
    if not train or p <= 0:
        return [None] * L
    shape = (H, H) if dirs == 1 else (dirs, H, H)
    return [keep_mask(shape, p, rng, dtype) for _ in range(L)]
