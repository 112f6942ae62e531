"""Load a trained form (classify, generate, seq2seq, tag): its vocabularies and model, from a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from rnnkit.errors import RnnkitError, message_of
from rnnkit.models.shapes import check_tensors
from rnnkit.torch.engines import check_engine
from rnnkit.torch.task_engines import use_engine

from . import checkpoint as ckpt
from .forms import FORMS, Form, make_form
from .task_config import TaskTrainConfig


def load_task(
    path: str | Path,
    verb: str | None,
    which: str = "best",
    engine: str | None = "numpy",
    device: str | None = None,
) -> tuple[Form, object, ckpt.Checkpoint]:
    """A run or checkpoint directory -> (form with its vocabularies, model on ``engine``, checkpoint).

    ``verb``: the form the checkpoint must be of; None takes the checkpoint's own (any form,
    not the LM). The model configuration is validated and compared with the tensors' names
    and shapes (``shapes.check_tensors``) before the model is built, so a configuration
    naming a huge model allocates nothing."""
    check_engine(engine, device)
    c = ckpt.load(path, task=verb, which=which)
    verb = c.config.get("task")
    if verb not in FORMS:
        raise RnnkitError(f"checkpoint {c.dir} is for task {verb!r}, not one of {', '.join(FORMS)}")
    cfg = TaskTrainConfig.from_dict(c.config.get("train", {}))
    form = make_form(verb, cfg)
    invalid = f"checkpoint {c.dir} is not a valid {verb} checkpoint"
    try:
        form.load_vocab(json.loads(c.vocab_json))
        mcfg = form.config_class(**c.config["model"])
        mcfg.validate()
    except (KeyError, TypeError, ValueError) as e:
        raise RnnkitError(f"{invalid}: {message_of(e)}") from None
    check_tensors(mcfg, c.model, c.dir)  # its own message, naming the tensor
    ckpt.check_weights(c)
    try:
        model = form.build_model(c.config["model"], seed=0)
        model.flat.load_state_dict(c.model)
    except (KeyError, TypeError, ValueError) as e:
        raise RnnkitError(f"{invalid}: {message_of(e)}") from None
    return form, use_engine(model, engine, device), c
