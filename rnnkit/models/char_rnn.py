"""The character language model: one-hot (or embedded) characters -> RNN stack -> softmax.

    x_t = onehot(c_t)                          (V,)   (or e_t = E[c_t] with --embed E)
    h^(l)_t = tanh(W^(l)_ih h^(l-1)_t + W^(l)_hh h^(l)_{t-1} + b^(l))
    y_t = W_hy dropout(h^(L)_t) + b_y          (V,)  logits of the next character
    loss = -1/N sum_t log softmax(y_t)[c_{t+1}]

With one-hot input, layer 0's ``W_ih`` (H, V) *is* the embedding: ``W_ih onehot(c)`` is
its column c, gathered. Parameter names: ``embedding.weight`` (only with --embed),
``rnn.weight_ih_l0`` …, ``head.weight``, ``head.bias`` — loadable into
``torch.nn.Embedding``, ``torch.nn.RNN`` and ``torch.nn.Linear``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.nn.dropout import dropout
from rnnkit.nn.embedding import Embedding
from rnnkit.nn.init import check_input_init, redraw_onehot_input
from rnnkit.nn.linear import Linear
from rnnkit.nn.params import FlatParams
from rnnkit.nn.softmax_cross_entropy import softmax_cross_entropy
from rnnkit.nn.stack import RNNStack


@dataclass
class ModelConfig:
    """Everything needed to rebuild the model's shapes. Saved as ``config.json``."""

    vocab_size: int
    hidden: int = 256
    layers: int = 2
    embed: int = 0  # 0: one-hot input (layer 0's W_ih is H x V); >0: nn.Embedding(V, embed)
    dropout: float = 0.0  # between RNN layers and before the head
    init: str = "uniform"  # recurrent init: uniform | orthogonal | identity
    input_init: str = "normal"  # one-hot input only: layer 0's W_ih ~ N(0, 1) (normal) or U(±1/√H) (uniform)

    def validate(self) -> None:
        for name in ("vocab_size", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"`{name}` must be at least 1, got {getattr(self, name)}")
        if self.embed < 0:
            raise RnnkitError(f"`embed` must be 0 (one-hot) or positive, got {self.embed}")
        if not 0.0 <= self.dropout < 1.0:
            raise RnnkitError(f"`dropout` must lie in [0, 1), got {self.dropout}")
        check_input_init(self.input_init)

    def to_dict(self) -> dict:
        return asdict(self)


class CharRNN:
    """Char-level RNN language model over (T, B) integer ids.

    >>> m = CharRNN(ModelConfig(vocab_size=5, hidden=8, layers=1), seed=0)
    >>> ids = np.array([[0, 1], [2, 3], [4, 0]])                  # (T=3, B=2)
    >>> loss, h_n, cache = m.forward(ids[:-1], ids[1:])
    >>> dh0 = m.backward(cache)                                  # gradients now in m.flat.grad
    """

    def __init__(self, cfg: ModelConfig, seed: int = 0, dtype=np.float32):
        cfg.validate()
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        V, H, L = cfg.vocab_size, cfg.hidden, cfg.layers
        self.embedding = Embedding(V, cfg.embed, rng, dtype) if cfg.embed else None
        self.rnn = RNNStack(cfg.embed or V, H, L, False, cfg.dropout, rng, cfg.init, dtype)
        if not cfg.embed and cfg.input_init == "normal":  # W_ih is the embedding: see init.py
            redraw_onehot_input(self.rnn.input_weights(), rng)
        self.head = Linear(H, V, rng, dtype)
        parts = {"embedding.": self.embedding} if self.embedding else {}
        parts.update({"rnn.": self.rnn, "head.": self.head})
        self.flat = FlatParams(parts, dtype)

    def zero_state(self, B: int) -> np.ndarray:
        return np.zeros((self.cfg.layers, B, self.cfg.hidden), dtype=self.dtype)

    # -------------------------------------------------------------- training
    def forward(self, ids, targets, h0=None, mask=None, train=False, rng=None, need_grad=True):
        """ids, targets (T, B) ints; h0 (L, B, H). Returns (mean loss, h_n (L, B, H), cache).

        ``cache`` also carries the summed nats and the counted positions, for evaluation.
        """
        x, ecache = (ids, None) if self.embedding is None else self.embedding.forward(ids)
        (hs, h_n), rcache = self.rnn.forward(x, h0, mask, rng, train)  # (T, B, H)
        hs, drop = dropout(hs, self.cfg.dropout, train, rng, self.dtype)  # before the head
        logits, hcache = self.head.forward(hs)  # (T, B, V)
        loss, total, count, dlogits = softmax_cross_entropy(logits, targets, mask, need_grad)
        cache = dict(
            ecache=ecache, rcache=rcache, hcache=hcache, drop=drop, dlogits=dlogits, total=total, count=count
        )
        return loss, h_n, cache

    def backward(self, cache, dh_n=None):
        """Fills ``self.flat.grad`` with d(mean loss)/d(params); returns dL/dh0 (L, B, H)."""
        dhs, _ = self.head.backward(cache["dlogits"], cache["hcache"])  # (T, B, H)
        if cache["drop"] is not None:
            dhs *= cache["drop"]
        # The stack's backward (``RNNStack.backward``), layer by layer, except that this
        # model owns every incoming gradient (dhs, then each layer's dx), so each layer may
        # store its dz in that buffer (``overwrite_dstates``): one sequence-sized buffer less
        # per layer, which is most of the backward pass's memory. Same numbers.
        caches, drops = cache["rcache"]
        L = len(self.rnn.layers)
        dh0 = np.empty((L,) + dhs.shape[1:], dtype=self.dtype)  # (L, B, H)
        d = dhs
        del dhs  # d is the only owner
        for k in range(L - 1, -1, -1):
            dhk = None if dh_n is None else dh_n[k]
            d, dh0[k], _ = self.rnn.layers[k].backward(d, dhk, caches[k], overwrite_dstates=True)
            if drops[k] is not None:
                d *= drops[k]  # d is this layer's own dx
        dx = d
        if self.embedding is not None:
            self.embedding.backward(dx, cache["ecache"])
        return dh0

    # -------------------------------------------------------------- inference
    def step(self, ids: np.ndarray, h: np.ndarray):
        """One step for sampling: ids (B,), h (L, B, H) -> logits (B, V), new h (L, B, H).

        Runs the same equations as ``forward`` without keeping a cache.
        """
        h = h.copy()
        x = ids
        for k, layer in enumerate(self.rnn.layers):
            P = layer.params
            if k == 0 and self.embedding is None:
                z = P[layer.k_ih][:, x].T  # (B, H) column gather
            else:
                if k == 0:
                    x = self.embedding.params["weight"][x]  # (B, E)
                z = x @ P[layer.k_ih].T
            z = z + h[k] @ P[layer.k_hh].T + P[layer.k_bih] + P[layer.k_bhh]
            h[k] = np.tanh(z)
            x = h[k]
        logits = x @ self.head.params["weight"].T + self.head.params["bias"]
        return logits, h
