"""Training configuration of the task verbs (classify, generate, seq2seq, tag): one
dataclass, saved in every checkpoint, and the flags that may change on resume."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .options import again, resumable
from .settings import TrainSettings, data_option, model_option

# One-hot input weights drawn N(0, 1) trained faster in three forms, but not in seq2seq:
# on G2P, PyTorch's small uniform draw beat N(0, 1) on the encoder, the decoder or both
# (docs/input_init.md). Our reading, not tested: without attention the decoder has to
# keep the encoder's state, given only at t = 0, and big input kicks wash it out.
INPUT_INIT_DEFAULT = {"classify": "normal", "generate": "normal", "tag": "normal", "seq2seq": "uniform"}
TOKENS = ("chars", "words")


@dataclass
class TaskTrainConfig(TrainSettings):
    """Training configuration of a task verb: the shared settings (``TrainSettings``) plus
    the verb's data and model options; saved as ``config.json["train"]``. An option whose
    help is a dict of verbs is a flag of those verbs only. ``{format}`` and ``{one_hot}`` in
    a help are the verb's (``cli/tasks.py``)."""

    # shared fields, with the task verbs' help
    hidden: int = again(TrainSettings, "hidden", help="hidden units H per layer (and direction)")
    input_init: str = again(  # "": the verb's (INPUT_INIT_DEFAULT)
        TrainSettings,
        "input_init",
        "",
        help="one-hot inputs only ({one_hot}): layer 0's W_ih columns they select, drawn N(0, 1) as "
        "torch.nn.Embedding (normal) or ±1/√H as torch.nn.RNN (uniform); see docs/input_init.md "
        "for the measured choice",
    )
    seed: int = again(
        TrainSettings, "seed", help="seed for initialisation, data order, validation split and dropout"
    )
    eval_every: int = again(TrainSettings, "eval_every", help="validate (and checkpoint) every N steps")
    # data
    verb: str = "classify"  # no flag: the verb itself
    data: str = data_option(  # training TSV (absolute path)
        "",
        "UTF-8 TSV of training examples, lines {format} (not needed with --resume)",
        flag="data",
        type=Path,
        nargs="?",
    )
    val: str = data_option(
        "",
        "validation TSV in the same format",
        default_text="hold out --val-fraction of DATA",
        type=Path,
        metavar="FILE",
    )
    val_fraction: float = data_option(
        0.1,
        "share of DATA, drawn at random (seeded), held out for validation when no --val is given",
        gt=0,
        lt=1,
    )
    val_max: int = data_option(
        2000, "validation examples scored during training, 0 for all", ge=0, resumable=True, metavar="N"
    )
    batch: int = data_option(64, "examples per minibatch B", ge=1)
    # model
    bidirectional: bool = model_option(
        False,
        {
            "classify": "two RNNs per layer, one reading each way: the classifier reads "
            "[final state left-to-right ; final state right-to-left]",
            "tag": "two RNNs per layer, one reading each way: each step's tag reads "
            "[h_t left-to-right ; h_t right-to-left], so it sees the characters to its right",
            "seq2seq": "two RNNs per layer, one reading each way: bidirectional encoder; the "
            "decoder (2H wide) starts from both final states",
        },
    )
    # On by default since issue 18 (it learns words; the plain form learns "which character
    # at position t"). Every saved config holds the field, so an old run keeps its setting.
    autoregressive: bool = model_option(
        True,
        {
            "generate": 'the plain one-to-many form (the lecture\'s "zero input after t=1"): the '
            "label is the only input, at t=1, and zero vectors follow. By default the previous "
            "character is fed back as well at each step (a language model per label)"
        },
    )
    cond_embed: int = model_option(
        0, {"generate": "size of a learned label embedding; 0 feeds the label one-hot"}, ge=0
    )
    source_tokens: str = model_option(
        "chars",
        {"seq2seq": "read the source as characters or as whitespace-separated tokens"},
        choices=TOKENS,
    )
    target_tokens: str = model_option(
        "chars",
        {"seq2seq": "read the target as characters or as whitespace-separated tokens, e.g. phonemes"},
        choices=TOKENS,
    )
    max_len: int = model_option(50, {"seq2seq": "most target tokens decoded during validation"}, ge=1)

    def __post_init__(self) -> None:
        self.input_init = self.input_init or INPUT_INIT_DEFAULT.get(self.verb, "normal")


# Flags that may change when a run is resumed (``resumable=True``; the rest must match the
# checkpoint). A resume is bit-identical to an uninterrupted run when none of them change
# (and, with the cosine schedule, --max-steps is the same: the schedule is a function of it).
RESUMABLE = resumable(TaskTrainConfig)
