"""Training configuration for the language model: one dataclass, saved in every checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import RnnkitError
from rnnkit.models.char_rnn import check_tie
from rnnkit.torch.engines import check_regularisers

from .options import options_in, resumable
from .settings import TrainSettings, data_option, model_option, run_option

# The argparse groups only the language model has (the shared ones are in settings.py).
bptt_option = options_in("truncated BPTT")
engine_option = options_in("engine")


@dataclass
class TrainConfig(TrainSettings):
    """``rnnkit train`` 's settings: the shared ones (``TrainSettings``) with the language
    model's defaults, plus the corpus, truncated BPTT, saving and the engine."""

    files: list = data_option(
        [],
        "UTF-8 text files or directories of them",
        flag="files",
        default_text="the Python standard library's source",
        nargs="*",
    )
    val_files: list = data_option(
        [],
        "validation text from these files instead of the last part of the training text",
        flag="--val",
        nargs="+",
        metavar="FILE",
    )
    val_fraction: float = data_option(
        0.1, "share of the text, taken from its end, used for validation", gt=0, lt=1
    )
    encoding_errors: str = data_option(
        "strict",
        "'replace' turns invalid UTF-8 into U+FFFD instead of refusing the file",
        choices=("strict", "replace"),
    )
    vocab_limit: int = data_option(
        1000,
        "warn, showing the count, when the text has more than N distinct characters; 0 never warns",
        ge=0,
        resumable=True,
        metavar="N",
    )
    # model (new defaults for shared fields; they keep their options)
    hidden: int = 256
    layers: int = 2
    tie_weights: bool = model_option(
        False,
        "tie the output layer to the input embedding (one (V, H) matrix for both): needs --embed "
        "equal to --hidden, or one-hot input (layer 0's W_ih, transposed)",
    )
    # truncated BPTT
    seq_len: int = bptt_option(64, "chunk length T: steps backpropagated through", ge=1)
    batch: int = bptt_option(32, "B parallel streams the text is cut into", ge=1)
    carry: bool = bptt_option(True, "start every chunk from a zero state instead of carrying the state over")
    rotate_epochs: bool = bptt_option(
        False,
        "read the streams from a new offset each epoch (drawn from --seed), so chunks and their "
        "truncation points change between epochs; each character is still read once per epoch",
    )
    warmup: int = 100
    # bookkeeping
    val_chars: int = run_option(  # 0: all; 1 is refused (validate)
        200_000, "validation characters scored during training, 0 for all", ge=0, resumable=True
    )
    # the engine does not change the model (issue 5), so a resume may switch it
    engine: str = engine_option(
        "numpy",
        "numpy (no dependencies) or torch (torch.nn.RNN, cuDNN on a GPU; needs the torch extra)",
        choices=("numpy", "torch"),
        resumable=True,
    )
    device: str = engine_option(
        "cpu", "torch engine: cpu, cuda or cuda:N; under torchrun, cuda means cuda:LOCAL_RANK", resumable=True
    )

    def validate(self) -> None:
        """The options' checks (``TrainSettings.validate``), and what bounds cannot say."""
        # Scoring needs one input and one target character, so 1 would crash at the first
        # validation; 0 means "all the validation characters".
        if self.val_chars == 1:
            raise RnnkitError("`val_chars` must be 0 (all) or at least 2 (one input and one target), got 1")
        super().validate()
        if self.tie_weights:
            check_tie(self.embed, self.hidden)
        check_regularisers(self, self.engine)


# Flags that may differ when a run is resumed (``resumable=True``); every other one must match
# the checkpoint. Changing lr, clip or the non-finite policy on resume is allowed (the way out
# of a diverged run); a resume is bit-identical to an uninterrupted run only when none of them
# change.
RESUMABLE_OVERRIDES = resumable(TrainConfig)
