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

from dataclasses import asdict, dataclass

import numpy as np

from rnnkit.data.padding import resolve_mask, teacher_forcing
from rnnkit.data.token_vocab import BOS, EOS, PAD
from rnnkit.nn.embedding import Embedding
from rnnkit.nn.init import check_input_init, redraw_onehot_input
from rnnkit.nn.linear import Linear
from rnnkit.nn.params import FlatParams
from rnnkit.nn.softmax_cross_entropy import log_softmax, softmax_cross_entropy
from rnnkit.nn.stack import RNNStack


@dataclass
class Seq2SeqConfig:
    """Everything needed to rebuild a ``Seq2Seq`` model's shapes."""

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

    def validate(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.embed < 0:
            raise ValueError(f"embed must be 0 (one-hot) or positive, got {self.embed}")
        for name in ("pad_id", "bos_id", "eos_id"):
            if not 0 <= getattr(self, name) < self.tgt_vocab_size:
                raise ValueError(f"{name}={getattr(self, name)} must lie in [0, {self.tgt_vocab_size})")
        if len({self.pad_id, self.bos_id, self.eos_id}) != 3:
            raise ValueError("pad_id, bos_id and eos_id must differ")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        check_input_init(self.input_init)

    def to_dict(self) -> dict:
        return asdict(self)


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

    def __init__(self, cfg: Seq2SeqConfig, seed: int = 0, dtype=np.float32):
        cfg.validate()
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        H, L, E = cfg.hidden, cfg.layers, cfg.embed
        self.dirs = 2 if cfg.bidirectional else 1
        self.Hd = self.dirs * H  # decoder width
        self.src_embedding = Embedding(cfg.src_vocab_size, E, rng, dtype) if E else None
        self.tgt_embedding = Embedding(cfg.tgt_vocab_size, E, rng, dtype) if E else None
        self.encoder = RNNStack(
            E or cfg.src_vocab_size, H, L, cfg.bidirectional, cfg.dropout, rng, cfg.init, dtype
        )
        self.decoder = RNNStack(E or cfg.tgt_vocab_size, self.Hd, L, False, cfg.dropout, rng, cfg.init, dtype)
        if not E and cfg.input_init == "normal":  # both read one-hot
            redraw_onehot_input(self.encoder.input_weights() + self.decoder.input_weights(), rng)
        self.head = Linear(self.Hd, cfg.tgt_vocab_size, rng, dtype)
        parts = {}
        if E:
            parts.update({"src_embedding.": self.src_embedding, "tgt_embedding.": self.tgt_embedding})
        parts.update({"encoder.": self.encoder, "decoder.": self.decoder, "head.": self.head})
        self.flat = FlatParams(parts, dtype)
        self.banned = (cfg.pad_id, cfg.bos_id)

    # ------------------------------------------------------------------ encoder
    def encode(self, src, src_mask=None, src_lengths=None, train=False, rng=None):
        """src (S, B) -> (decoder h0 (L, B, dirs*H), cache)."""
        S, B = src.shape
        mask = resolve_mask(S, B, src_mask, src_lengths, self.dtype)
        x, ecache = (src, None) if self.src_embedding is None else self.src_embedding.forward(src)
        (_, h_n), rcache = self.encoder.forward(x, None, mask, rng, train)  # (L*dirs, B, H)
        L = self.cfg.layers
        h0 = h_n.reshape(L, self.dirs, B, self.cfg.hidden)  # (L, dirs, B, H)
        h0 = np.concatenate(list(h0.transpose(1, 0, 2, 3)), axis=2)  # (L, B, dirs*H)
        return h0, (ecache, rcache)

    def _encode_backward(self, dh0, cache) -> None:
        """dh0 (L, B, dirs*H) -> encoder gradients."""
        ecache, rcache = cache
        L, B, _ = dh0.shape
        H = self.cfg.hidden
        dh_n = dh0.reshape(L, B, self.dirs, H).transpose(0, 2, 1, 3).reshape(L * self.dirs, B, H)
        dx, _, _ = self.encoder.backward(None, np.ascontiguousarray(dh_n), rcache)
        if self.src_embedding is not None:
            self.src_embedding.backward(dx, ecache)

    # ----------------------------------------------------------------- training
    def forward(
        self,
        src,
        dec_in,
        dec_out,
        src_mask=None,
        dec_mask=None,
        src_lengths=None,
        train=False,
        rng=None,
        need_grad=True,
    ):
        """src (S, B); dec_in (T, B) = BOS w; dec_out (T, B) = w EOS; masks (S, B), (T, B).

        Returns (mean loss per real target token, cache).
        """
        dec_in, dec_out = np.asarray(dec_in), np.asarray(dec_out)
        T, B = dec_out.shape
        dmask = resolve_mask(T, B, dec_mask, None, self.dtype)
        h0, ecache = self.encode(src, src_mask, src_lengths, train, rng)  # (L, B, Hd)
        x, tcache = (
            (dec_in, None) if self.tgt_embedding is None else self.tgt_embedding.forward(dec_in)
        )  # (T, B, E) or ids
        (hs, _), dcache = self.decoder.forward(x, h0, dmask, rng, train)  # (T, B, Hd)
        y, hcache = self.head.forward(hs)  # (T, B, V)
        targets = dec_out if dmask is None else np.where(dmask > 0, dec_out, 0)
        loss, total, count, dy = softmax_cross_entropy(y, targets, dmask, need_grad)
        cache = dict(
            ecache=ecache,
            tcache=tcache,
            dcache=dcache,
            hcache=hcache,
            dlogits=dy,
            logits=y,
            total=total,
            count=count,
        )
        return loss, cache

    def backward(self, cache) -> None:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params)."""
        dhs, _ = self.head.backward(cache["dlogits"], cache["hcache"])  # (T, B, Hd)
        dx, dh0, _ = self.decoder.backward(dhs, None, cache["dcache"])  # dh0 (L, B, Hd)
        if self.tgt_embedding is not None:
            self.tgt_embedding.backward(dx, cache["tcache"])
        self._encode_backward(dh0, cache["ecache"])

    def log_prob(self, src, targets, src_lengths=None) -> np.ndarray:
        """Teacher-forced log p(target EOS | source) per example (B,), targets as id lists."""
        dec_in, dec_out, dmask = teacher_forcing(
            targets, self.cfg.bos_id, self.cfg.eos_id, self.cfg.pad_id, self.dtype
        )
        _, cache = self.forward(
            src, dec_in, dec_out, dec_mask=dmask, src_lengths=src_lengths, need_grad=False
        )
        lp = log_softmax(cache["logits"].reshape(-1, self.cfg.tgt_vocab_size).astype(np.float64))
        picked = lp[np.arange(lp.shape[0]), dec_out.reshape(-1)].reshape(dec_out.shape)
        return (picked * dmask).sum(axis=0)

    # ----------------------------------------------------------------- decoding
    def step(self, ids, h):
        """One decoder step: ids (k,) the previous target tokens, h (L, k, Hd) -> logits (k, V), h (L, k, Hd).

        Decoding (``decode/forms.py``) starts from ``encode``'s state and BOS.
        """
        x = ids[None] if self.tgt_embedding is None else self.tgt_embedding.params["weight"][ids][None]
        (hs, h_n), _ = self.decoder.forward(x, h, None)  # (1, k, Hd)
        logits, _ = self.head.forward(hs[0])  # (k, V)
        return logits, h_n
