"""``Embedding``, ``Linear`` and ``CrossEntropyLoss``: the engine's pieces as layers you call.

Each is a ``module.Module`` over the engine piece the models use (``embedding.py``,
``linear.py``, ``softmax_cross_entropy.py``), with the contract of its ``torch.nn`` namesake:
``y = layer(x)``, ``dx = layer.backward(dy)`` through the last call, which adds into the
parameter gradients, and the parameter names ``weight`` and ``bias``. With ``rnnkit.RNN``
(``rnn.py``) they compose into a model:

>>> emb, head, ce = Embedding(10, 4, seed=0), Linear(4, 10, seed=1), CrossEntropyLoss()
>>> ids = np.array([[1, 2, 3]])                    # (B=1, T=3)
>>> logits = head(emb(ids))                        # (1, 3, 4) -> (1, 3, 10)
>>> loss = ce(logits, np.array([[2, 3, 4]]))       # mean nats per target
>>> emb.backward(head.backward(ce.backward()))     # None: ids have no gradient
>>> [name for name, _ in head.named_grads()]
['weight', 'bias']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import RnnkitError
from . import embedding, linear
from .module import Layer
from .softmax_cross_entropy import softmax_cross_entropy


def _check_size(what: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise RnnkitError(f"{what} must be a positive integer, got {value!r}")


def _check_shape(what: str, a: np.ndarray, want: tuple, rule: str) -> None:
    """One line naming the expected shape (how it follows, ``rule``, and its value) and the given one."""
    if a.shape != want:
        raise RnnkitError(f"{what} must have shape {rule} = {want}, got {a.shape}")


class Embedding(Layer):
    """y = W[ids]: a learned table W (num_embeddings V, embedding_dim E), ``torch.nn.Embedding``.

    ids (...) integers in [0, V) -> y (..., E). W starts N(0, 1), as torch's. ``backward(dy)``
    adds dW = onehot(ids)^T dy (a scatter-add of the dy rows) into ``weight`` 's gradient and
    returns None: integer ids have no gradient.
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, dtype: Any = np.float32, seed: int | None = None
    ):
        _check_size("num_embeddings", num_embeddings)
        _check_size("embedding_dim", embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.dtype = np.dtype(dtype)
        self.engine = embedding.Embedding(num_embeddings, embedding_dim, np.random.default_rng(seed), dtype)
        super().__init__(self.engine.params, ["weight"])

    def forward(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise RnnkitError(f"ids must be integers, got dtype {ids.dtype}")
        y, self._cache = self.engine.forward(ids)  # (..., E); raises for ids out of range
        return y

    def backward(self, dy: np.ndarray) -> None:
        ids = self._last_cache()
        dy = np.asarray(dy, dtype=self.dtype)
        _check_shape("dy", dy, ids.shape + (self.embedding_dim,), "ids.shape + (embedding_dim,)")
        _, grads = self.engine.backward(dy, ids)
        self._accumulate(grads)
        return None


class Linear(Layer):
    """y = x W^T + b over the last axis, ``torch.nn.Linear``: x (..., in_features D) ->
    y (..., out_features V); W (V, D) and b (V,) start U(-1/sqrt(D), 1/sqrt(D)), as torch's.

    ``backward(dy)`` returns dx = dy W and adds dW = dy^T x and db = sum dy (over every row
    of the leading axes) into the gradients. ``bias=False``: no ``bias`` parameter.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = np.float32,
        seed: int | None = None,
    ):
        _check_size("in_features", in_features)
        _check_size("out_features", out_features)
        self.in_features, self.out_features, self.bias = in_features, out_features, bias
        self.dtype = np.dtype(dtype)
        self.engine = linear.Linear(in_features, out_features, np.random.default_rng(seed), dtype)
        super().__init__(self.engine.params, ["weight", "bias"] if bias else ["weight"])

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise RnnkitError(f"x must have shape (..., {self.in_features}) (in_features), got {x.shape}")
        y, cache = self.engine.forward(x)  # (..., V)
        self._cache = (cache, x.shape)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        cache, x_shape = self._last_cache()
        dy = np.asarray(dy, dtype=self.dtype)
        want = x_shape[:-1] + (self.out_features,)
        _check_shape("dy", dy, want, "(..., out_features)")
        dx, grads = self.engine.backward(dy, cache)  # (..., D)
        self._accumulate(grads)
        return dx


class CrossEntropyLoss(Layer):
    """Softmax cross-entropy, mean over the counted items, ``torch.nn.CrossEntropyLoss``:

        loss = - sum_i m_i log softmax(logits_i)[c_i] / sum_i m_i,   m_i = (c_i != ignore_index)

    ``loss = ce(logits, targets)``: logits (..., C) with the classes on the LAST axis (torch
    puts them on axis 1 when there are more than two axes; for (N, C) the two agree), targets
    (...) integers in [0, C) or ``ignore_index``. Returns a float. With every target ignored
    the loss is 0 (torch gives NaN). ``ce.backward(grad=1.0)`` returns dlogits =
    grad * m_i (softmax(logits_i) - onehot(c_i)) / sum m, shaped like logits. No parameters.
    """

    def __init__(self, ignore_index: int = -100):
        self.ignore_index = ignore_index
        super().__init__({}, [])

    def forward(self, logits: np.ndarray, targets: np.ndarray) -> float:
        logits, targets = np.asarray(logits), np.asarray(targets)
        if not np.issubdtype(logits.dtype, np.floating):
            logits = logits.astype(np.float64)
        if logits.ndim == 0:
            raise RnnkitError(f"logits must have shape (..., C), got {logits.shape}")
        _check_shape("targets", targets, logits.shape[:-1], "logits.shape[:-1]")
        if not np.issubdtype(targets.dtype, np.integer):
            raise RnnkitError(f"targets must be integers, got dtype {targets.dtype}")
        keep = targets != self.ignore_index  # (...,)
        all_kept = bool(keep.all())
        mask = None if all_kept else keep
        # ignored positions get class 0, which the mask then weighs 0
        counted = targets if all_kept else np.where(keep, targets, 0)
        loss, _, _, self._cache = softmax_cross_entropy(logits, counted, mask)  # raises out of [0, C)
        return loss

    def backward(self, grad: float = 1.0) -> np.ndarray:
        """dloss/dlogits of the last call, times ``grad`` (the gradient arriving at the loss)."""
        return self._last_cache() * grad  # the cache is dlogits, computed with the loss
