"""Linear layer applied to every time step at once: y_t = W h_t + b.

h (T, B, H) is viewed as (T*B, H) and multiplied in one GEMM; W is (V, H) and b (V,), as
``torch.nn.Linear`` stores them (``weight``, ``bias``). Backward:
    dh = dy W,   dW = dy^T h,   db = sum dy     (sums over all T*B rows)
"""

from __future__ import annotations

import numpy as np

from .init import uniform


class Linear:
    """y = x W^T + b over the last axis of x (…, H) -> (…, V).

    >>> head = Linear(4, 6, rng=np.random.default_rng(0))
    >>> y, cache = head.forward(np.ones((5, 2, 4), np.float32))   # (5, 2, 6)
    """

    def __init__(self, H: int, V: int, rng=None, dtype=np.float32):
        rng = rng if rng is not None else np.random.default_rng(0)
        k = 1.0 / np.sqrt(H)  # torch.nn.Linear's default bound
        self.H, self.V = H, V
        self.params = {"weight": uniform(rng, (V, H), k, dtype), "bias": uniform(rng, (V,), k, dtype)}
        self.grads = {key: np.zeros_like(v) for key, v in self.params.items()}

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x2 = x.reshape(-1, self.H)  # (N, H)
        y = x2 @ self.params["weight"].T  # (N, V)
        y += self.params["bias"]
        return y.reshape(x.shape[:-1] + (self.V,)), x2

    def backward(self, dy: np.ndarray, cache: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        x2 = cache
        dy2 = dy.reshape(-1, self.V)  # (N, V)
        np.matmul(dy2.T, x2, out=self.grads["weight"])
        np.sum(dy2, axis=0, out=self.grads["bias"])
        dx = dy2 @ self.params["weight"]  # (N, H)
        return dx.reshape(dy.shape[:-1] + (self.H,)), self.grads
