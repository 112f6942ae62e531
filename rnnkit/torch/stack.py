"""``TorchRNNStack``: ``stack.RNNStack`` with the recurrence run by ``torch.nn.RNN`` (cuDNN on a GPU).

A drop-in replacement for the task models (``rnnkit/tasks``): the same constructor (plus
``device``), the same ``params``/``grads`` dicts of numpy arrays under ``torch.nn.RNN``'s
names, and the same contract

    forward(x (T, B, D) floats or (T, B) ids, h0 (L*dirs, B, H), mask (T, B), rng, train)
        -> ((y (T, B, dirs*H), h_n (L*dirs, B, H)), cache)
    backward(dy or None, dh_n or None, cache) -> (dx or None for ids, dh0, grads)

with numpy in and out, so the models' heads, losses, optimizers and checkpoints do not
change. The weights stay where the model keeps them: the numpy arrays in ``params``
(views of the model's ``FlatParams`` buffer, rebound after construction). Every forward
reads them afresh — zero-copy ``torch.from_numpy`` on the CPU, one host-to-device copy per
call on a GPU — and ``backward`` writes numpy gradients into ``grads`` (overwriting, as the
NumPy layers do).

Masks must be prefix masks (right padding, ``lengths_to_mask``): they become packed
sequences, so masked steps hold the state and output 0, as in the NumPy engine. Dropout
between layers is ``nn.RNN``'s own, with torch's generator seeded from the numpy ``rng``
at each training forward: reproducible, but not the NumPy engine's masks. DropConnect
(``weight_drop``) multiplies each ``weight_hh`` by the NumPy engine's mask, drawn first from
the same ``rng`` (``nn/stack.py`` ``hh_masks``); locked dropout is refused
(``engines.check_regularisers``).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.nn.params import MergedDict
from rnnkit.nn.stack import RNNStack, hh_masks

if TYPE_CHECKING:  # torch is imported when a stack is built, not with this module
    import torch


class TorchRNNStack:
    """``RNNStack`` on ``torch.nn.RNN``; see the module docstring.

    >>> rnn = TorchRNNStack(D=3, H=4, L=2, bidirectional=True, rng=np.random.default_rng(0))
    >>> (y, h_n), cache = rnn.forward(np.ones((5, 2, 3), np.float32))   # (5, 2, 8), (4, 2, 4)
    """

    engine = "torch"

    def __init__(self, *args, device="cpu", **kwargs):
        """``RNNStack`` 's arguments (D, H, L, bidirectional, dropout, rng, init, dtype), and the
        device: the NumPy stack draws the initial weights (same seed, same weights) and owns
        the parameter dicts."""
        self._wrap(RNNStack(*args, **kwargs), device)

    @classmethod
    def wrap(cls, stack: RNNStack, device: str | torch.device = "cpu") -> TorchRNNStack:
        """A torch stack computing with ``stack``'s own parameter and gradient arrays."""
        self = cls.__new__(cls)
        self._wrap(stack, device)
        return self

    def _wrap(self, stack: RNNStack, device) -> None:
        from .engines import require_torch

        torch = require_torch()
        from .lm_engine import TORCH_DTYPES, resolve_device

        self.np_stack = stack
        self.D, self.H, self.L, self.dropout, self.dirs = stack.D, stack.H, stack.L, stack.dropout, stack.dirs
        self.weight_drop = stack.weight_drop
        self.layers = stack.layers
        self.params, self.grads, self.dtype = stack.params, stack.grads, stack.dtype
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.tdtype = TORCH_DTYPES[self.dtype]
        self.rnn = torch.nn.RNN(
            self.D,
            self.H,
            num_layers=self.L,
            nonlinearity="tanh",
            bidirectional=self.dirs == 2,
            dtype=self.tdtype,
            device=self.device,
        )
        self.names = [n for n, _ in self.rnn.named_parameters()]
        missing = sorted(set(self.names) ^ set(self.params))
        if missing:
            raise AssertionError(f"torch and numpy parameter names differ: {missing}")

    @property
    def out_size(self) -> int:
        return self.H * self.dirs

    def _t(self, a, dtype=None):
        import torch

        t = torch.from_numpy(np.ascontiguousarray(a))
        if dtype is not None:
            t = t.to(dtype)
        return t.to(self.device)

    def forward(
        self,
        x: ArrayLike,
        h0: np.ndarray | None = None,
        mask: ArrayLike | None = None,
        rng: np.random.Generator | None = None,
        train: bool = False,
    ) -> tuple[tuple[np.ndarray, np.ndarray], dict]:
        """x (T, B, D) or ids (T, B); h0 (L*dirs, B, H) -> ((y (T, B, dirs*H), h_n (L*dirs, B, H)), cache)."""
        import torch
        import torch.nn.functional as F
        from torch.func import functional_call

        x = np.asarray(x)
        T, B = x.shape[:2]
        ids = np.issubdtype(x.dtype, np.integer)
        if ids:
            if x.size and (x.min() < 0 or x.max() >= self.D):
                raise ValueError(f"ids must lie in [0, {self.D}), got values in [{x.min()}, {x.max()}]")
            xt = F.one_hot(self._t(x, torch.int64), self.D).to(self.tdtype)  # (T, B, D)
        else:
            if x.ndim != 3 or x.shape[2] != self.D:
                raise ValueError(f"input must be (T, B, {self.D}), got {x.shape}")
            xt = self._t(x, self.tdtype).requires_grad_(True)
        shape = (self.L * self.dirs, B, self.H)
        h0t = (
            torch.zeros(shape, dtype=self.tdtype, device=self.device)
            if h0 is None
            else self._t(h0, self.tdtype)
        ).requires_grad_(True)
        weights = {n: self._t(self.params[n]).requires_grad_(True) for n in self.names}
        if train and rng is None:
            rng = np.random.default_rng()
        call_weights = self._dropped(weights, rng, train)  # DropConnect's masks first, as in numpy
        p = self.dropout if (train and self.L > 1) else 0.0
        if p > 0:
            torch.manual_seed(int(rng.integers(2**63 - 1)))  # reproducible dropout
        # cuDNN backpropagates only through an RNN run in training mode; without dropout
        # that is the same computation as eval mode.
        self.rnn.train(True)
        self.rnn.dropout = p
        with warnings.catch_warnings(), torch.enable_grad():
            warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
            warnings.filterwarnings("ignore", message=".*dropout option adds dropout.*")
            if mask is None:
                y, h_n = functional_call(self.rnn, call_weights, (xt, h0t))
            else:
                y, h_n = self._masked(functional_call, call_weights, xt, h0t, mask)
        cache = dict(y=y, h_n=h_n, x=None if ids else xt, h0=h0t, weights=weights)
        return (y.detach().cpu().numpy(), h_n.detach().cpu().numpy()), cache

    def _dropped(self, weights: dict, rng, train: bool) -> dict:
        """``weights`` with each W_hh multiplied by DropConnect's mask (the NumPy stack's draw)."""
        masks = hh_masks(self.L, self.dirs, self.H, self.weight_drop, rng, self.dtype, train)
        out = dict(weights)
        for k, m in enumerate(masks):
            if m is None:
                continue
            per_direction = [m] if self.dirs == 1 else list(m)  # (H, H) each, forward first
            for sfx, md in zip(("", "_reverse"), per_direction):
                name = f"weight_hh_l{k}{sfx}"
                out[name] = weights[name] * self._t(md)
        return out

    def _masked(self, call, weights, xt, h0t, mask):
        import torch
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        mask = np.asarray(mask)
        lengths = (mask != 0).sum(axis=0).astype(np.int64)  # (B,)
        if not np.array_equal(mask != 0, np.arange(mask.shape[0])[:, None] < lengths[None, :]):
            raise ValueError("the torch engine takes prefix masks only (right padding, lengths_to_mask)")
        packed = pack_padded_sequence(xt, torch.from_numpy(np.maximum(lengths, 1)), enforce_sorted=False)
        out, h_n = call(self.rnn, weights, (packed, h0t))
        y, _ = pad_packed_sequence(out, total_length=xt.shape[0])  # zeros past each end
        if (lengths == 0).any():  # empty streams: output 0, state held at h0
            empty = torch.from_numpy(lengths == 0).to(self.device)[None, :, None]
            y = torch.where(empty, torch.zeros_like(y), y)
            h_n = torch.where(empty, h0t, h_n)
        return y, h_n

    def backward(
        self, dy: np.ndarray | None, dh_n: np.ndarray | None, cache: dict
    ) -> tuple[np.ndarray | None, np.ndarray, MergedDict]:
        """dy (T, B, dirs*H) or None, dh_n (L*dirs, B, H) or None -> (dx, dh0 (L*dirs, B, H), grads)."""
        import torch

        outs, gouts = [], []
        if dy is not None:
            outs.append(cache["y"])
            gouts.append(self._t(dy, self.tdtype))
        if dh_n is not None:
            outs.append(cache["h_n"])
            gouts.append(self._t(dh_n, self.tdtype))
        inputs = [cache["weights"][n] for n in self.names] + [cache["h0"]]
        if cache["x"] is not None:
            inputs.append(cache["x"])
        if outs:
            got = torch.autograd.grad(outs, inputs, gouts, allow_unused=True)
        else:
            got = [None] * len(inputs)
        got = [torch.zeros_like(i) if g is None else g for i, g in zip(inputs, got)]
        for n, g in zip(self.names, got):
            self.grads[n][...] = g.detach().cpu().numpy()
        dh0 = got[len(self.names)].detach().cpu().numpy()
        dx = got[-1].detach().cpu().numpy() if cache["x"] is not None else None
        return dx, dh0, self.grads
