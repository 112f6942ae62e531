"""What ``rnnkit gradflow`` measures of each model: one stack, the ids it reads, and a head.

Gradient flow through time is a property of one recurrent stack. For each model it is
the stack that reads (or writes) a sequence step by step, with the head on its states:

    character LM      the stack over the text                   head: the next character
    classifier        the stack over the text                   head: the class
    tagger            the stack over the text                   head: the tag
    seq2seq           the decoder over the target tokens        head: the next token
    generator         the stack over its input [c ; e(w_{t-1})] head: the next character
                      (c, a random label, at t = 1 only; without autoregression x_t = 0 after it)

The loss sits on the stack's final state(s) (``gradflow.hidden_grad_norms``); its target is
the id that follows the window (the LM, the decoder, the generator) or a random class or tag
drawn from a seeded generator (the classifier, the tagger: only the flow is measured, not the
fit). Fresh models of the same shapes come from the model's own configuration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnnkit.models.backbone import BackboneConfig, BackboneModel
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.generator import ConditionedGenerator, GeneratorConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

MODEL_OF = {
    ModelConfig: CharRNN,
    ClassifierConfig: SequenceClassifier,
    TaggerConfig: SequenceTagger,
    Seq2SeqConfig: Seq2Seq,
    GeneratorConfig: ConditionedGenerator,
}


@dataclass
class FlowNet:
    """One model as gradflow sees it: ``stack`` reads ``inputs(ids)`` for ids (T, B) in
    [0, ``vocab``), and ``head`` maps its final state(s) to ``outputs`` logits."""

    part: str
    stack: object
    head: object
    inputs: Callable[[np.ndarray], np.ndarray]
    vocab: int
    outputs: int
    next_token: bool  # the target is the id after the window (else a random output)

    def targets(self, ids: np.ndarray, seed: int = 0) -> np.ndarray:
        """ids (T+1, B) -> the loss's targets (B,) in [0, outputs)."""
        if self.next_token:
            return ids[-1].astype(np.int64)
        return np.random.default_rng(seed).integers(0, self.outputs, size=ids.shape[1])


def _embedded(embedding) -> Callable[[np.ndarray], np.ndarray]:
    """ids (T, B) -> the stack's input: the ids themselves (one-hot), or their embedding rows."""
    if embedding is None:
        return lambda ids: ids
    return lambda ids: embedding.forward(ids)[0]


def _generator_inputs(model: ConditionedGenerator) -> Callable[[np.ndarray], np.ndarray]:
    """ids (T, B) -> x (T, B, D): a random label at t = 1, then the fed-back ids (autoregressive)."""
    cfg = model.cfg

    def inputs(ids: np.ndarray) -> np.ndarray:
        T, B = ids.shape
        labels = np.random.default_rng(0).integers(0, cfg.num_labels, size=B) if cfg.num_labels else None
        cond = labels if cfg.num_labels else np.zeros((B, cfg.feature_dim))
        x, _ = model.inputs(cond, ids if cfg.autoregressive else None, T)
        return x

    return inputs


def flow_net(model: BackboneModel | Seq2Seq) -> FlowNet:
    """The stack, inputs and head gradflow measures of ``model`` (any of ``MODEL_OF``'s models)."""
    c = model.cfg
    if isinstance(model, CharRNN):
        inputs = _embedded(model.embedding)
        return FlowNet("character LM", model.rnn, model.head, inputs, c.vocab_size, c.vocab_size, True)
    if isinstance(model, SequenceClassifier):
        inputs = _embedded(model.backbone.embedding)
        return FlowNet("classifier", model.rnn, model.head, inputs, c.vocab_size, c.num_classes, False)
    if isinstance(model, SequenceTagger):
        inputs = _embedded(model.backbone.embedding)
        return FlowNet("tagger", model.rnn, model.head, inputs, c.vocab_size, c.num_tags, False)
    if isinstance(model, Seq2Seq):
        inputs = _embedded(model.target.embedding)
        V = c.tgt_vocab_size
        return FlowNet("seq2seq decoder", model.decoder, model.head, inputs, V, V, True)
    if isinstance(model, ConditionedGenerator):
        inputs = _generator_inputs(model)
        return FlowNet("generator", model.rnn, model.head, inputs, c.vocab_size, c.vocab_size, True)
    raise TypeError(f"gradflow does not know a {type(model).__name__}")


def as_float64(model: BackboneModel | Seq2Seq) -> BackboneModel | Seq2Seq:
    """``model`` itself when it computes in float64, else a float64 copy of it (same weights)."""
    if model.dtype == np.float64:
        return model
    twin = MODEL_OF[type(model.cfg)](model.cfg, dtype=np.float64)
    twin.flat.load_state_dict(model.flat.state_dict())
    return twin


def fresh_model(cfg: BackboneConfig, init: str, gain: float = 1.0, seed: int = 0) -> BackboneModel | Seq2Seq:
    """A new model of ``cfg``'s kind and shapes with recurrent init ``init``; every W_hh of
    its measured stack multiplied by ``gain``.

    Its input weights are PyTorch's small uniform ones (``input_init="uniform"``), not
    rnnkit's default N(0, 1) for one-hot input, so the states start far from saturation and
    the curves show what W_hh alone does to the gradient (with N(0, 1) input weights, 1 - h^2
    is smaller from the start and damps the "exploding" x2 model too).
    """
    m = MODEL_OF[type(cfg)](dataclasses.replace(cfg, init=init, input_init="uniform"), seed=seed)
    if gain != 1.0:
        for layer in flow_net(m).stack.layers:
            for direction in (layer.fwd, layer.bwd) if hasattr(layer, "fwd") else (layer,):
                direction.params[direction.k_hh] *= gain
    return m
