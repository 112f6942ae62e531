"""Training configuration for the language model: one dataclass, saved in every checkpoint."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .errors import UserError
from .init import INPUT_INITS, RECURRENT_INITS
from .optim import OPTIMIZERS
from .schedule import SCHEDULES

# Flags that may differ when a run is resumed; every other one must match the checkpoint.
# Changing lr, clip or the non-finite policy on resume is allowed (the way out of a diverged
# run); a resume is bit-identical to an uninterrupted run only when none of them change.
RESUMABLE_OVERRIDES = {"max_steps", "minutes", "eval_every", "save_every", "log_every", "val_chars", "progress",
                       "vocab_limit", "lr", "clip", "nonfinite", "fault_nan_step",
                       "engine", "device"}  # the engine does not change the model (issue 5)


@dataclass
class TrainConfig:
    files: list = field(default_factory=list)   # empty: the Python standard library's source
    val_files: list = field(default_factory=list)
    val_fraction: float = 0.1
    encoding_errors: str = "strict"
    vocab_limit: int = 1000                      # warn (with the count) above this many characters; 0: never
    # model
    hidden: int = 256
    layers: int = 2
    embed: int = 0
    dropout: float = 0.0
    init: str = "uniform"
    input_init: str = "normal"                   # one-hot input: layer 0's W_ih ~ N(0, 1); see init.py
    # truncated BPTT
    seq_len: int = 64
    batch: int = 32
    carry: bool = True
    # optimisation
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    clip: float = 5.0
    clip_mode: str = "norm"
    schedule: str = "cosine"
    warmup: int = 100
    min_lr: float = 1e-4
    step_size: int = 1000
    gamma: float = 0.5
    # length and bookkeeping
    max_steps: int = 2000
    minutes: float = 0.0                         # 0: no time limit
    seed: int = 1337
    eval_every: int = 250
    val_chars: int = 200_000                     # validation characters scored during training (0: all)
    save_every: int = 250
    log_every: int = 10
    nonfinite: str = "skip"
    progress: bool = True
    fault_nan_step: int = -1                     # testing only: poison the gradient at this step
    engine: str = "numpy"                        # numpy | torch (torch.nn.RNN; cuDNN on GPU)
    device: str = "cpu"                          # torch engine: cpu | cuda | cuda:N

    def validate(self) -> None:
        def pos(name, allow_zero=False):
            v = getattr(self, name)
            if v < 0 or (v == 0 and not allow_zero):
                raise UserError(f"--{name.replace('_', '-')} must be {'non-negative' if allow_zero else 'positive'}, got {v}")
        for n in ("hidden", "layers", "seq_len", "batch", "max_steps", "eval_every", "save_every", "log_every",
                  "step_size"):
            pos(n)
        for n in ("embed", "minutes", "val_chars", "warmup", "weight_decay", "clip", "vocab_limit", "min_lr"):
            pos(n, allow_zero=True)
        # Scoring needs one input and one target character, so 1 would crash at the first
        # validation; 0 means "all the validation characters".
        if self.val_chars == 1:
            raise UserError("--val-chars must be 0 (all) or at least 2 (one input and one target), got 1")
        if self.engine not in ("numpy", "torch"):
            raise UserError(f"--engine must be numpy or torch, got {self.engine!r}")
        if not self.lr > 0:
            raise UserError(f"--lr must be positive, got {self.lr}")
        if not 0.0 <= self.momentum < 1.0:
            raise UserError(f"--momentum must lie in [0, 1), got {self.momentum}")
        if not self.gamma > 0:
            raise UserError(f"--gamma must be positive, got {self.gamma}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"--dropout must lie in [0, 1), got {self.dropout}")
        if not 0.0 < self.val_fraction < 1.0:
            raise UserError(f"--val-fraction must lie in (0, 1), got {self.val_fraction}")
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("init", RECURRENT_INITS),
                              ("input_init", INPUT_INITS),
                              ("clip_mode", ("norm", "value", "none")), ("nonfinite", ("skip", "stop")),
                              ("encoding_errors", ("strict", "replace"))):
            if getattr(self, name) not in allowed:
                raise UserError(f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
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
            ok = (isinstance(v, want) and not (want is int and isinstance(v, bool))) or \
                 (want is float and isinstance(v, int) and not isinstance(v, bool))
            if want is list:
                ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
            if not ok:
                raise UserError(f"the saved training configuration has {f.name} = {v!r}, "
                                f"which is not a {want.__name__}")
            kw[f.name] = v
        return cls(**kw)
