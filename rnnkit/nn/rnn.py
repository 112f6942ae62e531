"""``RNN``: the engine's stack behind ``torch.nn.RNN``'s contract, a layer you call.

    h^(l)_t = tanh(W^(l)_ih h^(l-1)_t + b^(l)_ih + W^(l)_hh h^(l)_{t-1} + b^(l)_hh)

with h^(0)_t = x_t, l = 1..L, each layer one- or two-directional, and dropout between layers
in training mode. Shapes, parameter names and layouts are those of ``torch.nn.RNN``:

- ``out, h_n = rnn(x, h0=None)``: x (T, B, D), or (B, T, D) with ``batch_first``, or
  unbatched (T, D); out (T, B, dirs*H) in the same layout; h0 and h_n (L*dirs, B, H), or
  (L*dirs, H) unbatched. ``lengths`` (B,) makes a batch of variable length: each sequence's
  state is held after its last step, and its outputs there are 0.
- ``dx, dh0 = rnn.backward(dout, dh_n=None)``: BPTT through the last call, adding each
  parameter's gradient into ``named_grads()``.
- ``named_parameters()``, ``named_grads()``, ``parameters()``, ``grads()``, ``zero_grad()``,
  ``train()``, ``eval()``, ``state_dict()`` and ``load_state_dict()`` (``module.Module``),
  with the names of ``torch.nn.RNN`` (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...): a torch
  model's state dict, converted with ``.numpy()``, loads as it is.

>>> rnn = RNN(3, 4, num_layers=2, batch_first=True, seed=0)
>>> out, h_n = rnn(np.ones((2, 5, 3), np.float32))          # (B=2, T=5, D=3)
>>> out.shape, h_n.shape
((2, 5, 4), (2, 2, 4))
>>> dx, dh0 = rnn.backward(np.ones_like(out))
>>> dx.shape, sorted(rnn.state_dict())[:2]
((2, 5, 3), ['bias_hh_l0', 'bias_hh_l1'])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import RnnkitError
from .mask import lengths_to_mask
from .module import Layer
from .stack import RNNStack


class RNN(Layer):
    """A multi-layer, optionally bidirectional tanh RNN with ``torch.nn.RNN`` 's contract."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = np.float32,
        seed: int | None = None,
    ):
        if nonlinearity != "tanh":
            raise RnnkitError(f"nonlinearity must be 'tanh' (the vanilla RNN), got {nonlinearity!r}")
        self.rng = np.random.default_rng(seed)
        self.stack = RNNStack(
            input_size, hidden_size, num_layers, bidirectional, dropout, self.rng, "uniform", dtype
        )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dtype = np.dtype(dtype)
        super().__init__(self.stack.params, self._torch_order())  # bias=False: the engine's biases stay 0

    # ---------------------------------------------------------------- forward
    def forward(
        self, x: np.ndarray, h0: np.ndarray | None = None, lengths: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """-> (out, h_n); see the module docstring for the shapes."""
        x = np.asarray(x, dtype=self.dtype)
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None] if not self.batch_first else x[None]
            h0 = None if h0 is None else np.asarray(h0)[:, None]
        if x.ndim != 3 or x.shape[2] != self.input_size:
            want = "(B, T, D)" if self.batch_first else "(T, B, D)"
            raise RnnkitError(f"input must be {want} or (T, D) with D={self.input_size}, got {x.shape}")
        if self.batch_first:
            x = x.transpose(1, 0, 2)  # (T, B, D)
        T, B, _ = x.shape
        dirs = 2 if self.bidirectional else 1
        if h0 is not None:
            h0 = np.asarray(h0, dtype=self.dtype)
            want = (self.num_layers * dirs, B, self.hidden_size)
            if h0.shape != want:
                raise RnnkitError(f"h0 must be {want}, got {h0.shape}")
        mask = None if lengths is None else lengths_to_mask(np.asarray(lengths), T, self.dtype)
        (out, h_n), cache = self.stack.forward(np.ascontiguousarray(x), h0, mask, self.rng, self.training)
        self._cache = (cache, unbatched)
        if self.batch_first:
            out = out.transpose(1, 0, 2)
        if unbatched:
            out, h_n = (out[0] if self.batch_first else out[:, 0]), h_n[:, 0]
        return out, h_n

    # --------------------------------------------------------------- backward
    def backward(self, dout: np.ndarray, dh_n: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """BPTT through the last ``forward``: -> (dx like x, dh0 like h0); parameter
        gradients are added into ``named_grads()``."""
        cache, unbatched = self._last_cache()
        dout = np.asarray(dout, dtype=self.dtype)
        if unbatched:
            dout = dout[None] if self.batch_first else dout[:, None]
            dh_n = None if dh_n is None else np.asarray(dh_n)[:, None]
        if self.batch_first:
            dout = dout.transpose(1, 0, 2)
        dh_n = None if dh_n is None else np.asarray(dh_n, dtype=self.dtype)
        dx, dh0, grads = self.stack.backward(np.ascontiguousarray(dout), dh_n, cache)
        self._accumulate(grads)
        if self.batch_first:
            dx = dx.transpose(1, 0, 2)
        if unbatched:
            dx, dh0 = (dx[0] if self.batch_first else dx[:, 0]), dh0[:, 0]
        return dx, dh0

    def _torch_order(self) -> list[str]:
        """torch.nn.RNN's order: per layer and direction, weight_ih, weight_hh, bias_ih, bias_hh."""
        out = []
        for k in range(self.num_layers):
            for suffix in [f"_l{k}", f"_l{k}_reverse"][: 2 if self.bidirectional else 1]:
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    if self.bias or kind.startswith("weight"):
                        out.append(kind + suffix)
        return out
