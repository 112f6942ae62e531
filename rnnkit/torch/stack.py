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

The recurrence is the shared adapter ``recurrence.TorchRecurrence``, as in the character LM's
``TorchCharRNN``: prefix masks only (right padding, ``lengths_to_mask``), DropConnect with the
NumPy engine's masks, dropout seeded from ``rng``. Locked dropout is refused
(``engines.check_regularisers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.nn.params import MergedDict
from rnnkit.nn.stack import RNNStack

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
        from .recurrence import TORCH_DTYPES, TorchRecurrence, resolve_device

        self.np_stack = stack
        self.D, self.H, self.L, self.dropout, self.dirs = stack.D, stack.H, stack.L, stack.dropout, stack.dirs
        self.weight_drop = stack.weight_drop
        self.layers = stack.layers
        self.params, self.grads, self.dtype = stack.params, stack.grads, stack.dtype
        self.device, self.tdtype = resolve_device(device), TORCH_DTYPES[self.dtype]
        rnn = torch.nn.RNN(
            self.D,
            self.H,
            num_layers=self.L,
            nonlinearity="tanh",
            bidirectional=self.dirs == 2,
            dtype=self.tdtype,
            device=self.device,
        )
        self.recurrence = TorchRecurrence(rnn, self.dropout, self.weight_drop, self.dtype, self.device)
        self.names = [n for n, _ in rnn.named_parameters()]
        missing = sorted(set(self.names) ^ set(self.params))
        if missing:
            raise AssertionError(f"torch and numpy parameter names differ: {missing}")

    @property
    def out_size(self) -> int:
        return self.H * self.dirs

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

        rec = self.recurrence
        x = np.asarray(x)
        T, B = x.shape[:2]
        ids = np.issubdtype(x.dtype, np.integer)
        if ids:
            if x.size and (x.min() < 0 or x.max() >= self.D):
                raise ValueError(f"ids must lie in [0, {self.D}), got values in [{x.min()}, {x.max()}]")
            xt = F.one_hot(rec.tensor(x, torch.int64), self.D).to(self.tdtype)  # (T, B, D)
        else:
            if x.ndim != 3 or x.shape[2] != self.D:
                raise ValueError(f"input must be (T, B, {self.D}), got {x.shape}")
            xt = rec.tensor(x, self.tdtype).requires_grad_(True)
        shape = (self.L * self.dirs, B, self.H)
        h0t = (
            torch.zeros(shape, dtype=self.tdtype, device=self.device)
            if h0 is None
            else rec.tensor(h0, self.tdtype)
        ).requires_grad_(True)
        weights = {n: rec.tensor(self.params[n]).requires_grad_(True) for n in self.names}
        call_weights = rec.prepare(rng, train, weights)  # W_hh ⊙ DropConnect's masks; torch's seed
        with torch.enable_grad():
            y, h_n = rec(xt, h0t, mask, call_weights)
        cache = dict(y=y, h_n=h_n, x=None if ids else xt, h0=h0t, weights=weights)
        return (y.detach().cpu().numpy(), h_n.detach().cpu().numpy()), cache

    def backward(
        self, dy: np.ndarray | None, dh_n: np.ndarray | None, cache: dict
    ) -> tuple[np.ndarray | None, np.ndarray, MergedDict]:
        """dy (T, B, dirs*H) or None, dh_n (L*dirs, B, H) or None -> (dx, dh0 (L*dirs, B, H), grads)."""
        import torch

        rec = self.recurrence
        outs, gouts = [], []
        if dy is not None:
            outs.append(cache["y"])
            gouts.append(rec.tensor(dy, self.tdtype))
        if dh_n is not None:
            outs.append(cache["h_n"])
            gouts.append(rec.tensor(dh_n, self.tdtype))
        inputs = [cache["weights"][n] for n in self.names] + [cache["h0"]]
        if cache["x"] is not None:
            inputs.append(cache["x"])
        got = torch.autograd.grad(outs, inputs, gouts, allow_unused=True) if outs else [None] * len(inputs)
        got = [torch.zeros_like(i) if g is None else g for i, g in zip(inputs, got)]  # None: zero gradient
        for n, g in zip(self.names, got):
            self.grads[n][...] = g.detach().cpu().numpy()
        dh0 = got[len(self.names)].detach().cpu().numpy()
        dx = got[-1].detach().cpu().numpy() if cache["x"] is not None else None
        return dx, dh0, self.grads
