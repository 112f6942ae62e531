"""Load a trained character language model (weights + vocabulary) from a checkpoint."""

from __future__ import annotations

from pathlib import Path

from rnnkit.data.vocab import Vocab
from rnnkit.errors import RnnkitError, message_of
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.models.shapes import check_tensors
from rnnkit.torch.engines import build_lm

from . import checkpoint as ckpt


def load_lm(
    path: str | Path, which: str = "best", engine: str = "numpy", device: str | None = None
) -> tuple[CharRNN, Vocab, ckpt.Checkpoint]:
    """(model, vocab, checkpoint) from a run directory or checkpoint directory.

    The configuration is validated and compared with the tensors' names and shapes
    (``model_shapes.check_tensors``) before the model is built, so a configuration naming a
    huge model allocates nothing; then dtypes and finiteness are checked, the model is
    rebuilt, and the weights are loaded into it.
    ``engine``/``device`` pick the engine (``engines.build_lm``); checkpoints hold numpy
    arrays, so one trained on a GPU loads on a CPU-only machine.
    """
    c = ckpt.load(path, task="lm", which=which)
    try:
        mcfg = ModelConfig(**c.config["model"])
        mcfg.validate()
        vocab = Vocab.from_json(c.vocab_json)
    except (KeyError, TypeError, ValueError) as e:
        raise RnnkitError(
            f"checkpoint {c.dir}: invalid configuration or vocabulary ({message_of(e)})"
        ) from None
    if mcfg.vocab_size != len(vocab):
        raise RnnkitError(
            f"checkpoint {c.dir}: vocab.json has {len(vocab)} characters "
            f"but the model expects {mcfg.vocab_size}"
        )
    check_tensors(mcfg, c.model, c.dir)
    ckpt.check_weights(c)
    try:
        model = build_lm(mcfg, engine=engine, device=device)
        model.flat.load_state_dict(c.model)
    except RnnkitError:  # the engine or device refused: not the checkpoint's fault
        raise
    except (ValueError, TypeError) as e:
        raise RnnkitError(
            f"checkpoint {c.dir} does not match its own configuration: {message_of(e)}"
        ) from None
    return model, vocab, c
