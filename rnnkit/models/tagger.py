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
from rnnkit.nn.softmax_cross_entropy import softmax

from .backbone import Backbone, BackboneConfig, BackboneModel, cross_entropy


@dataclass
class TaggerConfig(BackboneConfig):
    """Everything needed to rebuild a ``SequenceTagger``'s shapes (fields: ``backbone.py``)."""

    vocab_size: int
    num_tags: int
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
        if self.num_tags < 2:
            raise ValueError(f"a tagger needs at least 2 tags, got num_tags={self.num_tags}")


class SequenceTagger(BackboneModel):
    """ids (T, B) -> tags (T, B).

    >>> m = SequenceTagger(TaggerConfig(vocab_size=6, num_tags=2, hidden=8, bidirectional=True))
    >>> ids, tags = np.array([[4, 5], [5, 0]]), np.array([[0, 1], [1, 0]])   # (T=2, B=2)
    >>> loss, cache = m.forward(ids, tags, lengths=np.array([2, 1]))
    >>> m.backward(cache)
    >>> int(m.predict(ids, lengths=np.array([2, 1]))[1, 1])                   # padding -> -1
    -1
    """

    def __init__(self, cfg: TaggerConfig, seed: int = 0, dtype=np.float32):
        super().__init__(cfg, dtype)
        rng = np.random.default_rng(seed)
        self.assemble(Backbone.build(cfg.vocab_size, cfg, rng, self.dtype), cfg.num_tags, rng)

    def logits(
        self,
        ids: np.ndarray,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
    ) -> tuple[np.ndarray, dict]:
        """ids (T, B) -> (logits (T, B, K), cache)."""
        T, B = ids.shape
        mask = resolve_mask(T, B, mask, lengths, self.dtype)
        (hs, _), cache = self.backbone.forward(ids, None, mask, rng, train)  # (T, B, dirs*H)
        cache["mask"] = mask
        return self.readout(hs, cache, train, rng), cache

    def forward(
        self,
        ids: np.ndarray,
        tags: np.ndarray,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
        need_grad: bool = True,
    ) -> tuple[float, dict]:
        """ids, tags (T, B) -> (mean loss per real step, cache). Give ``mask`` or ``lengths``."""
        y, cache = self.logits(ids, mask, lengths, train, rng)
        cache["logits"] = y
        return cross_entropy(y, tags, cache["mask"], need_grad, cache), cache

    def backward(self, cache: dict) -> None:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params)."""
        self.backbone.backward(self.readout_backward(cache), None, cache)

    def predict_proba(
        self, ids: np.ndarray, mask: np.ndarray | None = None, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """ids (T, B) -> tag probabilities (T, B, K)."""
        y, _ = self.logits(ids, mask, lengths)
        return softmax(y.astype(np.float64))

    def predict(
        self, ids: np.ndarray, mask: np.ndarray | None = None, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """ids (T, B) -> the most probable tag per step (T, B); -1 on padded steps."""
        T, B = ids.shape
        m = resolve_mask(T, B, mask, lengths)
        pred = self.predict_proba(ids, m).argmax(axis=2)
        return pred if m is None else np.where(m > 0, pred, -1)
