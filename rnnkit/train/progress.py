"""One training session's clock and progress display, shared by both trainers.

Both trainers (``rnnkit train`` and the task verbs) stop at ``--max-steps`` or when
``--minutes`` runs out, whichever comes first; a resumed run counts the time it had
already trained. How progress is shown depends on where stderr goes:

- a terminal: a bar redrawn in place. Without ``--minutes`` it counts steps to
  ``--max-steps``. With ``--minutes`` it counts the time budget (the total never changes;
  a total in steps re-estimated every step jumped 0/100000, 1/181, 2/127, ...), and the
  step is text beside it; the bar reads max(time used / budget, step / max_steps), so it
  also ends full when ``--max-steps`` comes first.
- anything else (a file, a pipe): a plain line after the first step and then one every
  ``PLAIN_EVERY_S`` seconds, with the step, the smoothed loss, the rate and the time
  left; no carriage returns, so a log of a long run stays a few lines.
"""

from __future__ import annotations

import math
import sys
import time

from tqdm import tqdm

PLAIN_EVERY_S = 20.0  # seconds between plain progress lines when stderr is not a terminal
BUDGET_BAR = "{percentage:3.0f}%|{bar}| {desc}"  # tqdm's bar_format with --minutes: the stats follow the bar


def expected_last_step(
    max_steps: int, step: int, elapsed_s: float, limit_s: float, steps_run: int, seconds_run: float
) -> int:
    """The step a run will end at: ``max_steps``, or earlier when the ``--minutes`` budget
    (``limit_s``) runs out first, extrapolated at this session's pace so far
    (``steps_run`` steps in ``seconds_run`` seconds, validation and saves included).
    What the time left is computed from."""
    if limit_s == float("inf") or steps_run <= 0 or seconds_run <= 0:
        return max_steps
    left = max(limit_s - elapsed_s, 0.0) * steps_run / seconds_run  # steps that fit
    return max(step, min(max_steps, step + math.ceil(left)))


class TrainingProgress:
    """The clock, the progress display and the smoothed loss of one session of a run.

    elapsed = the run's time when this session began + wall time since; the loss shown is
    an exponential moving average, ema <- 0.95 ema + 0.05 loss, of the finite steps.
    ``terminal``: whether stderr is one (None: ask it); it picks a bar or plain lines.
    """

    def __init__(
        self,
        max_steps: int,
        minutes: float,
        step: int,
        elapsed_s: float,
        show: bool,
        bpc: bool = False,
        terminal: bool | None = None,
        plain_every_s: float = PLAIN_EVERY_S,
    ):
        self.max_steps = max_steps
        self.limit_s = minutes * 60 if minutes else float("inf")
        self.start_wall = time.perf_counter()
        self.base_step, self.base_elapsed = step, elapsed_s  # where this session began
        self.bpc = bpc  # also show the loss in bits (LM)
        self.ema = None
        terminal = sys.stderr.isatty() if terminal is None else terminal
        self.plain = show and not terminal  # plain lines instead of a bar
        self.plain_every_s = plain_every_s
        self.last_plain = None  # perf_counter of the last plain line (None: none yet)
        self.budget_bar = self.limit_s != float("inf")  # the bar counts time, not steps
        if self.budget_bar:  # a fraction of the run, 0..1; the text beside it (desc) holds time and step
            kw = dict(total=1.0, initial=self._fraction(step, elapsed_s), bar_format=BUDGET_BAR, miniters=0)
        else:
            kw = dict(total=max_steps, initial=step, unit="step")
        self.bar = tqdm(**kw, disable=not show or self.plain, dynamic_ncols=True, file=sys.stderr)

    def elapsed(self) -> float:
        """The run's training time so far, in seconds."""
        return self.base_elapsed + (time.perf_counter() - self.start_wall)

    def finished(self, step: int, elapsed_s: float) -> bool:
        """True once ``--max-steps`` is reached or ``--minutes`` has run out."""
        return step >= self.max_steps or elapsed_s >= self.limit_s

    def seconds_left(self, step: int, elapsed_s: float) -> float | None:
        """Seconds until the run ends (at ``expected_last_step``), at this session's pace;
        None before a step of it has been timed."""
        steps_run, seconds_run = step - self.base_step, elapsed_s - self.base_elapsed
        if steps_run <= 0 or seconds_run <= 0:
            return None
        last = expected_last_step(self.max_steps, step, elapsed_s, self.limit_s, steps_run, seconds_run)
        return max(min((last - step) * seconds_run / steps_run, self.limit_s - elapsed_s), 0.0)

    def _fraction(self, step: int, elapsed_s: float) -> float:
        """How far the run is, 0..1: by time or by steps, whichever ends it first."""
        return min(max(elapsed_s / self.limit_s, step / self.max_steps), 1.0)

    def advance(self, step: int, elapsed_s: float, loss: float | None, **postfix: str) -> None:
        """Step ``step`` is done; ``loss`` is None for a skipped (non-finite) step. ``postfix``:
        more ``name=value`` pairs to show (the rate, the learning rate)."""
        if loss is not None:
            self.ema = loss if self.ema is None else 0.95 * self.ema + 0.05 * loss
        if (self.bar.disable and not self.plain) or (self.plain and not self._plain_line_due()):
            return  # --no-progress, or no plain line this step
        stats = {}
        if self.budget_bar:  # the bar counts time: the text gives it, and the step
            stats["time"] = f"{tqdm.format_interval(elapsed_s)}/{tqdm.format_interval(self.limit_s)}"
            stats["step"] = f"{step}"
        elif self.plain:
            stats["step"] = f"{step}/{self.max_steps}"
        if self.ema is not None:
            stats["loss"] = f"{self.ema:.3f}"
            if self.bpc:
                stats["bpc"] = f"{self.ema / math.log(2):.3f}"
            stats.update(postfix)
        left = self.seconds_left(step, elapsed_s)
        if (self.budget_bar or self.plain) and left is not None:  # a steps bar shows tqdm's own ETA
            stats["time_left"] = tqdm.format_interval(left)
        if self.plain:
            self.write(_pairs(stats))
        elif self.budget_bar:
            self.bar.update(self._fraction(step, elapsed_s) - self.bar.n)
            self.bar.set_description_str(_pairs(stats), refresh=False)
        else:
            self.bar.update(1)
            self.bar.set_postfix(stats, refresh=False)

    def _plain_line_due(self) -> bool:
        """Whether a plain line is due (after the first step, then every ``plain_every_s`` s);
        when it is, the next interval starts now."""
        now = time.perf_counter()
        if self.last_plain is not None and now - self.last_plain < self.plain_every_s:
            return False
        self.last_plain = now
        return True

    def write(self, line: str) -> None:
        """A line on stderr above the bar."""
        tqdm.write(line, file=sys.stderr)
        sys.stderr.flush()

    def close(self) -> None:
        self.bar.close()


def _pairs(stats: dict) -> str:
    """``name=value, ...``: the stats as tqdm shows a postfix."""
    return ", ".join(f"{k}={v}" for k, v in stats.items())
