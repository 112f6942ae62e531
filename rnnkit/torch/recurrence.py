"""``TorchRecurrence``: ``torch.nn.RNN`` run as the NumPy engine's ``RNNStack`` runs — the one torch adapter.

Both torch clients run their recurrence through it: the character LM (``lm_engine.TorchCharRNN``:
weights in one device-resident flat buffer, loss on the device) and the forms' stack
(``stack.TorchRNNStack``: numpy in and out). What it owns, so that it is written once:

- **Masks.** A prefix mask (T, B) (right padding, ``lengths_to_mask``) becomes a packed
  sequence: a stream's h_n is its state at its last counted step and its outputs past the end
  are 0; an empty stream (length 0) outputs 0 and keeps h0, as in the NumPy engine.
- **DropConnect** (``weight_drop``): each W_hh multiplied by the NumPy engine's mask, drawn from
  the same numpy ``rng`` (``nn/stack.py`` ``hh_masks``), run as replacement weights
  (``torch.func.functional_call``).
- **Dropout between layers**: ``nn.RNN``'s own, with torch's generator seeded from the numpy
  ``rng`` after the masks, so a run is reproducible (same distribution as the NumPy engine,
  different draws).
- **The mode.** cuDNN backpropagates only through an RNN run in training mode; with the
  between-layer dropout set to 0 that is the same computation as evaluation mode.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from numpy.typing import ArrayLike, DTypeLike
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.errors import RnnkitError
from rnnkit.nn.stack import hh_masks

TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'cpu', 'cuda', 'cuda:1' -> torch.device; 'cuda' without a visible GPU raises an RnnkitError."""
    if isinstance(device, torch.device):
        return device
    try:
        dev = torch.device(device or "cpu")
    except RuntimeError:  # torch's own message lists two dozen device types
        raise RnnkitError(f"`device` must be cpu or cuda[:N], got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RnnkitError(
            f"`device` {device}: PyTorch sees no CUDA GPU (torch.cuda.is_available() is False; "
            f"torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'})"
        )
    if dev.type not in ("cpu", "cuda"):
        raise RnnkitError(f"`device` must be cpu or cuda[:N], got {device!r}")
    return dev


