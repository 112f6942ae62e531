"""``GatheredParams``: any model's parameters and gradients as two flat buffers, by copying.

The optimizers update one flat (P,) parameter buffer and read one flat (P,) gradient buffer
(``nn.params.FlatParams`` makes a built-in model's arrays views into them). A user's model,
any object with ``named_parameters()`` and ``named_grads()`` (``rnnkit.Module`` gives both),
owns its arrays, so here they are copied into the buffers before an update and back after it:
the same update rules, for a few copies of P numbers per step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from rnnkit.errors import RnnkitError


def as_flat(params: Any) -> Any:
    """``params`` itself when it holds flat ``data`` and ``grad`` buffers (a ``FlatParams``),
    else a ``GatheredParams`` over its ``named_parameters()`` and ``named_grads()``."""
    if callable(getattr(params, "named_parameters", None)) and callable(getattr(params, "named_grads", None)):
        return GatheredParams(params)
    if hasattr(params, "data") and hasattr(params, "grad"):
        return params
    raise RnnkitError(
        "an optimizer needs an object with named_parameters() and named_grads() (an rnnkit.Module) "
        f"or a FlatParams, got {type(params).__name__}"
    )


@contextmanager
def synced(flat: Any) -> Iterator[None]:
    """Around an in-place change of ``flat.data`` / ``flat.grad``: for a ``GatheredParams``,
    copy the model's arrays in before and back after (a ``FlatParams`` needs neither)."""
    if not isinstance(flat, GatheredParams):
        yield
        return
    flat.gather()
    yield
    flat.scatter()


class GatheredParams:
    """``data`` (P,) and ``grad`` (P,) laid out in ``model.named_parameters()`` ' order."""

    def __init__(self, model: Any):
        self.model = model
        self.shapes: dict[str, tuple] | None = None  # set from the first look, checked after
        params, grads = self._pairs()
        self.names = [n for n, _ in params]
        self.shapes = {n: np.shape(p) for n, p in params}
        dtypes = {np.asarray(a).dtype for _, a in params + grads}  # a set: result_type takes <= 32
        self.dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float32)
        P = sum(int(np.prod(s)) for s in self.shapes.values())
        self.data = np.zeros(P, dtype=self.dtype)  # (P,) all parameters
        self.grad = np.zeros(P, dtype=self.dtype)  # (P,) all gradients

    def __len__(self) -> int:
        return self.data.size

    def _pairs(self) -> tuple[list, list]:
        """The model's (name, parameter) and (name, gradient) pairs, checked to match."""
        params, grads = list(self.model.named_parameters()), list(self.model.named_grads())
        if [n for n, _ in params] != [n for n, _ in grads]:
            raise RnnkitError(
                "named_parameters() and named_grads() must give the same names in the same order, got "
                f"{[n for n, _ in params]} and {[n for n, _ in grads]}"
            )
        for (n, p), (_, g) in zip(params, grads):
            if np.shape(p) != np.shape(g):
                raise RnnkitError(f"parameter {n} has shape {np.shape(p)} but its gradient {np.shape(g)}")
        if self.shapes is not None and {n: np.shape(p) for n, p in params} != self.shapes:
            raise RnnkitError("the model's parameters changed names or shapes since the optimizer was built")
        return params, grads

    def _slices(self) -> Iterator[slice]:
        off = 0
        for n in self.names:
            size = int(np.prod(self.shapes[n]))
            yield slice(off, off + size)
            off += size

    def gather(self) -> None:
        """data <- the model's parameters, grad <- its gradients."""
        params, grads = self._pairs()
        for (_, p), (_, g), s in zip(params, grads, self._slices()):
            self.data[s] = np.ravel(p)
            self.grad[s] = np.ravel(g)

    def scatter(self) -> None:
        """The model's parameters and gradients <- data and grad (cast to their dtypes)."""
        params, grads = self._pairs()
        for (_, p), (_, g), s in zip(params, grads, self._slices()):
            p[...] = self.data[s].reshape(p.shape)
            g[...] = self.grad[s].reshape(g.shape)
