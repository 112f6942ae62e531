"""Load a trained character language model (weights + vocabulary) from a checkpoint."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import checkpoint as ckpt
from .char_rnn import CharRNN, ModelConfig
from .errors import UserError
from .vocab import Vocab


def load_lm(path: str | Path, which: str = "best") -> tuple[CharRNN, Vocab, ckpt.Checkpoint]:
    """(model, vocab, checkpoint) from a run directory or checkpoint directory.

    The configuration is validated, the model rebuilt from it, and every tensor's name,
    shape, dtype and finiteness checked against that model before any value is used.
    """
    c = ckpt.load(path, task="lm", which=which)
    try:
        mcfg = ModelConfig(**c.config["model"])
        mcfg.validate()
        vocab = Vocab.from_json(c.vocab_json)
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"checkpoint {c.dir}: invalid configuration or vocabulary ({e})") from None
    if mcfg.vocab_size != len(vocab):
        raise UserError(f"checkpoint {c.dir}: vocab.json has {len(vocab)} characters but the model expects {mcfg.vocab_size}")
    for k, v in c.model.items():
        if v.dtype != np.float32 and v.dtype != np.float64:
            raise UserError(f"checkpoint {c.dir}: weight {k} has dtype {v.dtype}, expected float32")
        if not np.all(np.isfinite(v)):
            raise UserError(f"checkpoint {c.dir}: weight {k} holds NaN or Inf")
    try:
        model = CharRNN(mcfg)
        model.flat.load_state_dict(c.model)
    except (ValueError, TypeError) as e:
        raise UserError(f"checkpoint {c.dir} does not match its own configuration: {e}") from None
    return model, vocab, c
