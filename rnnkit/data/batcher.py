"""Truncated-BPTT batches in char-rnn's layout.

The training ids (N,) are cut into B contiguous streams of L = (N - 1) // B predictions:

    stream b: inputs ids[b L : (b+1) L],  targets ids[b L + 1 : (b+1) L + 1]

and each stream is read in order, T steps at a time. Chunk k of an epoch is the (T, B)
block of steps [k T, min((k+1) T, L)); the last chunk of an epoch may be shorter. Column b
of chunk k+1 continues column b of chunk k, which is what lets the trainer carry the
hidden state across chunks. Every one of the B*L predicted positions is visited exactly
once per epoch; the (N - 1) mod B left over at the end are not (fewer than B characters).
"""

from __future__ import annotations

import numpy as np

from rnnkit.errors import RnnkitError


class StreamBatcher:
    """Chunks (x (T, B), y (T, B)) of a 1-D id array, read on demand (the array may be a memmap).

    >>> b = StreamBatcher(n=101, B=2, T=8)
    >>> b.L, b.chunks_per_epoch
    (50, 7)
    """

    def __init__(self, n: int, B: int, T: int):
        if B < 1 or T < 1:
            raise RnnkitError(f"`batch` and `seq_len` must be at least 1 (got {B}, {T})")
        self.n, self.B, self.T = n, B, T
        self.L = (n - 1) // B
        if self.L < 1:
            raise RnnkitError(
                f"the training text ({n} characters) is too short for one batch of "
                f"{B} streams; use a smaller `batch` or more text"
            )
        self.starts = np.arange(B, dtype=np.int64) * self.L  # (B,)
        self.chunks_per_epoch = -(-self.L // T)

    def positions(self, k: int) -> np.ndarray:
        """(T'+1, B) absolute positions read by chunk k (inputs are rows :-1, targets 1:)."""
        t0 = k * self.T
        t1 = min(t0 + self.T, self.L)
        return self.starts[None, :] + np.arange(t0, t1 + 1, dtype=np.int64)[:, None]

    def chunk(self, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk k (0-based within an epoch) -> (x (T', B), y (T', B)) as int64."""
        if not 0 <= k < self.chunks_per_epoch:
            raise IndexError(f"chunk {k} out of range [0, {self.chunks_per_epoch})")
        block = np.asarray(ids[self.positions(k)], dtype=np.int64)  # (T'+1, B)
        return block[:-1], block[1:]
