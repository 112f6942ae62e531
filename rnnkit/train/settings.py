"""The training settings both trainers share, their checks and their command-line flags.

``rnnkit train`` (``lm_config.TrainConfig``) and the task verbs
(``task_config.TaskTrainConfig``) extend ``TrainSettings``: the model's size and
initialisation, the optimiser, clipping and learning-rate schedule, and the run's length.
Each field is declared once, with its help, bounds and resume rule, by the option of its
argparse group (``model_option`` and the like below: ``options.option`` with the group given
once); its flag, its checks and the resume whitelist follow from that. A subclass may give a
field another default by declaring it again. Each config is saved as JSON in every checkpoint and
read back by ``from_dict``, which checks every value's type, so a damaged or hand-edited file
ends in one line, not a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from rnnkit.errors import RnnkitError
from rnnkit.models.backbone import DROPOUT_MODES
from rnnkit.models.shapes import stack
from rnnkit.nn.init import INPUT_INITS, RECURRENT_INITS
from rnnkit.optim.optimizers import OPTIMIZERS
from rnnkit.optim.schedule import SCHEDULES

from . import memory_budget
from .options import check_options, options_in
from .progress import PLAIN_EVERY_S

CLIP_MODES = ("norm", "value", "none")
NONFINITE = ("skip", "stop")
# The largest --lr and --min-lr (and --weight-decay) accepted. Adam and AdamW move each
# weight by about lr per step, so any lr near this bound is already useless; the bound only
# keeps values like 1e300 from turning the weights into Inf/NaN at the first update.
LR_MAX = 100.0
# The step limit of a run given --minutes and no --max-steps, beyond any run's reach (10^9
# steps of a millisecond take eleven days): its time budget ends it.
NO_STEP_LIMIT = 10**9

# The options of each argparse group, the group given once (``options.options_in``); the data
# options are each config's own.
data_option = options_in("data")
model_option = options_in("model")
optimisation_option = options_in("optimisation")
run_option = options_in("run")


@dataclass
class TrainSettings:
    """The fields both trainers share, each with its option (help, group, bounds, resume rule),
    ``validate`` for their ranges and choices, and the typed ``from_dict`` / ``to_dict`` of the
    saved JSON."""

    # model
    hidden: int = model_option(128, "hidden units H per layer", ge=1)
    layers: int = model_option(1, "stacked RNN layers L", ge=1)
    embed: int = model_option(
        0,
        "0 feeds one-hot characters (layer 0's W_ih is the embedding); "
        "E>0 adds an E-wide learned embedding table",
        ge=0,
    )
    dropout: float = model_option(0.0, "dropout between layers and before the output layer", ge=0, lt=1)
    dropout_mode: str = model_option(
        "step",
        "how --dropout draws its masks: step, a fresh mask at every time step; locked, one mask "
        "per sequence used at every step (variational dropout)",
        choices=DROPOUT_MODES,
    )
    weight_drop: float = model_option(
        0.0,
        "DropConnect on the recurrent weights: in training, each entry of every W_hh is zeroed "
        "with probability P, one mask per step of training (the kept ones scaled by 1/(1-P))",
        ge=0,
        lt=1,
        metavar="P",
    )
    init: str = model_option(
        "uniform",
        "recurrent weight init: uniform ±1/√H (as PyTorch), orthogonal, or identity",
        choices=RECURRENT_INITS,
    )
    input_init: str = model_option(  # one-hot input: its W_ih columns ~ N(0, 1); see init.py
        "normal",
        "one-hot input only: layer 0's W_ih, the characters' embedding, drawn N(0, 1) as "
        "torch.nn.Embedding (normal) or ±1/√H as torch.nn.RNN (uniform); normal trains much "
        "faster (docs/input_init.md)",
        choices=INPUT_INITS,
    )
    # optimisation
    optimizer: str = optimisation_option("adam", "update rule", choices=OPTIMIZERS)
    lr: float = optimisation_option(2e-3, "peak learning rate", gt=0, le=LR_MAX, resumable=True)
    momentum: float = optimisation_option(0.9, "SGD momentum", ge=0, lt=1)
    weight_decay: float = optimisation_option(
        0.0, "L2 (adam) or decoupled (adamw) weight decay", ge=0, le=LR_MAX
    )
    beta2: float = optimisation_option(
        0.999,
        "adam and adamw: decay rate of the running mean of squared gradients (β2); nearer 1 "
        "averages over more steps",
        gt=0,
        lt=1,
    )
    ema: float = optimisation_option(
        0.0,
        "keep an exponential moving average of the weights with decay D (about the last 1/(1-D) "
        "steps), and validate and save it; training goes on from the weights themselves; 0 for off",
        ge=0,
        lt=1,
        metavar="D",
    )
    clip: float = optimisation_option(5.0, "gradient clipping threshold, 0 for none", ge=0, resumable=True)
    clip_mode: str = optimisation_option(
        "norm", "clip the global L2 norm, or each element", choices=CLIP_MODES
    )
    schedule: str = optimisation_option(
        "cosine",
        "learning-rate schedule; cosine anneals over --max-steps or --minutes, whichever is further along",
        choices=SCHEDULES,
    )
    warmup: int = optimisation_option(0, "linear warm-up steps", ge=0)
    min_lr: float = optimisation_option(1e-4, "final learning rate of the cosine schedule", ge=0, le=LR_MAX)
    step_size: int = optimisation_option(1000, "steps between decays of the step schedule", ge=1)
    gamma: float = optimisation_option(
        0.5,
        "decay factor of the step schedule",
        gt=0,
        le=1,
        bounds_text="be positive and at most 1 (a decay factor)",
    )
    nonfinite: str = optimisation_option(
        "skip",
        "on a NaN/Inf loss or gradient: skip the step and halve the learning rate, or stop",
        choices=NONFINITE,
        resumable=True,
    )
    # length and bookkeeping
    max_steps: int = run_option(
        2000,
        "stop after this many steps; given --minutes and no --max-steps, the time alone ends the run",
        ge=1,
        resumable=True,
    )
    minutes: float = run_option(
        0.0,
        "stop after this much training time (or at --max-steps, when given); rnnkit train, given no "
        "--hidden, --layers or --embed, then picks the model's size for it from the corpus and this "
        "machine's measured speed",
        ge=0,
        resumable=True,
        default_text="no limit",
    )
    seed: int = run_option(1337, "seed for initialisation and dropout", ge=0)
    eval_every: int = run_option(250, "validate every N steps", ge=1, resumable=True)
    patience: int = run_option(
        0,
        "early stopping: end the run after N validations in a row without a new best (the best "
        "checkpoint is kept); 0 never stops early",
        ge=0,
        resumable=True,
        metavar="N",
    )
    log_every: int = run_option(10, "write a metrics line every N steps", ge=1, resumable=True)
    save_every: int = run_option(
        250, "checkpoint every N steps (besides each validation)", ge=1, resumable=True
    )
    progress: bool = run_option(
        True,
        f"no progress bar on a terminal, nor the line every {PLAIN_EVERY_S:g} s that replaces it elsewhere",
        resumable=True,
    )
    max_memory: float = run_option(  # GiB the run may use; 0: the memory available (memory_budget.py)
        0.0,
        "refuse to start when the estimated training memory (weights, gradients, optimizer "
        "state, one step's activations) exceeds this many GiB; raise it to run anyway",
        ge=0,
        resumable=True,
        default_text="the memory available",
        metavar="GIB",
    )
    fault_nan_step: int = run_option(
        -1, "testing: poison the gradient at this step to exercise --nonfinite", resumable=True, hidden=True
    )

    @classmethod
    def from_given(cls, **given: Any) -> TrainSettings:
        """The settings a user gave (flags or keywords), the others at their defaults. Given
        ``minutes`` and no ``max_steps``, the time alone ends the run: the step limit is then
        ``NO_STEP_LIMIT``, so a budget is not cut short by the default 2,000 steps."""
        if given.get("minutes") and "max_steps" not in given:
            given["max_steps"] = NO_STEP_LIMIT
        return cls(**given)

    def validate(self) -> None:
        """Every shared setting in range; a subclass calls this, then makes its own checks.

        Every option's bounds and choices, and every float finite (``options.check_options``):
        e.g. --lr lies in (0, LR_MAX], --gamma (a decay factor) in (0, 1], --seed is
        non-negative. Last, a lower bound of the training memory (the RNN stack alone, one
        step of one sequence) is checked, so an impossible --hidden or --layers is refused
        before any data is read; the trainers check the whole model once its vocabulary is
        known.
        """
        check_options(self)
        if self.dropout_mode == "locked" and not self.dropout:
            raise RnnkitError(
                "`dropout_mode` locked draws the masks of `dropout`, which is 0: give `dropout` P too"
            )
        self.check_memory([stack("rnn.", 1, self.hidden, self.layers)], 1, 1)

    def check_memory(self, parts: Sequence[tuple], T: int, B: int) -> None:
        """Refuse a model (``model_shapes`` parts) whose training, T steps of B sequences at a
        time, would not fit in --max-memory or the memory available (``memory_budget``)."""
        memory_budget.check_training(parts, T, B, self.optimizer, self.max_memory)

    def model_settings(self) -> dict:
        """The settings every model takes from a training configuration (its backbone's)."""
        return dict(
            hidden=self.hidden,
            layers=self.layers,
            embed=self.embed,
            dropout=self.dropout,
            init=self.init,
            input_init=self.input_init,
            dropout_mode=self.dropout_mode,
            weight_drop=self.weight_drop,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainSettings:
        """From saved JSON: unknown keys are ignored, and each value must have its field's type
        (an int may stand for a float); anything else is a ``RnnkitError``, never a crash later."""
        if not isinstance(d, dict):
            raise RnnkitError(f"the training configuration must be a JSON object, got {type(d).__name__}")
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
                raise RnnkitError(
                    f"the saved training configuration has {f.name} = {v!r}, "
                    f"which is not of type {want.__name__}"
                )
            kw[f.name] = v
        return cls(**kw)