class TorchRecurrence:
    """An ``nn.RNN`` (tanh, time first: L layers, 1 or 2 directions, H units) with the NumPy
    engine's masks, DropConnect and dropout; see the module docstring.

    ``dropout``: p between layers; ``weight_drop``: DropConnect's p on each W_hh; ``dtype``:
    the numpy dtype of the weights. One forward is ``prepare`` then a call.

    >>> rec = TorchRecurrence(torch.nn.RNN(3, 4, num_layers=2), 0.0, 0.5, np.float32, "cpu")
    >>> weights = rec.prepare(np.random.default_rng(0), train=True)   # {weight_hh_l0: W ⊙ M, ...}
    >>> y, h_n = rec(torch.ones(5, 2, 3), torch.zeros(2, 2, 4), weights=weights)  # (5, 2, 4), (2, 2, 4)
    """

    def __init__(
        self,
        rnn: torch.nn.RNN,
        dropout: float,
        weight_drop: float,
        dtype: DTypeLike,
        device: str | torch.device | None,
    ):
        self.rnn = rnn
        self.L, self.H, self.dirs = rnn.num_layers, rnn.hidden_size, 2 if rnn.bidirectional else 1
        self.dropout, self.weight_drop = dropout, weight_drop
        self.dtype = np.dtype(dtype)
        self.tdtype = TORCH_DTYPES[self.dtype]
        self.device = resolve_device(device)

    def tensor(self, a: ArrayLike, dtype: torch.dtype | None = None) -> torch.Tensor:
        """A numpy array as a tensor on this device (zero copy on the CPU when the dtype stays)."""
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype).to(self.device, non_blocking=True)

    def prepare(
        self,
        rng: np.random.Generator | None,
        train: bool,
        weights: dict[str, torch.Tensor] | None = None,
        need_grad: bool = True,
        client_dropout: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Set up one forward; returns the replacement weights to call with.

        Draws in the NumPy engine's order: DropConnect's masks from ``rng`` first, then (when
        dropout will be drawn) torch's seed. ``weights`` (name -> tensor) are the weights to run,
        returned with each W_hh times its mask; None: the module's own parameters, and only the
        masked W_hh are returned ({} without DropConnect). ``client_dropout``: the client draws
        torch dropout of its own after the recurrence (the LM, before its head), so torch's
        generator is seeded even with one layer. ``need_grad`` picks the mode cuDNN needs.
        """
        if train and rng is None:
            rng = np.random.default_rng()
        masks = hh_masks(self.L, self.dirs, self.H, self.weight_drop, rng, self.dtype, train)
        replaced = self._dropped(masks, weights)
        between = self.dropout if (train and self.L > 1) else 0.0
        if train and (between > 0 or client_dropout):
            torch.manual_seed(int(rng.integers(2**63 - 1)))  # reproducible dropout
        self.rnn.train(bool(train) or bool(need_grad))
        self.rnn.dropout = between  # nn.RNN reads it at every call
        return replaced

    def _dropped(self, masks: list[np.ndarray | None], weights: dict | None) -> dict[str, torch.Tensor]:
        """DropConnect: ``weights`` (or {}) with weight_hh_l{k}[_reverse] replaced by W_hh ⊙ M."""
        base = weights if weights is not None else dict(self.rnn.named_parameters())
        out = dict(weights or {})
        for k, m in enumerate(masks):
            if m is None:
                continue
            per_direction = [m] if self.dirs == 1 else list(m)  # (H, H) each, forward first
            for sfx, md in zip(("", "_reverse"), per_direction):
                name = f"weight_hh_l{k}{sfx}"
                out[name] = base[name] * self.tensor(md)
        return out

    def __call__(
        self,
        x: torch.Tensor,
        h0: torch.Tensor,
        mask: ArrayLike | None = None,
        weights: dict[str, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (T, B, D), h0 (L*dirs, B, H) -> y (T, B, dirs*H), h_n (L*dirs, B, H).

        ``mask`` (T, B): a prefix mask, or None; ``weights`` (name -> tensor, from ``prepare``)
        replace the module's parameters of those names."""
        with warnings.catch_warnings():
            # cuDNN wants its own packed weight layout; ours are views of a flat buffer (or
            # replacement tensors), so it packs a copy per call (device to device, cheap) and says so.
            warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
            if mask is None:
                return self._run(x, h0, weights)
            return self._run_masked(x, h0, mask, weights)

    def _run(self, x, h0, weights):
        if weights:
            return torch.func.functional_call(self.rnn, weights, (x, h0))
        return self.rnn(x, h0)

    def _run_masked(self, x, h0, mask, weights):
        mask = np.asarray(mask)
        lengths = (mask != 0).sum(axis=0).astype(np.int64)  # (B,)
        if not np.array_equal(mask != 0, np.arange(mask.shape[0])[:, None] < lengths[None, :]):
            raise ValueError("the torch engine takes prefix masks only (right padding, lengths_to_mask)")
        # an empty stream is packed as length 1 (packing refuses 0) and put right below
        packed = pack_padded_sequence(x, torch.from_numpy(np.maximum(lengths, 1)), enforce_sorted=False)
        out, h_n = self._run(packed, h0, weights)
        y, _ = pad_packed_sequence(out, total_length=x.shape[0])  # (T, B, dirs*H), zeros past each end
        if (lengths == 0).any():  # empty streams: output 0, state held at h0
            empty = torch.from_numpy(lengths == 0).to(self.device)[None, :, None]
            y = torch.where(empty, torch.zeros_like(y), y)
            h_n = torch.where(empty, h0, h_n)
        return y, h_n
