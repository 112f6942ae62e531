"""Training configuration for the language model: one dataclass, saved in every checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit.errors import UserError

from .settings import TrainSettings

# Flags that may differ when a run is resumed; every other one must match the checkpoint.
# Changing lr, clip or the non-finite policy on resume is allowed (the way out of a diverged
# run); a resume is bit-identical to an uninterrupted run only when none of them change.
RESUMABLE_OVERRIDES = {
    "max_steps",
    "minutes",
    "eval_every",
    "save_every",
    "log_every",
    "val_chars",
    "progress",
    "vocab_limit",
    "lr",
    "clip",
    "nonfinite",
    "fault_nan_step",
    "engine",
    "device",  # the engine does not change the model (issue 5)
    "max_memory",
}


@dataclass
class TrainConfig(TrainSettings):
    """``rnnkit train`` 's settings: the shared ones (``TrainSettings``) with the language
    model's defaults, plus the corpus, truncated BPTT, saving and the engine."""

    files: list = field(default_factory=list)  # empty: the Python standard library's source
    val_files: list = field(default_factory=list)
    val_fraction: float = 0.1
    encoding_errors: str = "strict"
    vocab_limit: int = 1000  # warn (with the count) above this many characters; 0: never
    # model (new defaults for shared fields)
    hidden: int = 256
    layers: int = 2
    # truncated BPTT
    seq_len: int = 64
    batch: int = 32
    carry: bool = True
    warmup: int = 100
    # bookkeeping
    val_chars: int = 200_000  # validation characters scored during training (0: all)
    save_every: int = 250
    engine: str = "numpy"  # numpy | torch (torch.nn.RNN; cuDNN on GPU)
    device: str = "cpu"  # torch engine: cpu | cuda | cuda:N

    def validate(self) -> None:
        self.check_positive("seq_len", "batch", "save_every")
        self.check_non_negative("val_chars", "vocab_limit")
        # Scoring needs one input and one target character, so 1 would crash at the first
        # validation; 0 means "all the validation characters".
        if self.val_chars == 1:
            raise UserError("--val-chars must be 0 (all) or at least 2 (one input and one target), got 1")
        if self.engine not in ("numpy", "torch"):
            raise UserError(f"--engine must be numpy or torch, got {self.engine!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise UserError(f"--val-fraction must lie in (0, 1), got {self.val_fraction}")
        self.check_choices(("encoding_errors", ("strict", "replace")))
        super().validate()
