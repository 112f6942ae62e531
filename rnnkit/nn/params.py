"""Flat parameter and gradient storage.

Every parameter of a model lives as a view into one contiguous float buffer, and every
gradient as a view into a second buffer of the same layout. Why: the optimizer then
updates all parameters with a handful of vectorised operations, global-norm clipping is
one dot product, and a data-parallel run can all-reduce the whole gradient in one call
without copying (issue 5).
"""

from __future__ import annotations

import numpy as np


class FlatParams:
    """Collects ``module.params`` / ``module.grads`` dicts into two flat buffers.

    ``parts`` maps a prefix (``"rnn."``, ``"head."``, ...) to a module whose ``params``
    dict holds its arrays. After construction each module's dicts hold views into
    ``self.data`` and ``self.grad``; the values are copied over, so nothing changes
    numerically.
    """

    def __init__(self, parts: dict, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.names: list[str] = []
        self.shapes: dict[str, tuple] = {}
        entries = []
        for prefix, module in parts.items():
            for key, arr in module.params.items():
                entries.append((prefix + key, module, key, arr))
        total = sum(a.size for *_, a in entries)
        self.data = np.zeros(total, dtype=self.dtype)  # (P,) all parameters
        self.grad = np.zeros(total, dtype=self.dtype)  # (P,) all gradients
        self.offsets: dict[str, tuple[int, int]] = {}
        off = 0
        for name, module, key, arr in entries:
            n = arr.size
            pv = self.data[off : off + n].reshape(arr.shape)
            gv = self.grad[off : off + n].reshape(arr.shape)
            pv[...] = arr
            module.params[key] = pv
            module.grads[key] = gv
            self.names.append(name)
            self.shapes[name] = tuple(arr.shape)
            self.offsets[name] = (off, n)
            off += n

    def __len__(self) -> int:
        return self.data.size

    def view(self, name: str, grad: bool = False) -> np.ndarray:
        off, n = self.offsets[name]
        buf = self.grad if grad else self.data
        return buf[off : off + n].reshape(self.shapes[name])

    def state_dict(self) -> dict[str, np.ndarray]:
        """Name -> copy of the parameter, in ``torch.nn`` layouts."""
        return {n: self.view(n).copy() for n in self.names}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into place; names and shapes must match exactly."""
        for n, a in checked_state(self.shapes, state):
            self.view(n)[...] = a


def checked_state(shapes: dict[str, tuple], state: dict) -> list[tuple[str, np.ndarray]]:
    """(name, array) for each name of ``shapes``, in its order, after checking that ``state``
    has exactly those names with exactly those shapes (else ValueError, naming them)."""
    missing = [n for n in shapes if n not in state]
    extra = [n for n in state if n not in shapes]
    if missing or extra:
        raise ValueError(f"parameter names differ: missing {missing}, unexpected {extra}")
    out = []
    for n, shape in shapes.items():
        a = np.asarray(state[n])
        if tuple(a.shape) != shape:
            raise ValueError(f"parameter {n} has shape {tuple(a.shape)}, expected {shape}")
        out.append((n, a))
    return out


class MergedDict(dict):
    """One dict over several sub-modules' ``params`` (or ``grads``) dicts.

    Reads see every entry; a write (as ``FlatParams`` does when it rebinds an array to a
    view) also goes to the sub-module that owns the key, so the sub-module computes with
    the view. Keys must be unique across the parts.
    """

    def __init__(self, parts):
        super().__init__()
        self._parts = list(parts)
        for p in self._parts:
            super().update(p)

    def __setitem__(self, key, value):
        for p in self._parts:
            if key in p:
                p[key] = value
        super().__setitem__(key, value)

    def update(self, *args, **kwargs):
        """Like ``dict.update``, but through ``__setitem__`` (``dict.update`` bypasses it)."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value
