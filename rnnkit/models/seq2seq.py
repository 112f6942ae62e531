"""Many-to-many, encoder-decoder: read the whole source, then write the target.

    encoder:  h^enc_s = RNN_enc(x_s, h^enc_{s-1}),   s = 1..S     (uni- or bidirectional)
    bridge:   h^dec_0[l] = h^enc_n[l]                 unidirectional encoder (H)
              h^dec_0[l] = [h→^enc_n[l] ; h←^enc_1[l]]  bidirectional encoder: decoder is 2H wide
    decoder:  h^dec_t = RNN_dec(e(w_{t-1}), h^dec_{t-1}),  w_0 = BOS
              y_t = W_hy h^dec_t + b_y                                    (V_tgt,)
    loss = -1/N sum_{t,b} m_tb log softmax(y_tb)[w_tb],   targets w_1 .. w_n EOS

So the source reaches the decoder only through its initial state, layer by layer (the
decoder has as many layers as the encoder). Training uses teacher forcing: the decoder
reads the true previous target token (``batch.teacher_forcing`` builds BOS w / w EOS).
Decoding feeds back its own output, one ``step`` at a time, greedily or with beam search
(the decode layer, ``decode/forms.py``).

Parameter names: ``src_embedding.weight``, ``tgt_embedding.weight`` (with ``embed > 0``),
``encoder.weight_ih_l0`` …, ``decoder.weight_ih_l0`` …, ``head.weight``, ``head.bias``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.data.padding import resolve_mask, teacher_forcing
from rnnkit.data.token_vocab import BOS, EOS, PAD
from rnnkit.nn.embedding import Embedding
from rnnkit.nn.linear import Linear
from rnnkit.nn.params import FlatParams
from rnnkit.nn.softmax_cross_entropy import log_softmax
from rnnkit.nn.stack import RNNStack

from .backbone import Backbone, BackboneConfig, cross_entropy, stack_of


@dataclass
class Seq2SeqConfig(BackboneConfig):
    """Everything needed to rebuild a ``Seq2Seq`` model's shapes (fields: ``backbone.py``)."""

    src_vocab_size: int
    tgt_vocab_size: int
    hidden: int = 128  # encoder width per direction; the decoder's is dirs * hidden
    layers: int = 1  # encoder and decoder alike
    embed: int = 0  # 0: one-hot inputs; > 0: learned source and target embeddings
    bidirectional: bool = False  # the encoder only; the decoder always reads left to right
    dropout: float = 0.0  # between RNN layers
    init: str = "uniform"
    pad_id: int = PAD
    bos_id: int = BOS
    eos_id: int = EOS
    input_init: str = "uniform"  # one-hot inputs: normal draws encoder's and decoder's N(0, 1); see init.py
    dropout_mode: str = "step"  # step: a fresh dropout mask per time step; locked: one per sequence
    weight_drop: float = 0.0  # DropConnect on every W_hh in training (one mask per batch)

    sizes: ClassVar[tuple[str, ...]] = ("src_vocab_size", "tgt_vocab_size", "hidden", "layers")

    def check_own(self) -> None:
        self.check_token_ids(self.tgt_vocab_size)
        if len({self.pad_id, self.bos_id, self.eos_id}) != 3:
            raise ValueError("pad_id, bos_id and eos_id must differ")


