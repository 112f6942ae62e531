"""What a training loop does with a step whose loss or gradient is NaN or Inf.

The trainers check ``isfinite(loss)`` and ``isfinite(||g||)`` *before* the update, so a bad
step never touches the weights or the optimizer state. Then, by ``--nonfinite``:

- ``skip``: the step is dropped and the learning rate halved (``lr_scale *= 0.5``); after
  ``MAX_SKIPS`` bad steps in a row the run stops anyway, since it is not recovering;
- ``stop``: the run stops at once (``TrainingFailed``) with a message saying which
  checkpoint is kept.

A finite gradient can still make the update itself overflow (a huge learning rate or weight
decay). So after each update the trainers also check the weights (``weights_finite``, one
pass over the flat buffer); non-finite weights stop the run whatever the policy, since the
update cannot be taken back, and the message says which checkpoint is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rnnkit.errors import TrainingFailed

from . import checkpoint as ckpt

if TYPE_CHECKING:  # trainer.py imports this module; lm_engine imports torch
    from rnnkit.nn.params import FlatParams
    from rnnkit.torch.lm_engine import DeviceFlat

    from .trainer import Trainer

MAX_SKIPS = 10


def weights_finite(flat: FlatParams | DeviceFlat) -> bool:
    """Whether every weight in ``flat.data`` (NumPy, or a torch tensor on the model's device)
    is finite. NumPy: a float64 sum, finite iff every term is (float32 values cannot overflow
    it), and no buffer the size of the model is allocated."""
    d = flat.data
    if isinstance(d, np.ndarray):
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN: that is the answer
            return bool(np.isfinite(np.sum(d, dtype=np.float64)))
    return bool(d.isfinite().all())


def kept_message(out: Path) -> str:
    """What a stopped run leaves in run directory ``out``, for its last message."""
    return (
        f"the last good checkpoint is kept in {out / 'last'}"
        if ckpt.has_checkpoint(out)
        else "no checkpoint had been saved yet"
    )


class NonFiniteGuard:
    def __init__(self, policy: str):
        self.policy = policy
        self.skips = 0

    def ok(self) -> None:
        self.skips = 0

    def bad(self, tr: Trainer) -> str:
        """Record a bad step of trainer ``tr`` (which just advanced ``tr.step``): halve
        ``tr.lr_scale`` and return the line that says so, or raise ``TrainingFailed`` when the
        run must stop (policy ``stop``, or more than ``MAX_SKIPS`` bad steps in a row)."""
        self.skips += 1
        step, out = tr.step - 1, Path(tr.out)
        if self.policy == "stop" or self.skips > MAX_SKIPS:
            why = "`nonfinite` stop" if self.policy == "stop" else f"{self.skips} steps in a row"
            raise TrainingFailed(
                f"non-finite loss or gradient at step {step} ({why}); the update was "
                f"not applied and {kept_message(out)}. Lower `lr` or `clip`, then `resume` {out}"
            )
        tr.lr_scale *= 0.5
        return (
            f"step {step}: non-finite loss or gradient; step skipped, "
            f"learning rate halved (now x{tr.lr_scale:g})"
        )

    def diverged(self, tr: Trainer) -> TrainingFailed:
        """The error to stop with when the update of step ``tr.step - 1`` left non-finite weights."""
        out = Path(tr.out)
        then = (
            f"then `resume` {out}"
            if ckpt.has_checkpoint(out)
            else f"then start again (`force` to reuse {out})"
        )
        return TrainingFailed(
            f"the weights became NaN or Inf in the update at step {tr.step - 1} (the learning "
            f"rate or weight decay is too large for this model); nothing of it was saved and "
            f"{kept_message(out)}. "
            f"Lower `lr` or `weight_decay`, {then}"
        )
