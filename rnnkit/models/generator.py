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

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.data.padding import resolve_mask
from rnnkit.data.token_vocab import BOS, EOS, PAD
from rnnkit.nn.embedding import Embedding
from rnnkit.nn.init import redraw_onehot_input
from rnnkit.nn.stack import RNNStack

from .backbone import Backbone, BackboneConfig, BackboneModel, cross_entropy


@dataclass
class GeneratorConfig(BackboneConfig):
    """Everything needed to rebuild a ``ConditionedGenerator``'s shapes (fields: ``backbone.py``)."""

    vocab_size: int
    num_labels: int = 0  # condition on a label in 0..num_labels-1 ...
    feature_dim: int = 0  # ... or on a given feature vector of this size (exactly one > 0)
    cond_embed: int = 0  # label condition: 0 one-hot, > 0 a learned embedding of that size
    autoregressive: bool = False  # also feed back the previous character
    embed: int = 0  # autoregressive char input: 0 one-hot, > 0 learned embedding
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.0  # between RNN layers and before the head
    init: str = "uniform"
    pad_id: int = PAD
    bos_id: int = BOS
    eos_id: int = EOS
    input_init: str = "normal"  # the one-hot columns: the label's and the fed-back char's
    dropout_mode: str = "step"  # step: a fresh dropout mask per time step; locked: one per sequence
    weight_drop: float = 0.0  # DropConnect on every W_hh in training (one mask per batch)

    def check_own(self) -> None:
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
        self.check_token_ids(self.vocab_size)

    @property
    def cond_dim(self) -> int:
        return self.feature_dim or self.cond_embed or self.num_labels

    @property
    def char_dim(self) -> int:
        return (self.embed or self.vocab_size) if self.autoregressive else 0


class ConditionedGenerator(BackboneModel):
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
        super().__init__(cfg, dtype)
        rng = np.random.default_rng(seed)
        self.cond = Embedding(cfg.num_labels, cfg.cond_embed, rng, dtype) if cfg.cond_embed else None
        self.embedding = Embedding(cfg.vocab_size, cfg.embed, rng, dtype) if cfg.embed else None
        self.D = cfg.cond_dim + cfg.char_dim
        # The stack reads x = [condition ; fed-back char], which ``inputs`` assembles: the
        # backbone has no embedding of its own, and only the one-hot columns are redrawn.
        stack = RNNStack(
            self.D,
            cfg.hidden,
            cfg.layers,
            False,
            cfg.dropout,
            rng,
            cfg.init,
            dtype,
            **cfg.stack_regularisers(),
        )
        if cfg.input_init == "normal":
            Dc = cfg.cond_dim
            if cfg.num_labels and not cfg.cond_embed:  # a one-hot label
                redraw_onehot_input(stack.input_weights(), rng, slice(0, Dc))
            if cfg.autoregressive and not cfg.embed:  # a one-hot character
                redraw_onehot_input(stack.input_weights(), rng, slice(Dc, None))
        self.assemble(
            Backbone(None, stack), cfg.vocab_size, rng, {"cond.": self.cond, "embedding.": self.embedding}
        )
        self.banned = cfg.never_emitted(cfg.vocab_size)  # PAD, BOS, UNK

    # ------------------------------------------------------------------ inputs
    def condition(self, cond: ArrayLike) -> tuple[np.ndarray, np.ndarray | None]:
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

    def inputs(
        self, cond: ArrayLike, dec_in: ArrayLike | None = None, T: int | None = None
    ) -> tuple[np.ndarray, tuple[np.ndarray | None, np.ndarray | None]]:
        """-> (x (T, B, D), cache): c at t = 0, zeros after; fed-back chars when autoregressive."""
        c, ccache = self.condition(cond)  # (B, D_c)
        if self.cfg.autoregressive:
            if dec_in is None:
                raise ValueError("the autoregressive generator needs dec_in (BOS, w_1, ..., w_{n})")
            dec_in = np.asarray(dec_in)
            T = dec_in.shape[0]
        x, ecache = self._x(c, dec_in, T, c.shape[0])
        return x, (ccache, ecache)

    def _x(self, c, chars, T: int, B: int):
        """c (B, D_c) or None, chars (T, B) -> (x (T, B, D), the char embedding's cache):
        x_1 = [c ; e(chars_1)], x_t = [0 ; e(chars_t)]; the e(...) part only when autoregressive."""
        x = np.zeros((T, B, self.D), dtype=self.dtype)  # (T, B, D)
        Dc = self.cfg.cond_dim
        if c is not None:
            x[0, :, :Dc] = c
        ecache = None
        if self.cfg.autoregressive:
            if self.embedding is not None:
                e, ecache = self.embedding.forward(chars)  # (T, B, E)
                x[:, :, Dc:] = e
            else:
                np.put_along_axis(x[:, :, Dc:], chars[:, :, None], 1.0, axis=2)  # one-hot
        return x, ecache

    # ---------------------------------------------------------------- training
    def forward(
        self,
        cond: ArrayLike,
        dec_out: ArrayLike,
        mask: ArrayLike | None = None,
        dec_in: ArrayLike | None = None,
        lengths: ArrayLike | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
        need_grad: bool = True,
    ) -> tuple[float, dict]:
        """cond (B,) or (B, F); dec_out (T, B) = chars then EOS; dec_in (T, B) = BOS then chars
        (autoregressive only). -> (mean loss per real step, cache)."""
        dec_out = np.asarray(dec_out)
        T, B = dec_out.shape
        mask = resolve_mask(T, B, mask, lengths, self.dtype)
        x, icache = self.inputs(cond, dec_in, T)  # (T, B, D)
        (hs, _), cache = self.backbone.forward(x, None, mask, rng, train)  # (T, B, H)
        y = self.readout(hs, cache, train, rng)  # (T, B, V)
        cache.update(icache=icache, logits=y)
        return cross_entropy(y, dec_out, mask, need_grad, cache), cache

    def backward(self, cache: dict) -> np.ndarray:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params); returns d(loss)/dc (B, D_c),
        the gradient with respect to the condition vector (a feature condition's input)."""
        dx, _ = self.backbone.backward(self.readout_backward(cache), None, cache)  # (T, B, D)
        ccache, ecache = cache["icache"]
        Dc = self.cfg.cond_dim
        if self.cond is not None:
            self.cond.backward(dx[:1, :, :Dc], ccache[None])
        if self.embedding is not None:
            self.embedding.backward(np.ascontiguousarray(dx[:, :, Dc:]), ecache)
        return dx[0, :, :Dc]

    # --------------------------------------------------------------- inference
    def step(
        self, ids: np.ndarray, h: np.ndarray, c: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One generation step: ids (k,) the previous characters (BOS first), h (L, k, H) ->
        logits (k, V), h (L, k, H).

        ``c`` (k, D_c), the condition (``condition``), is given at the first step only: the input
        is x = [c ; e(ids)] then, and [0 ; e(ids)] after (e(ids) only when autoregressive).
        """
        x, _ = self._x(c, ids[None], 1, ids.shape[0])  # (1, k, D)
        (hs, h_n), _ = self.backbone.forward(x, h)  # (1, k, H)
        logits, _ = self.head.forward(hs[0])  # (k, V)
        return logits, h_n
