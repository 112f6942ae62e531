"""``Module``: the protocol of rnnkit's public layers, written once, named as in ``torch.nn``.

- ``y = m(x)`` runs ``m.forward(x)``; the module keeps what its backward needs.
- ``dx = m.backward(dy)`` goes back through the last call: it returns the input gradient and
  ADDS each parameter's gradient into that parameter's gradient array (``zero_grad`` clears).
- ``named_parameters()`` / ``named_grads()``: (name, array) pairs of the live arrays, the same
  names in the same order; ``parameters()`` / ``grads()``: the arrays alone, as lists.
- ``zero_grad()``, ``train()`` / ``eval()`` (the ``training`` flag), ``state_dict()`` /
  ``load_state_dict()``.

A layer lists the parameters it holds itself in ``own_parameters()``. A model made of layers
lists nothing: every attribute that is a ``Module`` (or a list or tuple of them) is a child,
and its parameters appear under the attribute's name and a dot, as in torch
(``rnn.weight_ih_l0``, ``blocks.1.weight``). ``Layer`` is the base of a layer over one engine
piece (``forward(x) -> (y, cache)``, ``backward(dy, cache) -> (dx, grads)``, see ``layers.py``).

>>> class Double(Module):                 # no parameters: y = 2 x, dx = 2 dy
...     def forward(self, x):
...         return 2 * x
...     def backward(self, dy):
...         return 2 * dy
>>> class Pair(Module):
...     def __init__(self):
...         self.first, self.rest = Double(), [Double()]
>>> [name for name, _ in Pair().named_children()]
['first', 'rest.0']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import RnnkitError
from .params import checked_state

Triple = tuple[str, np.ndarray, np.ndarray]  # (name, weight, gradient)


class Module:
    """The base of every public layer and of a user's own model (see the module docstring)."""

    training = True  # a class default, so a subclass needs no super().__init__()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ the tree
    def own_parameters(self) -> list[Triple]:
        """(name, weight, gradient) of the parameters this module holds itself; none here."""
        return []

    def named_children(self) -> list[tuple[str, Module]]:
        """(attribute name, module) of each child, in the order the attributes were set."""
        out = []
        for name, value in vars(self).items():
            if isinstance(value, Module):
                out.append((name, value))
            elif isinstance(value, (list, tuple)):
                out += [(f"{name}.{i}", m) for i, m in enumerate(value) if isinstance(m, Module)]
        return out

    def _triples(self, prefix: str = "") -> Iterator[Triple]:
        """Own parameters first, then each child's under ``child_name.``."""
        for name, weight, grad in self.own_parameters():
            yield prefix + name, weight, grad
        for name, child in self.named_children():
            yield from child._triples(f"{prefix}{name}.")

    # ------------------------------------------------------------ parameters
    def named_parameters(self) -> list[tuple[str, np.ndarray]]:
        """(name, array) pairs: the live weights (write into them to change the model)."""
        return [(n, w) for n, w, _ in self._triples()]

    def named_grads(self) -> list[tuple[str, np.ndarray]]:
        """(name, array) pairs: the accumulated gradients, in ``named_parameters`` ' order."""
        return [(n, g) for n, _, g in self._triples()]

    def parameters(self) -> list[np.ndarray]:
        return [w for _, w, _ in self._triples()]

    def grads(self) -> list[np.ndarray]:
        return [g for _, _, g in self._triples()]

    def zero_grad(self) -> None:
        for g in self.grads():
            g[...] = 0

    def train(self, mode: bool = True) -> Module:
        """Set ``training`` here and in every child (dropout is on only in training)."""
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Name -> a copy of the weight."""
        return {n: w.copy() for n, w in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Copy ``state`` (exactly ``state_dict`` 's names and shapes; a torch state dict
        converted with ``.numpy()`` is one) into the weights, cast to their dtype."""
        weights = dict(self.named_parameters())
        try:
            checked = checked_state({n: w.shape for n, w in weights.items()}, state)
        except ValueError as e:  # checked_state's plain ValueError: load_lm tells it from an RnnkitError
            raise RnnkitError(str(e)) from None
        for n, a in checked:
            weights[n][...] = a


class Layer(Module):
    """A public layer over one engine piece, whose ``params`` dict (``params`` here) holds the
    weights and whose backward overwrites its own gradients. The layer keeps the gradients it
    accumulates apart, one array per parameter in ``names`` (in that order). An engine
    parameter left out of ``names`` is held at 0: that is torch's ``bias=False``."""

    def __init__(self, params: dict[str, np.ndarray], names: list[str]):
        self._params = params  # the engine's own dict: its arrays are read live
        self._names = list(names)
        for n, w in params.items():
            if n not in self._names:
                w[...] = 0
        self._grads = {n: np.zeros_like(params[n]) for n in self._names}
        self._cache: Any = None  # what backward needs from the last forward call

    def own_parameters(self) -> list[Triple]:
        return [(n, self._params[n], self._grads[n]) for n in self._names]

    def _last_cache(self) -> Any:
        if self._cache is None:
            raise RnnkitError("backward needs a forward call first")
        return self._cache

    def _accumulate(self, grads: dict[str, np.ndarray]) -> None:
        """Add the engine's gradients of the last backward into the layer's."""
        for n in self._names:
            self._grads[n] += grads[n]
