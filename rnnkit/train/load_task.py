"""Load a trained task model (classify, generate, seq2seq, tag) from a checkpoint."""

from __future__ import annotations

import json

from rnnkit.errors import RnnkitError, message_of
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.generator import GeneratorConfig
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.models.shapes import check_tensors
from rnnkit.models.tagger import TaggerConfig
from rnnkit.torch.engines import check_engine
from rnnkit.torch.task_engines import use_engine

from . import checkpoint as ckpt
from .forms import make_form
from .task_config import TaskTrainConfig

MODEL_CONFIGS = {
    "classify": ClassifierConfig,
    "generate": GeneratorConfig,
    "seq2seq": Seq2SeqConfig,
    "tag": TaggerConfig,
}


def load_task(path, verb: str, which: str = "best", engine: str | None = "numpy", device: str | None = None):
    """A run or checkpoint directory -> (form with its vocabularies, model on ``engine``, checkpoint).

    The model configuration is validated and compared with the tensors' names and shapes
    (``model_shapes.check_tensors``) before the model is built, so a configuration naming a
    huge model allocates nothing."""
    check_engine(engine, device)
    c = ckpt.load(path, task=verb, which=which)
    cfg = TaskTrainConfig.from_dict(c.config.get("train", {}))
    form = make_form(verb, cfg)
    invalid = f"checkpoint {c.dir} is not a valid {verb} checkpoint"
    try:
        form.load_vocab(json.loads(c.vocab_json))
        mcfg = MODEL_CONFIGS[verb](**c.config["model"])
        mcfg.validate()
    except (KeyError, TypeError, ValueError) as e:
        raise RnnkitError(f"{invalid}: {message_of(e)}") from None
    check_tensors(mcfg, c.model, c.dir)  # its own message, naming the tensor
    try:
        model = form.build_model(c.config["model"], seed=0)
        model.flat.load_state_dict(c.model)
    except (KeyError, TypeError, ValueError) as e:
        raise RnnkitError(f"{invalid}: {message_of(e)}") from None
    return form, use_engine(model, engine, device), c
