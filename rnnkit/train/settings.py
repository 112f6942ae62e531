"""The training settings both trainers share, their checks and their command-line flags.

``rnnkit train`` (``train_config.TrainConfig``) and the task verbs
(``task_config.TaskTrainConfig``) extend ``TrainSettings``: the model's size and
initialisation, the optimiser, clipping and learning-rate schedule, and the run's length.
A subclass may give a field another default by declaring it again. Each config is saved
as JSON in every checkpoint and read back by ``from_dict``, which checks every value's type,
so a damaged or hand-edited file ends in one line, not a traceback.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, fields

from rnnkit.errors import UserError
from rnnkit.models.shapes import stack
from rnnkit.nn.init import INPUT_INITS, RECURRENT_INITS
from rnnkit.optim.optimizers import OPTIMIZERS
from rnnkit.optim.schedule import SCHEDULES

from . import memory_budget

CLIP_MODES = ("norm", "value", "none")
NONFINITE = ("skip", "stop")
# The largest --lr and --min-lr (and --weight-decay) accepted. Adam and AdamW move each
# weight by about lr per step, so any lr near this bound is already useless; the bound only
# keeps values like 1e300 from turning the weights into Inf/NaN at the first update.
LR_MAX = 100.0


@dataclass
class TrainSettings:
    """The fields both trainers share, with their defaults (a subclass may declare a field
    again to change its default), ``validate`` for their ranges and choices, and the typed
    ``from_dict`` / ``to_dict`` of the saved JSON."""

    # model
    hidden: int = 128
    layers: int = 1
    embed: int = 0
    dropout: float = 0.0
    init: str = "uniform"
    input_init: str = "normal"  # one-hot input: its W_ih columns ~ N(0, 1); see init.py
    # optimisation
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    clip: float = 5.0
    clip_mode: str = "norm"
    schedule: str = "cosine"
    warmup: int = 0
    min_lr: float = 1e-4
    step_size: int = 1000
    gamma: float = 0.5
    nonfinite: str = "skip"
    # length and bookkeeping
    max_steps: int = 2000
    minutes: float = 0.0  # 0: no time limit
    seed: int = 1337
    max_memory: float = 0.0  # GiB the run may use; 0: the memory available (memory_budget.py)
    eval_every: int = 250
    log_every: int = 10
    progress: bool = True
    fault_nan_step: int = -1  # testing only: poison the gradient at this step

    def check_positive(self, *names: str) -> None:
        for n in names:
            if getattr(self, n) < 1:
                raise UserError(f"--{n.replace('_', '-')} must be positive, got {getattr(self, n)}")

    def check_non_negative(self, *names: str) -> None:
        for n in names:
            if getattr(self, n) < 0:
                raise UserError(f"--{n.replace('_', '-')} must be non-negative, got {getattr(self, n)}")

    def check_choices(self, *pairs) -> None:
        """``pairs``: (field name, allowed values)."""
        for name, allowed in pairs:
            if getattr(self, name) not in allowed:
                raise UserError(
                    f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, "
                    f"got {getattr(self, name)!r}"
                )

    def check_finite(self) -> None:
        """Every float field is a finite number: NaN and Inf are refused for all of them."""
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise UserError(f"--{f.name.replace('_', '-')} must be a finite number, got {v}")

    def validate(self) -> None:
        """Every shared setting in range; a subclass checks its own fields, then calls this.

        Every float is finite; --lr lies in (0, LR_MAX], --min-lr and --weight-decay in
        [0, LR_MAX], --gamma (a decay factor) in (0, 1]; --seed is non-negative. Last, a lower
        bound of the training memory (the RNN stack alone, one step of one sequence) is
        checked, so an impossible --hidden or --layers is refused before any data is read;
        the trainers check the whole model once its vocabulary is known.
        """
        self.check_finite()
        self.check_positive("hidden", "layers", "max_steps", "eval_every", "log_every", "step_size")
        self.check_non_negative(
            "embed", "minutes", "warmup", "weight_decay", "clip", "min_lr", "seed", "max_memory"
        )
        if not 0 < self.lr <= LR_MAX:
            raise UserError(f"--lr must lie in (0, {LR_MAX:g}], got {self.lr}")
        for name in ("min_lr", "weight_decay"):
            if getattr(self, name) > LR_MAX:
                raise UserError(
                    f"--{name.replace('_', '-')} must be at most {LR_MAX:g}, got {getattr(self, name)}"
                )
        if not 0.0 <= self.momentum < 1.0:
            raise UserError(f"--momentum must lie in [0, 1), got {self.momentum}")
        if not 0 < self.gamma <= 1:
            raise UserError(f"--gamma must be positive and at most 1 (a decay factor), got {self.gamma}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"--dropout must lie in [0, 1), got {self.dropout}")
        self.check_choices(
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("init", RECURRENT_INITS),
            ("input_init", INPUT_INITS),
            ("clip_mode", CLIP_MODES),
            ("nonfinite", NONFINITE),
        )
        self.check_memory([stack("rnn.", 1, self.hidden, self.layers)], 1, 1)

    def check_memory(self, parts, T: int, B: int) -> None:
        """Refuse a model (``model_shapes`` parts) whose training, T steps of B sequences at a
        time, would not fit in --max-memory or the memory available (``memory_budget``)."""
        memory_budget.check_training(parts, T, B, self.optimizer, self.max_memory)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        """From saved JSON: unknown keys are ignored, and each value must have its field's type
        (an int may stand for a float); anything else is a ``UserError``, never a crash later."""
        if not isinstance(d, dict):
            raise UserError(f"the training configuration must be a JSON object, got {type(d).__name__}")
        default = cls()
        kw = {}
        for f in fields(cls):
            if f.name not in d:
                continue
            v, want = d[f.name], type(getattr(default, f.name))
            ok = (isinstance(v, want) and not (want is int and isinstance(v, bool))) or (
                want is float and isinstance(v, int) and not isinstance(v, bool)
            )
            if want is list:
                ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
            if not ok:
                raise UserError(
                    f"the saved training configuration has {f.name} = {v!r}, "
                    f"which is not of type {want.__name__}"
                )
            kw[f.name] = v
        return cls(**kw)


def add_optimisation_flags(p: argparse.ArgumentParser, D: TrainSettings) -> None:
    """The optimisation group, with ``D`` 's defaults, for every ``train`` verb."""
    g = p.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=OPTIMIZERS, help=f"update rule (default {D.optimizer})")
    g.add_argument("--lr", type=float, help=f"peak learning rate (default {D.lr})")
    g.add_argument("--momentum", type=float, help=f"SGD momentum (default {D.momentum})")
    g.add_argument(
        "--weight-decay",
        type=float,
        help=f"L2 (adam) or decoupled (adamw) weight decay (default {D.weight_decay:g})",
    )
    g.add_argument("--clip", type=float, help=f"gradient clipping threshold, 0 for none (default {D.clip})")
    g.add_argument(
        "--clip-mode",
        choices=CLIP_MODES,
        help=f"clip the global L2 norm, or each element (default {D.clip_mode})",
    )
    g.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help=f"learning-rate schedule; cosine anneals over --max-steps or --minutes, whichever is further along (default {D.schedule})",
    )
    g.add_argument("--warmup", type=int, help=f"linear warm-up steps (default {D.warmup})")
    g.add_argument(
        "--min-lr", type=float, help=f"final learning rate of the cosine schedule (default {D.min_lr})"
    )
    g.add_argument(
        "--step-size", type=int, help=f"steps between decays of the step schedule (default {D.step_size})"
    )
    g.add_argument("--gamma", type=float, help=f"decay factor of the step schedule (default {D.gamma})")
    g.add_argument(
        "--nonfinite",
        choices=NONFINITE,
        help=f"on a NaN/Inf loss or gradient: skip the step and halve the learning rate, or stop (default {D.nonfinite})",
    )


def add_memory_flag(g) -> None:
    """``--max-memory``, in a ``train`` verb's run group."""
    g.add_argument(
        "--max-memory",
        type=float,
        metavar="GIB",
        help="refuse to start when the estimated training memory (weights, gradients, optimizer "
        "state, one step's activations) exceeds this many GiB (default: the memory available); "
        "raise it to run anyway",
    )
