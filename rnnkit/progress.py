"""The training progress bar's total under a time budget.

Both trainers (``rnnkit train`` and the task verbs) stop at ``--max-steps`` or when
``--minutes`` runs out, whichever comes first. A bar whose total is always ``--max-steps``
would end a time-limited run at a few percent with an ETA of hours, so its total is
re-estimated every step by ``expected_last_step``.
"""
from __future__ import annotations

import math


def expected_last_step(max_steps: int, step: int, elapsed_s: float, limit_s: float,
                       steps_run: int, seconds_run: float) -> int:
    """The step a run will end at: ``max_steps``, or earlier when the ``--minutes`` budget
    (``limit_s``) runs out first, extrapolated at this session's pace so far
    (``steps_run`` steps in ``seconds_run`` seconds, validation and saves included).
    The progress bar's total, so that the bar and its ETA end when the run does."""
    if limit_s == float("inf") or steps_run <= 0 or seconds_run <= 0:
        return max_steps
    left = max(limit_s - elapsed_s, 0.0) * steps_run / seconds_run             # steps that fit
    return max(step, min(max_steps, step + math.ceil(left)))
