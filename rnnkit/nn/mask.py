"""Variable-length batches: lengths -> a (T, B) 0/1 mask (right padding)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike


def lengths_to_mask(lengths: ArrayLike, T: int, dtype: DTypeLike = "float32") -> np.ndarray:
    """lengths (B,) -> mask (T, B): 1 where t < length[b] (right padding)."""
    lengths = np.asarray(lengths)
    if lengths.size and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(f"lengths must lie in [0, {T}], got {lengths.tolist()}")
    return (np.arange(T)[:, None] < lengths[None, :]).astype(dtype)
