"""Variable-length batches: lengths -> a (T, B) 0/1 mask (right padding)."""

from __future__ import annotations

import numpy as np


def lengths_to_mask(lengths, T: int, dtype="float32"):
    """lengths (B,) -> mask (T, B): 1 where t < length[b] (right padding)."""
    lengths = np.asarray(lengths)
    if lengths.size and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(f"lengths must lie in [0, {T}], got {lengths.tolist()}")
    return (np.arange(T)[:, None] < lengths[None, :]).astype(dtype)
