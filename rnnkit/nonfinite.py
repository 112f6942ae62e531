"""What a training loop does with a step whose loss or gradient is NaN or Inf.

The trainers check ``isfinite(loss)`` and ``isfinite(||g||)`` *before* the update, so a bad
step never touches the weights or the optimizer state. Then, by ``--nonfinite``:

- ``skip``: the step is dropped and the learning rate halved (``lr_scale *= 0.5``); after
  ``MAX_SKIPS`` bad steps in a row the run stops anyway, since it is not recovering;
- ``stop``: the run stops at once with a message saying which checkpoint is kept.
"""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from . import checkpoint as ckpt

MAX_SKIPS = 10


class NonFiniteGuard:
    def __init__(self, policy: str):
        self.policy = policy
        self.skips = 0

    def ok(self) -> None:
        self.skips = 0

    def bad(self, tr) -> str | None:
        """Record a bad step of trainer ``tr`` (which just advanced ``tr.step``).

        Returns the error message to stop with, or None after halving ``tr.lr_scale``.
        """
        self.skips += 1
        step, out = tr.step - 1, Path(tr.out)
        if self.policy == "stop" or self.skips > MAX_SKIPS:
            why = "--nonfinite stop" if self.policy == "stop" else f"{self.skips} steps in a row"
            kept = (f"the last good checkpoint is kept in {out / 'last'}" if ckpt.has_checkpoint(out)
                    else "no checkpoint had been saved yet")
            return (f"rnnkit: error: non-finite loss or gradient at step {step} ({why}); the update was "
                    f"not applied and {kept}. Lower --lr or --clip, then --resume {out}")
        tr.lr_scale *= 0.5
        tqdm.write(f"step {step}: non-finite loss or gradient; step skipped, "
                   f"learning rate halved (now x{tr.lr_scale:g})", file=sys.stderr)
        return None
