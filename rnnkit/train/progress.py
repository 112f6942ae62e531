"""One training session's clock and progress bar, shared by both trainers.

Both trainers (``rnnkit train`` and the task verbs) stop at ``--max-steps`` or when
``--minutes`` runs out, whichever comes first; a resumed run counts the time it had
already trained. A bar whose total is always ``--max-steps`` would end a time-limited run
at a few percent with an ETA of hours, so its total is re-estimated every step by
``expected_last_step``, and the bar shows the time left.
"""

from __future__ import annotations

import math
import sys
import time

from tqdm import tqdm


def expected_last_step(
    max_steps: int, step: int, elapsed_s: float, limit_s: float, steps_run: int, seconds_run: float
) -> int:
    """The step a run will end at: ``max_steps``, or earlier when the ``--minutes`` budget
    (``limit_s``) runs out first, extrapolated at this session's pace so far
    (``steps_run`` steps in ``seconds_run`` seconds, validation and saves included).
    The progress bar's total, so that the bar and its ETA end when the run does."""
    if limit_s == float("inf") or steps_run <= 0 or seconds_run <= 0:
        return max_steps
    left = max(limit_s - elapsed_s, 0.0) * steps_run / seconds_run  # steps that fit
    return max(step, min(max_steps, step + math.ceil(left)))


class TrainingProgress:
    """The clock, the bar and the smoothed loss of one session of a run.

    elapsed = the run's time when this session began + wall time since; the loss shown is
    an exponential moving average, ema <- 0.95 ema + 0.05 loss, of the finite steps.
    """

    def __init__(
        self, max_steps: int, minutes: float, step: int, elapsed_s: float, show: bool, bpc: bool = False
    ):
        self.max_steps = max_steps
        self.limit_s = minutes * 60 if minutes else float("inf")
        self.start_wall = time.perf_counter()
        self.base_step, self.base_elapsed = step, elapsed_s  # where this session began
        self.bpc = bpc  # also show the loss in bits (LM)
        self.ema = None
        self.bar = tqdm(
            total=max_steps, initial=step, unit="step", disable=not show, dynamic_ncols=True, file=sys.stderr
        )

    def elapsed(self) -> float:
        """The run's training time so far, in seconds."""
        return self.base_elapsed + (time.perf_counter() - self.start_wall)

    def finished(self, step: int, elapsed_s: float) -> bool:
        """True once ``--max-steps`` is reached or ``--minutes`` has run out."""
        return step >= self.max_steps or elapsed_s >= self.limit_s

    def advance(self, step: int, elapsed_s: float, loss: float | None, **postfix: str) -> None:
        """Step ``step`` is done; ``loss`` is None for a skipped (non-finite) step."""
        if loss is not None:
            self.ema = loss if self.ema is None else 0.95 * self.ema + 0.05 * loss
        if self.limit_s != float("inf"):
            self.bar.total = expected_last_step(
                self.max_steps,
                step,
                elapsed_s,
                self.limit_s,
                step - self.base_step,
                elapsed_s - self.base_elapsed,
            )
        self.bar.update(1)
        if self.ema is None:
            return
        post = {"loss": f"{self.ema:.3f}"}
        if self.bpc:
            post["bpc"] = f"{self.ema / math.log(2):.3f}"
        post.update(postfix)
        if self.limit_s != float("inf"):
            post["time_left"] = f"{max(self.limit_s - elapsed_s, 0) / 60:.1f}min"
        self.bar.set_postfix(post, refresh=False)

    def write(self, line: str) -> None:
        """A line on stderr above the bar."""
        tqdm.write(line, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()
