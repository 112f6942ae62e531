"""An exponential moving average of the weights, kept beside training (``--ema D``).

After the n-th update θ_n of the flat (P,) weights:

    θ̄_1 = θ_1,    θ̄_n = d_n θ̄_(n-1) + (1 - d_n) θ_n,    d_n = min(D, (1 + n) / (10 + n))

The warm-up of d_n (the rule of TensorFlow's ``ExponentialMovingAverage`` with a step count)
keeps a short run's average from leaning on its first, poor weights: before n = (10 D - 1) /
(1 - D) (8,990 for D = 0.999), d_n = 1 - 9 / (10 + n) and the average spans about the last n / 9
updates; from there on, about the last 1 / (1 - D). Training goes on from θ; a run
validates and saves θ̄ (``Trainer.averaged_weights``).

The buffer is a numpy array or, for the torch engine's device-resident weights, a torch
tensor: only in-place arithmetic is used, which both support.
"""

from __future__ import annotations

from typing import Any


def _copy(a: Any) -> Any:
    """A copy of a numpy array or a torch tensor, same type, dtype and device."""
    return a.clone() if hasattr(a, "clone") else a.copy()


class WeightAverage:
    """θ̄ over the updates of ``data`` (P,); see the module docstring.

    >>> import numpy as np
    >>> w = np.zeros(2, np.float32)
    >>> avg = WeightAverage(0.9)
    >>> for step in (1.0, 2.0):
    ...     w += step
    ...     avg.update(w)                  # θ_1 = 1, θ_2 = 3
    >>> d2 = min(0.9, 3 / 12)             # 0.25
    >>> bool(np.allclose(avg.average, d2 * 1 + (1 - d2) * 3))
    True
    """

    def __init__(self, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"`ema` must lie in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0  # n
        self.average: Any = None  # θ̄ (P,), from the first update on

    def update(self, data: Any) -> None:
        """Fold in the weights after one more update."""
        self.updates += 1
        if self.average is None:
            self.average = _copy(data)
            return
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.average *= d
        self.average += (1 - d) * data

    def swap(self, data: Any) -> None:
        """Exchange, in place, the contents of ``data`` and the average (twice restores both)."""
        held = _copy(data)
        data[...] = self.average
        self.average[...] = held

    def resume(self, average: Any, updates: int) -> None:
        """Take up an average saved after ``updates`` updates."""
        self.average, self.updates = _copy(average), updates
