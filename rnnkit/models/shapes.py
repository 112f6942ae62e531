"""Every model's parameter shapes, computed from its configuration without building it.

A model is a list of parts, each a prefix and one of three kinds, as the model classes
compose them (``backbone.py``, ``char_rnn.py``, ...):

    ("embedding.", "embedding", (V, E))        weight (V, E)
    ("rnn.", "stack", (D, H, L, dirs))         per layer k and direction (suffix "" or "_reverse"):
                                               weight_ih_l{k} (H, D_k), weight_hh_l{k} (H, H),
                                               bias_ih_l{k} (H,), bias_hh_l{k} (H,);
                                               D_0 = D, D_k = dirs * H
    ("head.", "linear", (I, O))                weight (O, I), bias (O,)

Why: a checkpoint's ``config.json`` could name any size (``"hidden": 1000000000``), and
building that model would allocate before ``load_state_dict`` compares shapes. Here the
counts are arithmetic (``param_count``, ``tensor_count``), and ``check_tensors`` compares
the configuration with the tensors already read from ``model.safetensors`` before any model
is built. ``tests/test_settings_limits.py`` checks these shapes against the real models.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rnnkit.errors import RnnkitError

if TYPE_CHECKING:  # annotations only: this module stays arithmetic, importing no model
    from pathlib import Path

    import numpy as np

    from .backbone import BackboneConfig


def stack(prefix: str, D: int, H: int, L: int, dirs: int = 1) -> tuple:
    return (prefix, "stack", (D, H, L, dirs))


def _backbone_and_head(m, classes: int) -> list:
    """The LM's, the classifier's and the tagger's shape: embedding?, a stack, a head on dirs * H."""
    dirs = 2 if m.bidirectional else 1
    parts = [("embedding.", "embedding", (m.vocab_size, m.embed))] if m.embed else []
    return parts + [
        stack("rnn.", m.embed or m.vocab_size, m.hidden, m.layers, dirs),
        ("head.", "linear", (dirs * m.hidden, classes)),
    ]


def _generator(m) -> list:
    parts = []
    if m.cond_embed:
        parts.append(("cond.", "embedding", (m.num_labels, m.cond_embed)))
    if m.embed:
        parts.append(("embedding.", "embedding", (m.vocab_size, m.embed)))
    return parts + [
        stack("rnn.", m.cond_dim + m.char_dim, m.hidden, m.layers),
        ("head.", "linear", (m.hidden, m.vocab_size)),
    ]


def _seq2seq(m) -> list:
    dirs, E = 2 if m.bidirectional else 1, m.embed
    parts = [("src_embedding.", "embedding", (m.src_vocab_size, E))] if E else []
    parts += [("tgt_embedding.", "embedding", (m.tgt_vocab_size, E))] if E else []
    return parts + [
        stack("encoder.", E or m.src_vocab_size, m.hidden, m.layers, dirs),
        stack("decoder.", E or m.tgt_vocab_size, dirs * m.hidden, m.layers),
        ("head.", "linear", (dirs * m.hidden, m.tgt_vocab_size)),
    ]


PARTS = {
    "ModelConfig": lambda m: _backbone_and_head(m, m.vocab_size),
    "ClassifierConfig": lambda m: _backbone_and_head(m, m.num_classes),
    "TaggerConfig": lambda m: _backbone_and_head(m, m.num_tags),
    "GeneratorConfig": _generator,
    "Seq2SeqConfig": _seq2seq,
}


def model_parts(model_cfg: BackboneConfig) -> list:
    """A model configuration object (``ModelConfig``, ``ClassifierConfig``, ...) -> its parts."""
    return PARTS[type(model_cfg).__name__](model_cfg)


def param_count(parts: Iterable[tuple]) -> int:
    """Number of parameters (arithmetic: no list of L layers is made)."""
    n = 0
    for _, kind, dims in parts:
        if kind == "embedding":
            V, E = dims
            n += V * E
        elif kind == "linear":
            I, O = dims
            n += O * I + O
        else:
            D, H, L, dirs = dims
            n += dirs * (H * D + H * H + 2 * H) + (L - 1) * dirs * (H * dirs * H + H * H + 2 * H)
    return n


def tensor_count(parts: Iterable[tuple]) -> int:
    """Number of named tensors: 1 per embedding, 2 per linear, 4 per layer and direction."""
    n = 0
    for _, kind, dims in parts:
        n += {"embedding": 1, "linear": 2}[kind] if kind != "stack" else 4 * dims[2] * dims[3]
    return n


def param_shapes(parts: Iterable[tuple]) -> dict[str, tuple]:
    """name -> shape, in ``torch.nn`` names. Makes one entry per tensor: call it only after
    ``tensor_count`` has been compared with something real."""
    out = {}
    for prefix, kind, dims in parts:
        if kind == "embedding":
            out[prefix + "weight"] = tuple(dims)
        elif kind == "linear":
            I, O = dims
            out[prefix + "weight"], out[prefix + "bias"] = (O, I), (O,)
        else:
            D, H, L, dirs = dims
            for k in range(L):
                for sfx in ("", "_reverse")[:dirs]:
                    s = f"_l{k}{sfx}"
                    out[f"{prefix}weight_ih{s}"] = (H, D if k == 0 else dirs * H)
                    out[f"{prefix}weight_hh{s}"] = (H, H)
                    out[f"{prefix}bias_ih{s}"] = (H,)
                    out[f"{prefix}bias_hh{s}"] = (H,)
    return out


def check_tensors(model_cfg: BackboneConfig, tensors: dict[str, np.ndarray], where: Path) -> None:
    """Refuse (``RnnkitError``) unless ``tensors`` (name -> array, as read from a checkpoint's
    model.safetensors) has exactly the names and shapes ``model_cfg`` describes. Nothing the
    size of the model is allocated; the tensor count is compared first, so even a
    configuration naming ten million layers costs nothing."""
    parts = model_parts(model_cfg)
    n = tensor_count(parts)
    if n != len(tensors):
        raise RnnkitError(
            f"checkpoint {where} does not match its config.json: the configuration (hidden "
            f"{model_cfg.hidden}, layers {model_cfg.layers}) needs {n:,} weight tensors, "
            f"model.safetensors holds {len(tensors):,}"
        )
    for name, shape in param_shapes(parts).items():
        if name not in tensors:
            raise RnnkitError(
                f"checkpoint {where} does not match its config.json: model.safetensors has no tensor {name}"
            )
        got = tuple(tensors[name].shape)
        if got != shape:
            raise RnnkitError(
                f"checkpoint {where} does not match its config.json: {name} has shape {got} in "
                f"model.safetensors, but the configuration (hidden {model_cfg.hidden}, layers "
                f"{model_cfg.layers}) needs {shape}"
            )
