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
class TaggerConfig:
    """Everything needed to rebuild a ``SequenceTagger``'s shapes."""

    vocab_size: int
    num_tags: int
    hidden: int = 128
    layers: int = 1
    embed: int = 0  # 0: one-hot input; > 0: a learned embedding of that size
    bidirectional: bool = False
    dropout: float = 0.0  # between RNN layers and before the head
    init: str = "uniform"
    input_init: str = (
        "normal"  # one-hot input: its W_ih columns ~ N(0, 1) (normal) or U(±1/√H) (uniform); see init.py
    )

    def validate(self) -> None:
        for name in ("vocab_size", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.num_tags < 2:
            raise ValueError(f"a tagger needs at least 2 tags, got num_tags={self.num_tags}")
        if self.embed < 0:
            raise ValueError(f"embed must be 0 (one-hot) or positive, got {self.embed}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        check_input_init(self.input_init)

    def to_dict(self) -> dict:
        return asdict(self)


class SequenceTagger:
    """ids (T, B) -> tags (T, B).

    >>> m = SequenceTagger(TaggerConfig(vocab_size=6, num_tags=2, hidden=8, bidirectional=True))
    >>> ids, tags = np.array([[4, 5], [5, 0]]), np.array([[0, 1], [1, 0]])   # (T=2, B=2)
    >>> loss, cache = m.forward(ids, tags, lengths=np.array([2, 1]))
    >>> m.backward(cache)
    >>> int(m.predict(ids, lengths=np.array([2, 1]))[1, 1])                   # padding -> -1
    -1
    """

    def __init__(self, cfg: TaggerConfig, seed: int = 0, dtype=np.float32):
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
        self.head = Linear(self.dirs * H, cfg.num_tags, rng, dtype)
        parts = {"embedding.": self.embedding} if self.embedding else {}
        parts.update({"rnn.": self.rnn, "head.": self.head})
        self.flat = FlatParams(parts, dtype)

    def logits(self, ids, mask=None, lengths=None, train=False, rng=None):
        """ids (T, B) -> (logits (T, B, K), cache)."""
        T, B = ids.shape
        mask = resolve_mask(T, B, mask, lengths, self.dtype)
        x, ecache = (ids, None) if self.embedding is None else self.embedding.forward(ids)
        (hs, _), rcache = self.rnn.forward(x, None, mask, rng, train)  # (T, B, dirs*H)
        hs, drop = dropout(hs, self.cfg.dropout, train, rng, self.dtype)  # before the head
        y, hcache = self.head.forward(hs)  # (T, B, K)
        return y, dict(ecache=ecache, rcache=rcache, hcache=hcache, drop=drop, mask=mask)

    def forward(self, ids, tags, mask=None, lengths=None, train=False, rng=None, need_grad=True):
        """ids, tags (T, B) -> (mean loss per real step, cache). Give ``mask`` or ``lengths``."""
        y, cache = self.logits(ids, mask, lengths, train, rng)
        tags = np.asarray(tags)
        if cache["mask"] is not None:
            tags = np.where(cache["mask"] > 0, tags, 0)  # padding may hold any value
        loss, total, count, dy = softmax_cross_entropy(y, tags, cache["mask"], need_grad)
        cache.update(logits=y, dlogits=dy, total=total, count=count)
        return loss, cache

    def backward(self, cache) -> None:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params)."""
        dhs, _ = self.head.backward(cache["dlogits"], cache["hcache"])  # (T, B, dirs*H)
        if cache["drop"] is not None:
            dhs = dhs * cache["drop"]
        dx, _, _ = self.rnn.backward(dhs, None, cache["rcache"])
        if self.embedding is not None:
            self.embedding.backward(dx, cache["ecache"])

    def predict_proba(self, ids, mask=None, lengths=None) -> np.ndarray:
        """ids (T, B) -> tag probabilities (T, B, K)."""
        y, _ = self.logits(ids, mask, lengths)
        return softmax(y.astype(np.float64))

    def predict(self, ids, mask=None, lengths=None) -> np.ndarray:
        """ids (T, B) -> the most probable tag per step (T, B); -1 on padded steps."""
        T, B = ids.shape
        m = resolve_mask(T, B, mask, lengths)
        pred = self.predict_proba(ids, m).argmax(axis=2)
        return pred if m is None else np.where(m > 0, pred, -1)
