"""Many-to-one: a sequence classifier on the final RNN state (sentiment, language ID).

    x_t = onehot(c_t)  or  E[c_t]                              (V,) or (E,)
    h^(l)_t = tanh(W^(l)_ih h^(l-1)_t + W^(l)_hh h^(l)_{t-1} + b^(l))      l = 1..L
    f = h^(L)_n                                   unidirectional, n = the sequence's length
    f = [h→^(L)_n ; h←^(L)_1]                     bidirectional: each direction's final state
    y = W_hy dropout(f) + b_y                                   (K,) class logits
    loss = -1/B sum_b log softmax(y_b)[label_b]

With a mask the state is held on padded steps, so ``h_n`` is each sequence's state at its
own last character, and the right-to-left direction starts at that character.

Parameter names: ``embedding.weight`` (only with ``embed > 0``), ``rnn.weight_ih_l0`` …
(``torch.nn.RNN`` layout), ``head.weight``, ``head.bias``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rnnkit.data.padding import resolve_mask
from rnnkit.nn.dropout import dropout
from rnnkit.nn.embedding import Embedding
from rnnkit.nn.init import check_input_init, redraw_onehot_input
from rnnkit.nn.linear import Linear
from rnnkit.nn.params import FlatParams
from rnnkit.nn.softmax_cross_entropy import softmax, softmax_cross_entropy
from rnnkit.nn.stack import RNNStack


@dataclass
class ClassifierConfig:
    """Everything needed to rebuild a ``SequenceClassifier``'s shapes."""

    vocab_size: int
    num_classes: int
    hidden: int = 128
    layers: int = 1
    embed: int = 0  # 0: one-hot input; > 0: a learned embedding of that size
    bidirectional: bool = False
    dropout: float = 0.0  # between RNN layers and before the head
    init: str = "uniform"  # recurrent init: uniform | orthogonal | identity
    input_init: str = (
        "normal"  # one-hot input: its W_ih columns ~ N(0, 1) (normal) or U(±1/√H) (uniform); see init.py
    )

    def validate(self) -> None:
        for name in ("vocab_size", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got num_classes={self.num_classes}")
        if self.embed < 0:
            raise ValueError(f"embed must be 0 (one-hot) or positive, got {self.embed}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        check_input_init(self.input_init)

    def to_dict(self) -> dict:
        return asdict(self)


class SequenceClassifier:
    """ids (T, B) -> one label per sequence.

    >>> m = SequenceClassifier(ClassifierConfig(vocab_size=6, num_classes=3, hidden=8), seed=0)
    >>> ids = np.array([[4, 5], [5, 0]])                      # (T=2, B=2), second is padded
    >>> loss, cache = m.forward(ids, np.array([0, 2]), lengths=np.array([2, 1]))
    >>> m.backward(cache)                                     # gradients now in m.flat.grad
    >>> m.predict_proba(ids, lengths=np.array([2, 1])).shape
    (2, 3)
    """

    def __init__(self, cfg: ClassifierConfig, seed: int = 0, dtype=np.float32):
        cfg.validate()
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        V, H, L = cfg.vocab_size, cfg.hidden, cfg.layers
        self.dirs = 2 if cfg.bidirectional else 1
        self.embedding = Embedding(V, cfg.embed, rng, dtype) if cfg.embed else None
        self.rnn = RNNStack(cfg.embed or V, H, L, cfg.bidirectional, cfg.dropout, rng, cfg.init, dtype)
        if not cfg.embed and cfg.input_init == "normal":
            redraw_onehot_input(self.rnn.input_weights(), rng)
        self.head = Linear(self.dirs * H, cfg.num_classes, rng, dtype)
        parts = {"embedding.": self.embedding} if self.embedding else {}
        parts.update({"rnn.": self.rnn, "head.": self.head})
        self.flat = FlatParams(parts, dtype)

    def features(self, ids, mask=None, lengths=None, train=False, rng=None):
        """ids (T, B) -> (f (B, dirs*H), cache): the top layer's final state(s)."""
        T, B = ids.shape
        mask = resolve_mask(T, B, mask, lengths, self.dtype)
        x, ecache = (ids, None) if self.embedding is None else self.embedding.forward(ids)  # (T, B, E)
        (_, h_n), rcache = self.rnn.forward(x, None, mask, rng, train)  # h_n (L*dirs, B, H)
        top = h_n[-self.dirs :]  # (dirs, B, H)
        f = np.concatenate(list(top), axis=1)  # (B, dirs*H)
        return f, dict(ecache=ecache, rcache=rcache, B=B)

    def logits(self, ids, mask=None, lengths=None, train=False, rng=None):
        """ids (T, B) -> (logits (B, K), cache)."""
        f, cache = self.features(ids, mask, lengths, train, rng)  # (B, dirs*H)
        f, drop = dropout(f, self.cfg.dropout, train, rng, self.dtype)  # before the head
        y, hcache = self.head.forward(f)  # (B, K)
        cache.update(drop=drop, hcache=hcache)
        return y, cache

    def forward(self, ids, labels, mask=None, lengths=None, train=False, rng=None, need_grad=True):
        """ids (T, B), labels (B,) -> (mean loss, cache). Give ``mask`` (T, B) or ``lengths`` (B,).

        ``cache`` also holds ``logits`` (B, K), the summed nats ``total`` and ``count``.
        """
        y, cache = self.logits(ids, mask, lengths, train, rng)
        loss, total, count, dy = softmax_cross_entropy(y, np.asarray(labels), None, need_grad)
        cache.update(logits=y, dlogits=dy, total=total, count=count)
        return loss, cache

    def backward(self, cache) -> None:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params)."""
        df, _ = self.head.backward(cache["dlogits"], cache["hcache"])  # (B, dirs*H)
        if cache["drop"] is not None:
            df = df * cache["drop"]
        H, B = self.cfg.hidden, cache["B"]
        dh_n = np.zeros((self.cfg.layers * self.dirs, B, H), dtype=self.dtype)  # (L*dirs, B, H)
        for d in range(self.dirs):
            dh_n[-self.dirs + d] = df[:, d * H : (d + 1) * H]
        dx, _, _ = self.rnn.backward(None, dh_n, cache["rcache"])
        if self.embedding is not None:
            self.embedding.backward(dx, cache["ecache"])

    def predict_proba(self, ids, mask=None, lengths=None) -> np.ndarray:
        """ids (T, B) -> class probabilities (B, K)."""
        y, _ = self.logits(ids, mask, lengths)
        return softmax(y.astype(np.float64))

    def predict(self, ids, mask=None, lengths=None) -> np.ndarray:
        """ids (T, B) -> the most probable class (B,)."""
        return self.predict_proba(ids, mask, lengths).argmax(axis=1)
