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

from dataclasses import dataclass

import numpy as np

from rnnkit.data.padding import resolve_mask
from rnnkit.nn.softmax_cross_entropy import softmax

from .backbone import Backbone, BackboneConfig, BackboneModel, cross_entropy


@dataclass
class ClassifierConfig(BackboneConfig):
    """Everything needed to rebuild a ``SequenceClassifier``'s shapes (fields: ``backbone.py``)."""

    vocab_size: int
    num_classes: int
    hidden: int = 128
    layers: int = 1
    embed: int = 0
    bidirectional: bool = False
    dropout: float = 0.0  # between RNN layers and before the head
    init: str = "uniform"
    input_init: str = "normal"
    dropout_mode: str = "step"  # step: a fresh dropout mask per time step; locked: one per sequence
    weight_drop: float = 0.0  # DropConnect on every W_hh in training (one mask per batch)

    def check_own(self) -> None:
        if self.num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got num_classes={self.num_classes}")


class SequenceClassifier(BackboneModel):
    """ids (T, B) -> one label per sequence.

    >>> m = SequenceClassifier(ClassifierConfig(vocab_size=6, num_classes=3, hidden=8), seed=0)
    >>> ids = np.array([[4, 5], [5, 0]])                      # (T=2, B=2), second is padded
    >>> loss, cache = m.forward(ids, np.array([0, 2]), lengths=np.array([2, 1]))
    >>> m.backward(cache)                                     # gradients now in m.flat.grad
    >>> m.predict_proba(ids, lengths=np.array([2, 1])).shape
    (2, 3)
    """

    def __init__(self, cfg: ClassifierConfig, seed: int = 0, dtype=np.float32):
        super().__init__(cfg, dtype)
        rng = np.random.default_rng(seed)
        self.dirs = 2 if cfg.bidirectional else 1
        self.assemble(Backbone.build(cfg.vocab_size, cfg, rng, self.dtype), cfg.num_classes, rng)

    def features(
        self,
        ids: np.ndarray,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
    ) -> tuple[np.ndarray, dict]:
        """ids (T, B) -> (f (B, dirs*H), cache): the top layer's final state(s)."""
        T, B = ids.shape
        mask = resolve_mask(T, B, mask, lengths, self.dtype)
        (_, h_n), cache = self.backbone.forward(ids, None, mask, rng, train)  # h_n (L*dirs, B, H)
        f = np.concatenate(list(h_n[-self.dirs :]), axis=1)  # (B, dirs*H)
        return f, cache

    def logits(
        self,
        ids: np.ndarray,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
    ) -> tuple[np.ndarray, dict]:
        """ids (T, B) -> (logits (B, K), cache)."""
        f, cache = self.features(ids, mask, lengths, train, rng)  # (B, dirs*H)
        return self.readout(f, cache, train, rng), cache

    def forward(
        self,
        ids: np.ndarray,
        labels: np.ndarray,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
        need_grad: bool = True,
    ) -> tuple[float, dict]:
        """ids (T, B), labels (B,) -> (mean loss, cache). Give ``mask`` (T, B) or ``lengths`` (B,).

        ``cache`` also holds ``logits`` (B, K), the summed nats ``total`` and ``count``.
        """
        y, cache = self.logits(ids, mask, lengths, train, rng)
        cache["logits"] = y
        return cross_entropy(y, labels, None, need_grad, cache), cache

    def backward(self, cache: dict) -> None:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params)."""
        df = self.readout_backward(cache)  # (B, dirs*H) = [df_fwd, df_bwd]
        B, H = df.shape[0], self.cfg.hidden
        dh_n = np.zeros((self.cfg.layers * self.dirs, B, H), dtype=self.dtype)  # (L*dirs, B, H)
        dh_n[-self.dirs :] = df.reshape(B, self.dirs, H).transpose(1, 0, 2)  # the top layer's
        self.backbone.backward(None, dh_n, cache)

    def predict_proba(
        self, ids: np.ndarray, mask: np.ndarray | None = None, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """ids (T, B) -> class probabilities (B, K)."""
        y, _ = self.logits(ids, mask, lengths)
        return softmax(y.astype(np.float64))

    def predict(
        self, ids: np.ndarray, mask: np.ndarray | None = None, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """ids (T, B) -> the most probable class (B,)."""
        return self.predict_proba(ids, mask, lengths).argmax(axis=1)
