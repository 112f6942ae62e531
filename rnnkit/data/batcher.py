"""Truncated-BPTT batches in char-rnn's layout.

The training ids (N,) are cut into B contiguous streams of L = (N - 1) // B predictions:

    stream b: inputs ids[b L : (b+1) L],  targets ids[b L + 1 : (b+1) L + 1]

and each stream is read in order, T steps at a time. Chunk k of an epoch is the (T, B)
block of steps [k T, min((k+1) T, L)); the last chunk of an epoch may be shorter. Column b
of chunk k+1 continues column b of chunk k, which is what lets the trainer carry the
hidden state across chunks. Every one of the B*L predicted positions is visited exactly
once per epoch; the (N - 1) mod B left over at the end are not (fewer than B characters).

Rotated epochs (``rotate=True``): epoch e > 0 reads every stream r_e positions further on,
wrapping around the B*L positions (position p reads p' = (p + r_e) mod B L), with r_e drawn
in [0, L) from (seed, e). The chunks, their truncation points and which text shares a batch
then change from epoch to epoch, while each position is still read once per epoch. Epoch 0
is the plain layout, and r_e depends only on (seed, e), so a resumed run reads the same.
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

    def __init__(self, n: int, B: int, T: int, rotate: bool = False, seed: int = 0):
        if B < 1 or T < 1:
            raise RnnkitError(f"`batch` and `seq_len` must be at least 1 (got {B}, {T})")
        self.n, self.B, self.T = n, B, T
        self.rotate, self.seed = rotate, seed
        self._rotations: dict[int, int] = {}  # epoch -> r_e, drawn once per epoch, not per chunk
        self.L = (n - 1) // B
        if self.L < 1:
            raise RnnkitError(
                f"the training text ({n} characters) is too short for one batch of "
                f"{B} streams; use a smaller `batch` or more text"
            )
        self.starts = np.arange(B, dtype=np.int64) * self.L  # (B,)
        self.chunks_per_epoch = -(-self.L // T)

    def rotation(self, epoch: int) -> int:
        """r_e: how far epoch ``epoch`` reads the streams on (0 without ``rotate`` and in epoch 0)."""
        if not self.rotate or epoch == 0:
            return 0
        if epoch not in self._rotations:
            self._rotations[epoch] = int(np.random.default_rng([self.seed, epoch]).integers(self.L))
        return self._rotations[epoch]

    def positions(self, k: int, epoch: int = 0) -> np.ndarray:
        """(T', B) input positions of chunk k in ``epoch`` (the targets are the next positions)."""
        t0 = k * self.T
        t1 = min(t0 + self.T, self.L)
        p = self.starts[None, :] + np.arange(t0, t1, dtype=np.int64)[:, None]  # (T', B)
        r = self.rotation(epoch)
        return p if r == 0 else (p + r) % (self.B * self.L)

    def chunk(self, ids: np.ndarray, k: int, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Chunk k (0-based within an epoch) -> (x (T', B), y (T', B)) as int64."""
        if not 0 <= k < self.chunks_per_epoch:
            raise IndexError(f"chunk {k} out of range [0, {self.chunks_per_epoch})")
        p = self.positions(k, epoch)  # (T', B)
        x = np.asarray(ids[p], dtype=np.int64)
        y = np.asarray(ids[p + 1], dtype=np.int64)
        return x, y
