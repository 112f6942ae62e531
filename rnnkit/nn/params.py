"""Flat parameter and gradient storage.

Every parameter of a model lives as a view into one contiguous float buffer, and every
gradient as a view into a second buffer of the same layout. Why: the optimizer then
updates all parameters with a handful of vectorised operations, global-norm clipping is
one dot product, and a data-parallel run can all-reduce the whole gradient in one call
without copying (issue 5).

Tied weights (the LM's ``tie_weights``: the output layer's W_hy is the input embedding):
the alias (``head.weight``) has no storage of its own. Its module computes with a view of
the source (``embedding.weight``, or ``rnn.weight_ih_l0`` transposed), writes its gradient
into an array of its own, and ``fold_tied_grads`` adds that into the source's gradient, so
the source's gradient is the sum of both uses. ``state_dict`` holds both names, as
``torch.nn.Module.state_dict`` does for tied parameters: a checkpoint loads into torch modules
as they are, tied or not.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class FlatParams:
    """Collects ``module.params`` / ``module.grads`` dicts into two flat buffers.

    ``parts`` maps a prefix (``"rnn."``, ``"head."``, ...) to a module whose ``params``
    dict holds its arrays. After construction each module's dicts hold views into
    ``self.data`` and ``self.grad``; the values are copied over, so nothing changes
    numerically. ``tied`` maps an alias name to (its source's name, transposed?): see the
    module docstring. ``names`` lists the stored parameters, aliases left out.
    """

    def __init__(self, parts: dict, dtype=np.float32, tied: dict[str, tuple[str, bool]] | None = None):
        self.dtype = np.dtype(dtype)
        self.names: list[str] = []
        self.shapes: dict[str, tuple] = {}
        self.tied = dict(tied or {})  # alias -> (source, transposed)
        self.aliases: dict[str, tuple] = {}  # alias -> (its module, its key)
        entries = []
        for prefix, module in parts.items():
            for key, arr in module.params.items():
                if prefix + key in self.tied:
                    self.aliases[prefix + key] = (module, key)
                else:
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
        for alias, (source, transposed) in self.tied.items():
            module, key = self.aliases[alias]
            view = self.view(source).T if transposed else self.view(source)
            if view.shape != module.params[key].shape:
                raise ValueError(f"cannot tie {alias} {module.params[key].shape} to {source} {view.shape}")
            module.params[key] = view
            module.grads[key] = np.zeros(view.shape, dtype=self.dtype)  # its own use, until folded

    def __len__(self) -> int:
        return self.data.size

    def view(self, name: str, grad: bool = False) -> np.ndarray:
        off, n = self.offsets[name]
        buf = self.grad if grad else self.data
        return buf[off : off + n].reshape(self.shapes[name])

    def alias_view(self, alias: str) -> np.ndarray:
        """The tied parameter ``alias`` as its module sees it: its source, transposed if so tied."""
        source, transposed = self.tied[alias]
        return self.view(source).T if transposed else self.view(source)

    def fold_tied_grads(self) -> None:
        """Add each alias's gradient into its source's: d/dW of a weight used twice is the sum."""
        for alias, (source, transposed) in self.tied.items():
            module, key = self.aliases[alias]
            g = module.grads[key]
            self.view(source, grad=True)[...] += g.T if transposed else g

    def state_dict(self) -> dict[str, np.ndarray]:
        """Name -> copy of the parameter, in ``torch.nn`` layouts; a tied weight under both names."""
        out = {n: self.view(n).copy() for n in self.names}
        out.update({alias: self.alias_view(alias).copy() for alias in self.tied})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into place; names and shapes must match exactly, and the two names of a
        tied weight must hold the same values."""
        shapes = {**self.shapes, **{alias: self.alias_view(alias).shape for alias in self.tied}}
        checked = dict(checked_state(shapes, state))
        for alias, (source, transposed) in self.tied.items():
            if not np.array_equal(checked[alias], checked[source].T if transposed else checked[source]):
                how = " transposed" if transposed else ""
                raise ValueError(f"{alias} must equal {source}{how} (the weights are tied), but they differ")
        for n in self.names:
            self.view(n)[...] = checked[n]


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

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Like ``dict.update``, but through ``__setitem__`` (``dict.update`` bypasses it)."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value
