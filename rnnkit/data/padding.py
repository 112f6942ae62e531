"""Batches of variable-length sequences: right padding, lengths, masks, shuffled minibatches.

For sequences s_b of lengths n_b (b = 1..B) and T = max_b n_b:

    ids[t, b]  = s_b[t] for t < n_b, else PAD          (T, B) int64
    mask[t, b] = 1 if t < n_b else 0                    (T, B)

Time-major (T, B), as the engine wants. Teacher forcing for a target y_1..y_n:

    decoder input  = BOS y_1 ... y_n        decoder target = y_1 ... y_n EOS

so the step that reads y_{t-1} is trained to emit y_t, and the last one to emit EOS.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from rnnkit.nn.mask import lengths_to_mask

from .token_vocab import BOS, EOS, PAD


def pad_batch(
    seqs: Sequence[Sequence[int]], pad_id: int = PAD, dtype: DTypeLike = "float64"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sequences of ids -> (ids (T, B) int64, lengths (B,) int64, mask (T, B) of ``dtype``)."""
    if len(seqs) == 0:
        raise ValueError("cannot pad an empty batch")
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)  # (B,)
    T = int(lengths.max())
    ids = np.full((T, len(seqs)), pad_id, dtype=np.int64)  # (T, B)
    for b, s in enumerate(seqs):
        ids[: len(s), b] = s
    return ids, lengths, lengths_to_mask(lengths, T, dtype)


def teacher_forcing(
    targets: Sequence[Sequence[int]],
    bos_id: int = BOS,
    eos_id: int = EOS,
    pad_id: int = PAD,
    dtype: DTypeLike = "float64",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets without specials -> (dec_in (T, B), dec_out (T, B), mask (T, B)), T = max n + 1."""
    dec_in, _, mask = pad_batch([[bos_id] + list(t) for t in targets], pad_id, dtype)
    dec_out, _, _ = pad_batch([list(t) + [eos_id] for t in targets], pad_id, dtype)
    return dec_in, dec_out, mask


def minibatches(
    n: int, batch_size: int, rng: np.random.Generator | None = None, drop_last: bool = False
) -> Iterator[np.ndarray]:
    """Index arrays covering range(n) once: shuffled by ``rng`` (in order when None).

    Deterministic given the generator's state; the generator advances by one permutation.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    order = np.arange(n) if rng is None else rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        yield order[i : i + batch_size]


def resolve_mask(
    T: int,
    B: int,
    mask: ArrayLike | None = None,
    lengths: ArrayLike | None = None,
    dtype: DTypeLike = np.float64,
) -> np.ndarray | None:
    """The (T, B) mask from either ``mask`` or ``lengths`` (B,); None when neither is given."""
    if mask is not None and lengths is not None:
        raise ValueError("give a mask or lengths, not both")
    if lengths is not None:
        lengths = np.asarray(lengths)
        if lengths.shape != (B,):
            raise ValueError(f"lengths must be ({B},), got {lengths.shape}")
        return lengths_to_mask(lengths, T, dtype)
    if mask is not None:
        mask = np.asarray(mask, dtype=dtype)
        if mask.shape != (T, B):
            raise ValueError(f"mask must be ({T}, {B}), got {mask.shape}")
    return mask
