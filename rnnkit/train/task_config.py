"""Training configuration of the task verbs (classify, generate, seq2seq, tag): one
dataclass, saved in every checkpoint, and the flags that may change on resume."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import UserError

from .settings import TrainSettings

# One-hot input weights drawn N(0, 1) trained faster in three forms, but not in seq2seq:
# on G2P, PyTorch's small uniform draw beat N(0, 1) on the encoder, the decoder or both
# (docs/input_init.md). Our reading, not tested: without attention the decoder has to
# keep the encoder's state, given only at t = 0, and big input kicks wash it out.
INPUT_INIT_DEFAULT = {"classify": "normal", "generate": "normal", "tag": "normal", "seq2seq": "uniform"}

# Flags that may change when a run is resumed (the rest must match the checkpoint). A resume
# is bit-identical to an uninterrupted run when none of them change (and, with the cosine
# schedule, --max-steps is the same: the schedule is a function of it).
RESUMABLE = {
    "max_steps",
    "minutes",
    "eval_every",
    "log_every",
    "progress",
    "lr",
    "clip",
    "nonfinite",
    "val_max",
    "max_memory",
}


@dataclass
class TaskTrainConfig(TrainSettings):
    """Training configuration of a task verb: the shared settings (``TrainSettings``) plus
    the verb's data and model options; saved as ``config.json["train"]``."""

    verb: str = "classify"
    data: str = ""  # training TSV (absolute path)
    val: str = ""  # validation TSV; empty: hold out --val-fraction of data
    val_fraction: float = 0.1
    # model
    input_init: str = ""  # one-hot inputs' W_ih columns; "": the verb's (INPUT_INIT_DEFAULT)
    bidirectional: bool = False
    cond_embed: int = 0  # generate: label embedding size (0: one-hot)
    autoregressive: bool = False  # generate: feed back the previous character
    source_tokens: str = "chars"  # seq2seq: chars | words
    target_tokens: str = "chars"
    max_len: int = 50  # seq2seq validation decoding: most tokens per output
    batch: int = 64
    save_every: int = 250  # checkpoint every N steps (besides each validation)
    val_max: int = 2000  # validation examples scored during training (0: all)

    def __post_init__(self) -> None:
        self.input_init = self.input_init or INPUT_INIT_DEFAULT.get(self.verb, "normal")

    def validate(self) -> None:
        self.check_positive("batch", "max_len")
        self.check_non_negative("cond_embed", "val_max")
        if not 0.0 < self.val_fraction < 1.0:
            raise UserError(f"--val-fraction must lie in (0, 1), got {self.val_fraction}")
        self.check_choices(("source_tokens", ("chars", "words")), ("target_tokens", ("chars", "words")))
        super().validate()
