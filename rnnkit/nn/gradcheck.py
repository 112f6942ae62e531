"""Numerical gradient checking by centered differences.

    df/dθ_i ≈ (f(θ + ε e_i) - f(θ - ε e_i)) / 2ε          (error O(ε²))
    rel_err = max_i |a_i - n_i| / max(|a_i| + |n_i|, tiny)

Run it in float64: with ε = 1e-6 the truncation error is ~1e-12 and rounding ~1e-10, so a
correct backward pass gives rel_err far below 1e-6, and any bug shows up as ~1e-2 or worse.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numeric_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f() / d x, where f reads x (modified in place and restored)."""
    g = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def rel_error(a: np.ndarray, n: np.ndarray) -> float:
    """Largest elementwise relative error, with tiny entries on both sides counted as agreeing."""
    a = np.asarray(a, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    denom = np.maximum(np.abs(a) + np.abs(n), 1e-8)
    return float(np.max(np.abs(a - n) / denom)) if a.size else 0.0
