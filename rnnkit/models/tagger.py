"""Synchronous many-to-many: one tag per input step (tagging, segmentation, frames).

    x_t = onehot(c_t)  or  E[c_t]
    h_t = top-layer state of a uni- or bidirectional RNN stack   (H,) or (2H,) = [h→_t ; h←_t]
    y_t = W_hy dropout(h_t) + b_y                                (K,) tag logits
    loss = -1/N sum_{t,b} m_tb log softmax(y_tb)[tag_tb],   N = sum m_tb

The bidirectional stack sees the characters right of t too: h←_t summarises c_t..c_n.
Where the tag depends on what follows (is there a space after this character?), that is
the information a left-to-right stack lacks. Padded steps (m_tb = 0) carry no loss and,
by the engine's masking, change no state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.data.padding import resolve_mask

from .labeller import Labeller, LabellerSettings


@dataclass
class TaggerSizes:
    vocab_size: int
    num_tags: int


@dataclass
class TaggerConfig(LabellerSettings, TaggerSizes):
    """Everything needed to rebuild a ``SequenceTagger``'s shapes: the sizes, then the
    ``LabellerSettings`` (fields: ``backbone.py``)."""

    model_name, labels_field = "tagger", "num_tags"


class SequenceTagger(Labeller):
    """ids (T, B) -> tags (T, B).

    >>> m = SequenceTagger(TaggerConfig(vocab_size=6, num_tags=2, hidden=8, bidirectional=True))
    >>> ids, tags = np.array([[4, 5], [5, 0]]), np.array([[0, 1], [1, 0]])   # (T=2, B=2)
    >>> loss, cache = m.forward(ids, tags, lengths=np.array([2, 1]))
    >>> m.backward(cache)
    >>> int(m.predict(ids, lengths=np.array([2, 1]))[1, 1])                   # padding -> -1
    -1
    """

    def read_states(self, hs: np.ndarray, h_n: np.ndarray) -> np.ndarray:
        """-> hs (T, B, dirs*H): every step's top state."""
        return hs

    def backward(self, cache: dict) -> None:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params)."""
        self.backbone.backward(self.readout_backward(cache), None, cache)

    def predict(
        self, ids: np.ndarray, mask: np.ndarray | None = None, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """ids (T, B) -> the most probable tag per step (T, B); -1 on padded steps."""
        T, B = ids.shape
        m = resolve_mask(T, B, mask, lengths)
        pred = self.predict_proba(ids, m).argmax(axis=2)
        return pred if m is None else np.where(m > 0, pred, -1)
