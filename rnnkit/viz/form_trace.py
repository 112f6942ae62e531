"""Trace one example through a form's model: every step's hidden states and the distribution it gives.

What ``rnnkit inspect`` and ``rnnkit serve`` show of a classify, tag, seq2seq or generate run.
Each view is a ``Trace``: the tokens of one sequence, the states of the stack that read (or
wrote) it, and a distribution at every step:

    classify   text c_1..c_N     p_t = softmax(W_hy f_t + b_y)   the classes, had the text ended at c_t
    tag        text c_1..c_N     p_t = softmax(W_hy h_t + b_y)   the tags of c_t
    seq2seq    source s_1..s_S   the encoder's states (no distribution: the source is read whole)
               output w_1..w_n   p_t = softmax(W_hy h^dec_t + b_y)  the decoder's, w_t = argmax p_t
    generate   output w_1..w_n   p_t over the characters, w_t = argmax p_t (or drawn from it)

f_t is the classifier's feature had the text ended at c_t: the top state h_t reading left to
right; with a bidirectional stack [h→_t ; h←_1] over the prefix c_1..c_t, so each prefix is
read again (N prefixes: O(N^2) steps; texts to classify are short). A decoder's output ends
with its end marker when it emitted one. The states are the stack's own (``activations.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.data.padding import pad_batch
from rnnkit.data.token_vocab import BOS, EOS
from rnnkit.decode.forms import generator_greedy, generator_sample, seq2seq_decode
from rnnkit.errors import RnnkitError
from rnnkit.models.backbone import BackboneModel
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.generator import ConditionedGenerator
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.tagger import SequenceTagger
from rnnkit.nn.stack import RNNStack
from rnnkit.train.forms import (
    ClassifyForm,
    Form,
    GenerateForm,
    Seq2SeqForm,
    TagForm,
    join_tokens,
    split_tokens,
)

from .activations import backbone_states, head_probs, stack_states

PREFIX_BATCH = 64  # bidirectional classifier: prefixes read at once


@dataclass
class Trace:
    """One sequence as one stack read it.

    tokens (N,), states (N, L, W) (W = H, or 2H bidirectional), probs (N, K) over ``labels``
    (None: no distribution), ``dist`` what p_t is a distribution of, ``strip`` how the page
    draws it under the text ("classes": each class's probability, "tags": the argmax and its
    confidence; "": on hover only), ``net`` 0 for the stack that reads the input (or writes
    the output, generate), 1 for seq2seq's decoder; ``summary`` the prediction in one line.
    """

    name: str
    tokens: list
    states: np.ndarray
    probs: np.ndarray | None
    labels: list
    dist: str
    stack: str
    strip: str = ""
    net: int = 0
    summary: str = ""
    words: bool = False  # tokens are words: shown with spaces between them


def describe(stack: RNNStack, name: str = "") -> str:
    """'encoder: 2 x 64 bidirectional tanh RNN'."""
    bi = "bidirectional " if stack.dirs == 2 else ""
    return f"{name + ': ' if name else ''}{stack.L} x {stack.H} {bi}tanh RNN"


def _ids(vocab, tokens, what: str) -> list[int]:
    if not tokens:
        raise RnnkitError(f"the {what} is empty")
    return vocab.encode(tokens)


# ---------------------------------------------------------------------------- classify
def prefix_probs(model: SequenceClassifier, ids: list[int]) -> np.ndarray:
    """A bidirectional classifier's class probabilities for every prefix of ids: (N, K)."""
    out = []
    for s in range(1, len(ids) + 1, PREFIX_BATCH):
        prefixes = [ids[:n] for n in range(s, min(len(ids), s + PREFIX_BATCH - 1) + 1)]
        x, lengths, _ = pad_batch(prefixes)  # (n, P)
        out.append(model.predict_proba(x, lengths=lengths))  # (P, K)
    return np.concatenate(out)


def _text_trace(model, text: str, states, probs, labels, dist: str, strip: str, summary: str) -> Trace:
    """The view of a text read by a classifier's or tagger's stack."""
    return Trace("text", list(text), states, probs, labels, dist, describe(model.rnn), strip, summary=summary)


def classify_trace(form: ClassifyForm, model: SequenceClassifier, text: str) -> Trace:
    ids = _ids(form.vocab, text, "text")
    states, _ = backbone_states(model.backbone, ids)  # (N, L, W)
    if model.dirs == 1:
        probs = head_probs(model.head, states[:, -1])  # (N, K): the feature is h_t itself
    else:
        probs = prefix_probs(model, ids)
    labels, k = form.labels.labels, int(probs[-1].argmax())
    summary = f"{labels[k]} (p = {probs[-1, k]:.2f})"
    return _text_trace(
        model, text, states, probs, labels, "class, had the text ended here", "classes", summary
    )


