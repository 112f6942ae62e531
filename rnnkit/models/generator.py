"""One-to-many: a conditioned generator (captioning, "a new word in language L").

The condition c is a label's vector (one-hot, or a learned embedding row) or a given
feature vector (an image's, say). It is the input at the first step only; zero vectors
follow, as in image captioning:

    x_1 = c,   x_t = 0 for t > 1                                   (D_c,)
    h_t = RNN stack(x_t, h_{t-1}),   y_t = W_hy h_t + b_y          (V,) logits of char t
    targets: the text's characters, then EOS

In the **autoregressive** variant the previous output character is fed back as well:

    x_t = [c_t ; e(w_{t-1})],   c_1 = c, c_t = 0 (t > 1),   w_0 = BOS
    e(w) = onehot(w) or E[w]

Training uses teacher forcing (w_{t-1} is the true previous character, see
``batch.teacher_forcing``); sampling feeds back the model's own draw. Without the
feedback the states h_t do not depend on what was sampled, so the chars of one draw are
independent given the condition: the plain form learns "which char tends to be at
position t", the autoregressive one a real language model per condition.

    loss = -1/N sum_{t,b} m_tb log softmax(y_tb)[w_tb]

Parameter names: ``cond.weight`` (label embedding, with ``cond_embed > 0``),
``embedding.weight`` (char embedding, autoregressive with ``embed > 0``), ``rnn.…``,
``head.weight``, ``head.bias``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rnnkit.data.padding import resolve_mask
from rnnkit.data.token_vocab import BOS, EOS, PAD
from rnnkit.nn.dropout import dropout
from rnnkit.nn.embedding import Embedding
from rnnkit.nn.init import check_input_init, redraw_onehot_input
from rnnkit.nn.linear import Linear
from rnnkit.nn.params import FlatParams
from rnnkit.nn.softmax_cross_entropy import softmax_cross_entropy
from rnnkit.nn.stack import RNNStack


@dataclass
class GeneratorConfig:
    """Everything needed to rebuild a ``ConditionedGenerator``'s shapes."""

    vocab_size: int
    num_labels: int = 0  # condition on a label in 0..num_labels-1 ...
    feature_dim: int = 0  # ... or on a given feature vector of this size (exactly one > 0)
    cond_embed: int = 0  # label condition: 0 one-hot, > 0 a learned embedding of that size
    autoregressive: bool = False  # also feed back the previous character
    embed: int = 0  # autoregressive char input: 0 one-hot, > 0 learned embedding
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.0
    init: str = "uniform"
    pad_id: int = PAD
    bos_id: int = BOS
    eos_id: int = EOS
    input_init: str = (
        "normal"  # one-hot input: its W_ih columns ~ N(0, 1) (normal) or U(±1/√H) (uniform); see init.py
    )

    def validate(self) -> None:
        for name in ("vocab_size", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("num_labels", "feature_dim", "cond_embed", "embed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if (self.num_labels > 0) == (self.feature_dim > 0):
            raise ValueError(
                "give exactly one condition: num_labels > 0 (a label) or feature_dim > 0 "
                f"(a feature vector); got num_labels={self.num_labels}, "
                f"feature_dim={self.feature_dim}"
            )
        if self.cond_embed and not self.num_labels:
            raise ValueError("cond_embed applies to a label condition only (num_labels > 0)")
        if self.embed and not self.autoregressive:
            raise ValueError("embed (the fed-back character's embedding) needs autoregressive=True")
        for name in ("pad_id", "bos_id", "eos_id"):
            if not 0 <= getattr(self, name) < self.vocab_size:
                raise ValueError(f"{name}={getattr(self, name)} must lie in [0, {self.vocab_size})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        check_input_init(self.input_init)

    @property
    def cond_dim(self) -> int:
        return self.feature_dim or self.cond_embed or self.num_labels

    @property
    def char_dim(self) -> int:
        return (self.embed or self.vocab_size) if self.autoregressive else 0

    def to_dict(self) -> dict:
        return asdict(self)


class ConditionedGenerator:
    """condition (B,) labels or (B, F) features -> text.

    >>> cfg = GeneratorConfig(vocab_size=6, num_labels=2, hidden=8, autoregressive=True)
    >>> m = ConditionedGenerator(cfg, seed=0)
    >>> from rnnkit.data.padding import teacher_forcing
    >>> dec_in, dec_out, mask = teacher_forcing([[4, 5], [5]])     # (T=3, B=2)
    >>> loss, cache = m.forward(np.array([0, 1]), dec_out, mask, dec_in=dec_in)
    >>> dc = m.backward(cache)                                  # (B, D_c)
    >>> c, _ = m.condition(np.array([0, 1]))                    # (B, D_c)
    >>> logits, h = m.step(np.full(2, cfg.bos_id), m.zero_state(2), c)   # the first char's
    >>> logits.shape
    (2, 6)
    """

    def __init__(self, cfg: GeneratorConfig, seed: int = 0, dtype=np.float32):
        cfg.validate()
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        self.cond = Embedding(cfg.num_labels, cfg.cond_embed, rng, dtype) if cfg.cond_embed else None
        self.embedding = Embedding(cfg.vocab_size, cfg.embed, rng, dtype) if cfg.embed else None
        self.D = cfg.cond_dim + cfg.char_dim
        self.rnn = RNNStack(self.D, cfg.hidden, cfg.layers, False, cfg.dropout, rng, cfg.init, dtype)
        if cfg.input_init == "normal":  # x = [condition ; fed-back char]
            Dc = cfg.cond_dim
            if cfg.num_labels and not cfg.cond_embed:  # a one-hot label
                redraw_onehot_input(self.rnn.input_weights(), rng, slice(0, Dc))
            if cfg.autoregressive and not cfg.embed:  # a one-hot character
                redraw_onehot_input(self.rnn.input_weights(), rng, slice(Dc, None))
        self.head = Linear(cfg.hidden, cfg.vocab_size, rng, dtype)
        parts = {}
        if self.cond is not None:
            parts["cond."] = self.cond
        if self.embedding is not None:
            parts["embedding."] = self.embedding
        parts.update({"rnn.": self.rnn, "head.": self.head})
        self.flat = FlatParams(parts, dtype)
        self.banned = (cfg.pad_id, cfg.bos_id)

    # ------------------------------------------------------------------ inputs
    def condition(self, cond):
        """labels (B,) ints or features (B, F) -> (c (B, D_c), cache)."""
        cfg = self.cfg
        cond = np.asarray(cond)
        if cfg.num_labels:
            if not np.issubdtype(cond.dtype, np.integer) or cond.ndim != 1:
                raise ValueError(f"the condition must be labels (B,) of ints, got {cond.dtype} {cond.shape}")
            if cond.size and (cond.min() < 0 or cond.max() >= cfg.num_labels):
                raise ValueError(f"labels must lie in [0, {cfg.num_labels})")
            if self.cond is not None:
                c, _ = self.cond.forward(cond[None])  # (1, B, D_c)
                return c[0], cond
            c = np.zeros((cond.size, cfg.num_labels), dtype=self.dtype)  # (B, K) one-hot
            c[np.arange(cond.size), cond] = 1.0
            return c, cond
        if cond.ndim != 2 or cond.shape[1] != cfg.feature_dim:
            raise ValueError(f"the condition must be features (B, {cfg.feature_dim}), got {cond.shape}")
        return cond.astype(self.dtype), None

    def inputs(self, cond, dec_in=None, T=None):
        """-> (x (T, B, D), cache): c at t = 0, zeros after; fed-back chars when autoregressive."""
        c, ccache = self.condition(cond)  # (B, D_c)
        B, Dc = c.shape
        if self.cfg.autoregressive:
            if dec_in is None:
                raise ValueError("the autoregressive generator needs dec_in (BOS, w_1, ..., w_{n})")
            dec_in = np.asarray(dec_in)
            T = dec_in.shape[0]
        x = np.zeros((T, B, self.D), dtype=self.dtype)  # (T, B, D)
        x[0, :, :Dc] = c
        ecache = None
        if self.cfg.autoregressive:
            if self.embedding is not None:
                e, ecache = self.embedding.forward(dec_in)  # (T, B, E)
                x[:, :, Dc:] = e
            else:
                np.put_along_axis(x[:, :, Dc:], dec_in[:, :, None], 1.0, axis=2)  # one-hot
        return x, (ccache, ecache)

    # ---------------------------------------------------------------- training
    def forward(
        self, cond, dec_out, mask=None, dec_in=None, lengths=None, train=False, rng=None, need_grad=True
    ):
        """cond (B,) or (B, F); dec_out (T, B) = chars then EOS; dec_in (T, B) = BOS then chars
        (autoregressive only). -> (mean loss per real step, cache)."""
        dec_out = np.asarray(dec_out)
        T, B = dec_out.shape
        mask = resolve_mask(T, B, mask, lengths, self.dtype)
        x, icache = self.inputs(cond, dec_in, T)  # (T, B, D)
        (hs, _), rcache = self.rnn.forward(x, None, mask, rng, train)  # (T, B, H)
        hs, drop = dropout(hs, self.cfg.dropout, train, rng, self.dtype)  # before the head
        y, hcache = self.head.forward(hs)  # (T, B, V)
        targets = dec_out if mask is None else np.where(mask > 0, dec_out, 0)
        loss, total, count, dy = softmax_cross_entropy(y, targets, mask, need_grad)
        cache = dict(
            icache=icache,
            rcache=rcache,
            hcache=hcache,
            drop=drop,
            dlogits=dy,
            logits=y,
            total=total,
            count=count,
        )
        return loss, cache

    def backward(self, cache) -> np.ndarray:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params); returns d(loss)/dc (B, D_c),
        the gradient with respect to the condition vector (a feature condition's input)."""
        dhs, _ = self.head.backward(cache["dlogits"], cache["hcache"])  # (T, B, H)
        if cache["drop"] is not None:
            dhs = dhs * cache["drop"]
        dx, _, _ = self.rnn.backward(dhs, None, cache["rcache"])  # (T, B, D)
        ccache, ecache = cache["icache"]
        Dc = self.cfg.cond_dim
        if self.cond is not None:
            self.cond.backward(dx[:1, :, :Dc], ccache[None])
        if self.embedding is not None:
            self.embedding.backward(np.ascontiguousarray(dx[:, :, Dc:]), ecache)
        return dx[0, :, :Dc]

    # --------------------------------------------------------------- inference
    def zero_state(self, B: int) -> np.ndarray:
        return np.zeros((self.cfg.layers, B, self.cfg.hidden), dtype=self.dtype)

    def step(self, ids, h, c=None):
        """One generation step: ids (k,) the previous characters (BOS first), h (L, k, H) ->
        logits (k, V), h (L, k, H).

        ``c`` (k, D_c), the condition (``condition``), is given at the first step only: the input
        is x = [c ; e(ids)] then, and [0 ; e(ids)] after (e(ids) only when autoregressive).
        """
        x = np.zeros((1, ids.shape[0], self.D), dtype=self.dtype)  # (1, k, D)
        Dc = self.cfg.cond_dim
        if c is not None:
            x[0, :, :Dc] = c
        if self.cfg.autoregressive:
            if self.embedding is not None:
                x[0, :, Dc:] = self.embedding.params["weight"][ids]
            else:
                x[0, np.arange(ids.shape[0]), Dc + ids] = 1.0
        (hs, h_n), _ = self.rnn.forward(x, h, None)  # (1, k, H)
        logits, _ = self.head.forward(hs[0])  # (k, V)
        return logits, h_n
