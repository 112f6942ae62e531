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
from typing import Any  # any object with the settings below (train/ is a later layer)

SCHEDULES = ("constant", "step", "cosine")


def learning_rate(step: int, settings: Any, time_fraction: float = 0.0) -> float:
    """The learning rate for 0-based ``step`` under ``settings``, any object with the
    attributes ``lr``, ``schedule``, ``max_steps``, ``warmup``, ``min_lr``, ``step_size`` and
    ``gamma`` (a training configuration, ``train/settings.py``)."""
    lr, schedule, warmup = settings.lr, settings.schedule, settings.warmup
    if schedule == "constant":
        base = lr
    elif schedule == "step":
        base = lr * settings.gamma ** (step // max(settings.step_size, 1))
    elif schedule == "cosine":
        if step < warmup:
            return lr * (step + 1) / warmup
        span = max(settings.max_steps - warmup, 1)
        progress = min(max((step - warmup) / span, time_fraction), 1.0)
        return settings.min_lr + (lr - settings.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    return base
