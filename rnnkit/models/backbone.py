"""The backbone every model shares: ids -> one-hot or embedded vectors -> RNN stack -> head.

    x_t = onehot(c_t)  (V,)    or    x_t = E[c_t]  (E,)       E: ``Embedding(V, E)`` when embed > 0
    h^(l)_t = tanh(W^(l)_ih h^(l-1)_t + W^(l)_hh h^(l)_{t-1} + b^(l)),   l = 1..L   (``nn/stack.py``)
    y = W_hy dropout(h) + b_y                     (K,) logits, h the top layer's state(s)
    loss = -1/N sum_i m_i log softmax(y_i)[c_i],  N = sum_i m_i   (m_i = 1 without a mask)

- ``BackboneConfig``: the checks of the fields every model's configuration has. Each model's
  config is a ``@dataclass`` of its own whose fields, defaults and order belong to the model
  (positional arguments and saved ``config.json`` files depend on them):

      vocab size(s)   >= 1    the ids the model reads (and writes)
      hidden, layers  >= 1    H units per layer and direction, L stacked RNN layers
      embed           >= 0    0: one-hot input; E > 0: a learned (V, E) table in front
      dropout         [0, 1)  between RNN layers (and before the head, where the model says so)
      dropout_mode            step: a fresh dropout mask at every time step; locked: one mask per
                              sequence, the same at every step (variational dropout)
      weight_drop     [0, 1)  DropConnect on every W_hh in training, one mask per batch (``nn/stack.py``)
      init                    the recurrent init (``nn/init.py``; the stack refuses an unknown one)
      input_init              one-hot input: layer 0's W_ih columns ~ N(0, 1) (normal) or U(±1/√H)

- ``Backbone``: the input and the stack. With one-hot input the stack reads the ids
  themselves: layer 0's W_ih (H, V) is the embedding, W_ih onehot(c) its column c, and those
  columns are drawn N(0, 1) when ``input_init`` is normal (``nn/init.py``).
- ``BackboneModel``: the base of the models with one backbone and a head (the LM, the
  classifier, the tagger, the generator): the config check, the parameters in one flat
  buffer, the readout y and its backward. Each model adds how it reads the states (every
  step or the last one), its input and its targets. Seq2seq has two backbones (encoder,
  decoder); the generator's stack reads an input it assembles, so its backbone has no embedding.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import ClassVar

import numpy as np
from numpy.typing import DTypeLike

from rnnkit.data.token_vocab import UNK
from rnnkit.errors import RnnkitError
from rnnkit.nn.dropout import dropout
from rnnkit.nn.embedding import Embedding
from rnnkit.nn.init import check_input_init, redraw_onehot_input
from rnnkit.nn.linear import Linear
from rnnkit.nn.params import FlatParams
from rnnkit.nn.softmax_cross_entropy import softmax_cross_entropy
from rnnkit.nn.stack import RNNStack

DROPOUT_MODES = ("step", "locked")


class BackboneConfig:
    """Base of the model configurations: ``validate`` and ``to_dict``."""

    sizes: ClassVar[tuple[str, ...]] = ("vocab_size", "hidden", "layers")  # each at least 1
    bidirectional: ClassVar[bool] = False  # a model without this field reads left to right only

    def validate(self) -> None:
        """Raise ``RnnkitError`` (a ValueError) at the first field out of range: the sizes, the model's own
        checks (``check_own``), then embed, dropout and input_init."""
        for name in self.sizes:
            if getattr(self, name) < 1:
                raise RnnkitError(f"`{name}` must be at least 1, got {getattr(self, name)}")
        self.check_own()
        if self.embed < 0:
            raise RnnkitError(f"`embed` must be 0 (one-hot) or positive, got {self.embed}")
        for name in ("dropout", "weight_drop"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise RnnkitError(f"`{name}` must lie in [0, 1), got {getattr(self, name)}")
        if self.dropout_mode not in DROPOUT_MODES:
            raise RnnkitError(
                f"`dropout_mode` must be one of {', '.join(DROPOUT_MODES)}, got {self.dropout_mode!r}"
            )
        check_input_init(self.input_init)

    def stack_regularisers(self) -> dict:
        """The ``RNNStack`` keywords of the training-only regularisers: DropConnect on W_hh, and
        dropout between layers locked across time."""
        return dict(weight_drop=self.weight_drop, locked_dropout=self.dropout_mode == "locked")

    def check_own(self) -> None:
        """The model's own checks (none here)."""

    def check_token_ids(self, V: int) -> None:
        """pad_id, bos_id and eos_id (a model that writes text has them) must lie in [0, V)."""
        for name in ("pad_id", "bos_id", "eos_id"):
            if not 0 <= getattr(self, name) < V:
                raise ValueError(f"{name}={getattr(self, name)} must lie in [0, {V})")

    def never_emitted(self, V: int) -> tuple[int, ...]:
        """The ids a model that writes text never emits, which its decoders ban: PAD, BOS and
        UNK (``<unk>`` stands for an unseen token; it is never text). EOS is not among them: it
        ends the output. UNK (``data/token_vocab.py``) is banned where it is another id of
        the V-token vocabulary, as in every task vocabulary."""
        ids = (self.pad_id, self.bos_id)
        return ids + (UNK,) if UNK < V and UNK not in (*ids, self.eos_id) else ids

    def to_dict(self) -> dict:
        return asdict(self)


