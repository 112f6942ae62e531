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

from .labeller import Labeller, LabellerSettings


@dataclass
class ClassifierSizes:
    vocab_size: int
    num_classes: int


@dataclass
class ClassifierConfig(LabellerSettings, ClassifierSizes):
    """Everything needed to rebuild a ``SequenceClassifier``'s shapes: the sizes, then the
    ``LabellerSettings`` (fields: ``backbone.py``)."""

    model_name, labels_field = "classifier", "num_classes"


class SequenceClassifier(Labeller):
    """ids (T, B) -> one label per sequence.

    >>> m = SequenceClassifier(ClassifierConfig(vocab_size=6, num_classes=3, hidden=8), seed=0)
    >>> ids = np.array([[4, 5], [5, 0]])                      # (T=2, B=2), second is padded
    >>> loss, cache = m.forward(ids, np.array([0, 2]), lengths=np.array([2, 1]))
    >>> m.backward(cache)                                     # gradients now in m.flat.grad
    >>> m.predict_proba(ids, lengths=np.array([2, 1])).shape
    (2, 3)
    """

    def read_states(self, hs: np.ndarray, h_n: np.ndarray) -> np.ndarray:
        """-> f (B, dirs*H): the top layer's final state(s)."""
        return np.concatenate(list(h_n[-self.dirs :]), axis=1)  # (B, dirs*H)

    def backward(self, cache: dict) -> None:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params)."""
        df = self.readout_backward(cache)  # (B, dirs*H) = [df_fwd, df_bwd]
        B, H = df.shape[0], self.cfg.hidden
        dh_n = np.zeros((self.cfg.layers * self.dirs, B, H), dtype=self.dtype)  # (L*dirs, B, H)
        dh_n[-self.dirs :] = df.reshape(B, self.dirs, H).transpose(1, 0, 2)  # the top layer's
        self.backbone.backward(None, dh_n, cache)

    def predict(
        self, ids: np.ndarray, mask: np.ndarray | None = None, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """ids (T, B) -> the most probable class (B,)."""
        return self.predict_proba(ids, mask, lengths).argmax(axis=1)
