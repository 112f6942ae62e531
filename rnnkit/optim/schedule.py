"""Learning-rate schedules, as pure functions of the step (so resuming needs only the step).

- ``constant``: lr
- ``step``:     lr * gamma ** (step // step_size)
- ``cosine``:   linear warmup over ``warmup`` steps to lr, then
                min_lr + (lr - min_lr) * (1 + cos(pi * progress)) / 2, where progress runs
                from 0 to 1 over the steps after warm-up up to ``max_steps`` — or over the
                time budget, if that fraction (``time_fraction``) is further along. A run
                limited by ``--minutes`` therefore still anneals; it is then paced by the
                clock, so only step-limited runs are bit-reproducible.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "step", "cosine")


def learning_rate(
    step: int,
    lr: float,
    schedule: str = "constant",
    max_steps: int = 0,
    warmup: int = 0,
    min_lr: float = 0.0,
    step_size: int = 1000,
    gamma: float = 0.5,
    time_fraction: float = 0.0,
) -> float:
    """The learning rate for 0-based ``step``."""
    if schedule == "constant":
        base = lr
    elif schedule == "step":
        base = lr * gamma ** (step // max(step_size, 1))
    elif schedule == "cosine":
        if step < warmup:
            return lr * (step + 1) / warmup
        span = max(max_steps - warmup, 1)
        progress = min(max((step - warmup) / span, time_fraction), 1.0)
        return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    return base