class Backbone:
    """``embedding`` (an ``Embedding``, or None for one-hot input) in front of ``rnn`` (an
    ``RNNStack``, or the torch engine's stand-in for it, ``torch/stack.py``).

    >>> from rnnkit.models.char_rnn import ModelConfig
    >>> b = Backbone.build(5, ModelConfig(vocab_size=5, hidden=4, layers=2), np.random.default_rng(0))
    >>> (hs, h_n), cache = b.forward(np.array([[0, 1], [2, 3], [4, 0]]))   # ids (T=3, B=2)
    >>> hs.shape, h_n.shape
    ((3, 2, 4), (2, 2, 4))
    >>> dx, dh0 = b.backward(np.ones_like(hs), None, cache)               # dx None: ids in
    """

    def __init__(self, embedding: Embedding | None, rnn: RNNStack):
        self.embedding, self.rnn = embedding, rnn

    @classmethod
    def build(
        cls, V: int, cfg: BackboneConfig, rng: np.random.Generator, dtype: DTypeLike = np.float32
    ) -> Backbone:
        """The backbone over V ids for a model config (``BackboneConfig``: embed, hidden,
        layers, bidirectional, dropout, init, input_init).

        Drawn from ``rng`` in this order: the embedding, the stack, the one-hot redraw. Every
        seeded run and the tests' pinned weights (``tests/test_model_seeds.py``) depend on it.
        """
        embedding = Embedding(V, cfg.embed, rng, dtype) if cfg.embed else None
        stack = RNNStack(
            cfg.embed or V,
            cfg.hidden,
            cfg.layers,
            cfg.bidirectional,
            cfg.dropout,
            rng,
            cfg.init,
            dtype,
            **cfg.stack_regularisers(),
        )
        backbone = cls(embedding, stack)
        backbone.redraw_onehot_input(cfg.input_init, rng)
        return backbone

    def redraw_onehot_input(self, input_init: str, rng: np.random.Generator) -> None:
        """One-hot input and ``input_init`` normal: layer 0's W_ih ~ N(0, 1), each direction in turn."""
        if self.embedding is None and input_init == "normal":
            redraw_onehot_input(self.rnn.input_weights(), rng)

    def parts(self) -> dict:
        """Prefix -> module, for ``FlatParams``: ``embedding.weight``, ``rnn.weight_ih_l0``, ..."""
        return {"embedding.": self.embedding, "rnn.": self.rnn} if self.embedding else {"rnn.": self.rnn}

    def forward(
        self,
        ids: np.ndarray,
        h0: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        train: bool = False,
    ) -> tuple[tuple[np.ndarray, np.ndarray], dict]:
        """ids (T, B) (or, without an embedding, any input the stack takes: x (T, B, D));
        h0 (L*dirs, B, H) -> ((top states (T, B, dirs*H), h_n (L*dirs, B, H)), cache)."""
        x, ecache = (ids, None) if self.embedding is None else self.embedding.forward(ids)  # (T, B, E)
        states, rcache = self.rnn.forward(x, h0, mask, rng, train)
        return states, dict(ecache=ecache, rcache=rcache)

    def backward(
        self, dhs: np.ndarray | None, dh_n: np.ndarray | None, cache: dict, overwrite_dstates: bool = False
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """dhs (T, B, dirs*H) or None, dh_n (L*dirs, B, H) or None -> (dx, dh0 (L*dirs, B, H)).

        Writes the parameter gradients; dx is d(loss)/dx for a float input x, None for ids.
        ``overwrite_dstates`` (one direction only; the LM's step): the caller hands ``dhs`` over,
        so each layer may store its dz in the gradient buffer it gets (``RNNLayer.backward``):
        one sequence-sized buffer less per layer, most of the backward's memory; same numbers.
        """
        if overwrite_dstates:  # RNNStack.backward, with the layers' buffers overwritten
            caches, drops = cache["rcache"]
            L = len(self.rnn.layers)
            dh0 = np.empty((L,) + dhs.shape[1:], dtype=dhs.dtype)  # (L, B, H)
            d = dhs
            del dhs  # d must be the only owner: each layer's dx replaces it, freeing the last one
            for k in range(L - 1, -1, -1):
                dhk = None if dh_n is None else dh_n[k]
                d, dh0[k], _ = self.rnn.layers[k].backward(d, dhk, caches[k], overwrite_dstates=True)
                if drops[k] is not None:
                    d *= drops[k]  # d is this layer's own dx
            dx = d
        else:
            dx, dh0, _ = self.rnn.backward(dhs, dh_n, cache["rcache"])
        if self.embedding is not None:
            self.embedding.backward(dx, cache["ecache"])
            dx = None
        return dx, dh0


def stack_of(backbone: str) -> property:
    """A model attribute for ``model.<backbone>.rnn``, readable and settable: the rest of rnnkit
    knows a model's stacks as ``rnn`` (seq2seq: ``encoder`` and ``decoder``), and the torch
    engine swaps them in place under those names (``torch/task_engines.py``)."""
    return property(
        lambda model: getattr(model, backbone).rnn,
        lambda model, stack: setattr(getattr(model, backbone), "rnn", stack),
    )


def cross_entropy(
    y: np.ndarray, targets: np.ndarray, mask: np.ndarray | None, need_grad: bool, cache: dict
) -> float:
    """Logits y (..., K), integer targets (...), mask (...) or None -> mean loss over the real
    positions; puts ``dlogits``, the summed nats ``total`` and ``count`` into ``cache``."""
    targets = np.asarray(targets)
    if mask is not None:
        targets = np.where(mask > 0, targets, 0)  # a padded position may hold any value
    loss, total, count, dy = softmax_cross_entropy(y, targets, mask, need_grad)
    cache.update(dlogits=dy, total=total, count=count)
    return loss


class BackboneModel:
    """Base of the models with one ``backbone`` and a ``head``; ``rnn`` is the backbone's stack."""

    rnn = stack_of("backbone")

    def __init__(self, cfg, dtype):
        cfg.validate()
        self.cfg, self.dtype = cfg, np.dtype(dtype)

    def assemble(
        self, backbone: Backbone, outputs: int, rng: np.random.Generator, inputs: dict | None = None
    ) -> None:
        """Set ``backbone``, draw the head (dirs*H -> ``outputs``) from ``rng``, and gather every
        parameter into ``self.flat``: the ``inputs`` (prefix -> module or None) first, then the
        backbone's, then ``head.``, with the model's ``ties``."""
        self.backbone = backbone
        self.head = Linear(backbone.rnn.out_size, outputs, rng, self.dtype)
        parts = {prefix: m for prefix, m in (inputs or {}).items() if m is not None}
        self.flat = FlatParams({**parts, **backbone.parts(), "head.": self.head}, self.dtype, self.ties())

    def ties(self) -> dict:
        """Tied weights, as ``FlatParams`` takes them (alias -> (source, transposed)): none here."""
        return {}

    def readout(
        self, h: np.ndarray, cache: dict, train: bool = False, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """h (..., dirs*H) -> logits (..., K): y = W_hy dropout(h) + b_y (dropout in training only;
        locked across time, for states (T, B, dirs*H), when ``dropout_mode`` is locked)."""
        locked = self.cfg.dropout_mode == "locked" and h.ndim == 3
        h, cache["drop"] = dropout(h, self.cfg.dropout, train, rng, self.dtype, locked)
        y, cache["hcache"] = self.head.forward(h)
        return y

    def readout_backward(self, cache: dict) -> np.ndarray:
        """-> d(loss)/dh (..., dirs*H), from the ``dlogits`` that ``cross_entropy`` left in ``cache``."""
        dh, _ = self.head.backward(cache["dlogits"], cache["hcache"])
        if cache["drop"] is not None:
            dh *= cache["drop"]
        return dh

    def zero_state(self, B: int) -> np.ndarray:
        """h0 (L, B, H) of zeros, for the one-directional models that are stepped (LM, generator)."""
        return np.zeros((self.cfg.layers, B, self.cfg.hidden), dtype=self.dtype)