class Seq2Seq:
    """src ids (S, B) -> target ids.

    >>> m = Seq2Seq(Seq2SeqConfig(src_vocab_size=6, tgt_vocab_size=7, hidden=8), seed=0)
    >>> src = np.array([[4, 5], [5, 0]])                               # (S=2, B=2)
    >>> dec_in, dec_out, dec_mask = teacher_forcing([[4, 6, 5], [6]])  # (T=4, B=2)
    >>> loss, cache = m.forward(src, dec_in, dec_out, src_lengths=np.array([2, 1]), dec_mask=dec_mask)
    >>> m.backward(cache)
    >>> h0, _ = m.encode(src, src_lengths=np.array([2, 1]))            # (L, B, Hd)
    >>> logits, h1 = m.step(np.full(2, m.cfg.bos_id), h0)              # the first target token's
    >>> logits.shape
    (2, 7)
    """

    encoder = stack_of("source")  # the stacks, as the torch engine knows them
    decoder = stack_of("target")

    def __init__(self, cfg: Seq2SeqConfig, seed: int = 0, dtype=np.float32):
        cfg.validate()
        self.cfg, self.dtype = cfg, np.dtype(dtype)
        rng = np.random.default_rng(seed)
        H, L, E = cfg.hidden, cfg.layers, cfg.embed
        self.dirs = 2 if cfg.bidirectional else 1
        self.Hd = self.dirs * H  # decoder width
        # Drawn from rng in this order: both embeddings, both stacks, the one-hot redraws, the
        # head (not one backbone after the other: seeded runs depend on the order).
        src_embedding = Embedding(cfg.src_vocab_size, E, rng, dtype) if E else None
        tgt_embedding = Embedding(cfg.tgt_vocab_size, E, rng, dtype) if E else None
        reg = cfg.stack_regularisers()
        encoder = RNNStack(
            E or cfg.src_vocab_size, H, L, cfg.bidirectional, cfg.dropout, rng, cfg.init, dtype, **reg
        )
        decoder = RNNStack(
            E or cfg.tgt_vocab_size, self.Hd, L, False, cfg.dropout, rng, cfg.init, dtype, **reg
        )
        self.source, self.target = Backbone(src_embedding, encoder), Backbone(tgt_embedding, decoder)
        for backbone in (self.source, self.target):
            backbone.redraw_onehot_input(cfg.input_init, rng)
        self.head = Linear(self.Hd, cfg.tgt_vocab_size, rng, dtype)
        parts = {"src_embedding.": src_embedding, "tgt_embedding.": tgt_embedding} if E else {}
        parts.update({"encoder.": encoder, "decoder.": decoder, "head.": self.head})
        self.flat = FlatParams(parts, dtype)
        self.banned = cfg.never_emitted(cfg.tgt_vocab_size)  # PAD, BOS, UNK

    # ------------------------------------------------------------------ encoder
    def encode(
        self,
        src: np.ndarray,
        src_mask: ArrayLike | None = None,
        src_lengths: ArrayLike | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
    ) -> tuple[np.ndarray, dict]:
        """src (S, B) -> (decoder h0 (L, B, dirs*H), cache)."""
        S, B = src.shape
        mask = resolve_mask(S, B, src_mask, src_lengths, self.dtype)
        (_, h_n), cache = self.source.forward(src, None, mask, rng, train)  # (L*dirs, B, H)
        L, H = self.cfg.layers, self.cfg.hidden
        h0 = h_n.reshape(L, self.dirs, B, H).transpose(0, 2, 1, 3)  # (L, B, dirs, H)
        return h0.reshape(L, B, self.Hd), cache  # (L, B, dirs*H): [h→ ; h←] per layer

    # ----------------------------------------------------------------- training
    def forward(
        self,
        src: np.ndarray,
        dec_in: ArrayLike,
        dec_out: ArrayLike,
        src_mask: ArrayLike | None = None,
        dec_mask: ArrayLike | None = None,
        src_lengths: ArrayLike | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
        need_grad: bool = True,
    ) -> tuple[float, dict]:
        """src (S, B); dec_in (T, B) = BOS w; dec_out (T, B) = w EOS; masks (S, B), (T, B).

        Returns (mean loss per real target token, cache).
        """
        dec_in, dec_out = np.asarray(dec_in), np.asarray(dec_out)
        T, B = dec_out.shape
        dmask = resolve_mask(T, B, dec_mask, None, self.dtype)
        h0, ecache = self.encode(src, src_mask, src_lengths, train, rng)  # (L, B, Hd)
        (hs, _), cache = self.target.forward(dec_in, h0, dmask, rng, train)  # (T, B, Hd)
        y, hcache = self.head.forward(hs)  # (T, B, V)
        cache.update(encoder=ecache, hcache=hcache, logits=y)
        return cross_entropy(y, dec_out, dmask, need_grad, cache), cache

    def backward(self, cache: dict) -> None:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params)."""
        dhs, _ = self.head.backward(cache["dlogits"], cache["hcache"])  # (T, B, Hd)
        _, dh0 = self.target.backward(dhs, None, cache)  # (L, B, dirs*H)
        L, B, H = self.cfg.layers, dh0.shape[1], self.cfg.hidden
        dh_n = dh0.reshape(L, B, self.dirs, H).transpose(0, 2, 1, 3).reshape(L * self.dirs, B, H)
        self.source.backward(None, np.ascontiguousarray(dh_n), cache["encoder"])  # (L*dirs, B, H)

    def log_prob(
        self, src: np.ndarray, targets: Sequence[Sequence[int]], src_lengths: ArrayLike | None = None
    ) -> np.ndarray:
        """Teacher-forced log p(target EOS | source) per example (B,), targets as id lists."""
        c = self.cfg
        dec_in, dec_out, dmask = teacher_forcing(targets, c.bos_id, c.eos_id, c.pad_id, self.dtype)
        _, cache = self.forward(
            src, dec_in, dec_out, dec_mask=dmask, src_lengths=src_lengths, need_grad=False
        )
        lp = log_softmax(cache["logits"].reshape(-1, self.cfg.tgt_vocab_size).astype(np.float64))
        picked = lp[np.arange(lp.shape[0]), dec_out.reshape(-1)].reshape(dec_out.shape)
        return (picked * dmask).sum(axis=0)

    # ----------------------------------------------------------------- decoding
    def step(self, ids: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One decoder step: ids (k,) the previous target tokens, h (L, k, Hd) -> logits (k, V), h (L, k, Hd).

        Decoding (``decode/forms.py``) starts from ``encode``'s state and BOS.
        """
        (hs, h_n), _ = self.target.forward(ids[None], h)  # (1, k, Hd)
        logits, _ = self.head.forward(hs[0])  # (k, V)
        return logits, h_n