# ---------------------------------------------------------------------------- tag
def tag_trace(form: TagForm, model: SequenceTagger, text: str) -> Trace:
    states, _ = backbone_states(model.backbone, _ids(form.vocab, text, "text"))  # (N, L, W)
    probs = head_probs(model.head, states[:, -1])  # (N, K)
    labels = form.labels.labels
    summary = "".join(labels[k] for k in probs.argmax(axis=1))
    return _text_trace(model, text, states, probs, labels, "tag", "tags", summary)


# ---------------------------------------------------------------------------- decoders
def _emitted(out: list[int], max_len: int) -> list[int]:
    """A decoded sequence (without EOS) and the end marker, when the decoder emitted one."""
    return out + [EOS] if len(out) < max_len else out


def _decoder_trace(name, form_vocab, emitted, states, head, stack, words: bool, net: int) -> Trace:
    probs = head_probs(head, states[:, -1])  # (n, V)
    tokens = [form_vocab.itos[i] for i in emitted]
    summary = join_tokens([t for i, t in zip(emitted, tokens) if i != EOS], "words" if words else "chars")
    dist = "next token" if words else "next character"
    itos = list(form_vocab.itos)
    return Trace(name, tokens, states, probs, itos, dist, stack, net=net, summary=summary, words=words)


def seq2seq_traces(form: Seq2SeqForm, model: Seq2Seq, source: str, max_len: int | None = None) -> list[Trace]:
    """[the encoder reading the source, the decoder writing its greedy output]."""
    c = form.cfg
    tokens = split_tokens(source, c.source_tokens)
    ids = _ids(form.src_vocab, tokens, "source")
    enc_states, _ = backbone_states(model.source, ids)  # (S, L, dirs*H)
    src = np.asarray(ids, dtype=np.int64)[:, None]  # (S, 1)
    max_len = max_len or c.max_len
    out, _ = seq2seq_decode(model, src, max_len=max_len)
    emitted = _emitted(out[0], max_len)
    h0, _ = model.encode(src)  # (L, 1, Hd)
    dec_states, _ = backbone_states(model.target, [BOS] + emitted[:-1], h0)  # (n, L, Hd)
    encoder, decoder = describe(model.encoder, "encoder"), describe(model.decoder, "decoder")
    enc = Trace("source", tokens, enc_states, None, [], "", encoder, words=c.source_tokens == "words")
    words = c.target_tokens == "words"
    dec = _decoder_trace("output", form.tgt_vocab, emitted, dec_states, model.head, decoder, words, 1)
    return [enc, dec]


def generate_trace(
    form: GenerateForm,
    model: ConditionedGenerator,
    label: str,
    temperature: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Trace:
    """The generator's output for ``label``: greedy (temperature 0), else drawn with ``rng``."""
    try:
        cond = np.array(form.labels.encode([label]), dtype=np.int64)  # (1,)
    except ValueError as e:
        raise RnnkitError(f"`label`: {e}") from None
    max_len = form.cfg.max_len
    if temperature > 0:
        out = generator_sample(model, cond, max_len, rng or np.random.default_rng(), temperature)[0]
    else:
        out = generator_greedy(model, cond, max_len)[0][0]
    emitted = _emitted(out, max_len)
    dec_in = np.array([BOS] + emitted[:-1], dtype=np.int64)[:, None]  # (n, 1)
    x, _ = model.inputs(cond, dec_in, len(emitted))  # (n, 1, D); dec_in is read only when autoregressive
    states, _ = stack_states(model.rnn, x)  # (n, 1, L, H)
    return _decoder_trace(
        f"output for {label}", form.vocab, emitted, states[:, 0], model.head, describe(model.rnn), False, 0
    )


def form_traces(form: Form, model: BackboneModel | Seq2Seq, item: str) -> list[Trace]:
    """The views of one example: a text (classify, tag), a source (seq2seq) or a label (generate)."""
    if form.verb == "classify":
        return [classify_trace(form, model, item)]
    if form.verb == "tag":
        return [tag_trace(form, model, item)]
    if form.verb == "seq2seq":
        return seq2seq_traces(form, model, item)
    return [generate_trace(form, model, item)]
