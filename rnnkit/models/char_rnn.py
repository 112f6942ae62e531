"""The character language model: one-hot (or embedded) characters -> RNN stack -> softmax.

    x_t = onehot(c_t)                          (V,)   (or e_t = E[c_t] with --embed E)
    h^(l)_t = tanh(W^(l)_ih h^(l-1)_t + W^(l)_hh h^(l)_{t-1} + b^(l))
    y_t = W_hy dropout(h^(L)_t) + b_y          (V,)  logits of the next character
    loss = -1/N sum_t log softmax(y_t)[c_{t+1}]

With one-hot input, layer 0's ``W_ih`` (H, V) *is* the embedding: ``W_ih onehot(c)`` is
its column c, gathered. Parameter names: ``embedding.weight`` (only with --embed),
``rnn.weight_ih_l0`` …, ``head.weight``, ``head.bias`` — loadable into
``torch.nn.Embedding``, ``torch.nn.RNN`` and ``torch.nn.Linear``.

Tied weights (``tie_weights``, Press & Wolf 2017): the output layer reads the input
embedding, one matrix for both jobs:

    --embed E = H:   W_hy = E               (V, H)   the embedding table itself
    one-hot input:   W_hy = W_ih^(1)ᵀ       (V, H)   layer 0's input weights, transposed

Any other ``embed`` has no such shape and is refused. The tied matrix starts from the head's
draw, ``torch.nn.Linear``'s U(±1/√H): the input's N(0, 1) made the logits ~√H too large and
ended worse over the measured budget (docs/regularisation.md). Its gradient is the sum of its
two uses (``nn/params.py``). A checkpoint holds it under both names, equal, so it loads into the
untied torch modules (or tied ones) as any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.nn.embedding import Embedding

from .backbone import Backbone, BackboneConfig, BackboneModel, cross_entropy


@dataclass
class ModelConfig(BackboneConfig):
    """Everything needed to rebuild the model's shapes. Saved as ``config.json``."""

    vocab_size: int
    hidden: int = 256
    layers: int = 2
    embed: int = 0  # 0: one-hot input (layer 0's W_ih is H x V); >0: nn.Embedding(V, embed)
    dropout: float = 0.0  # between RNN layers and before the head
    init: str = "uniform"  # recurrent init: uniform | orthogonal | identity
    input_init: str = "normal"  # one-hot input only: layer 0's W_ih ~ N(0, 1) (normal) or U(±1/√H) (uniform)
    dropout_mode: str = "step"  # step: a fresh dropout mask per time step; locked: one per sequence
    weight_drop: float = 0.0  # DropConnect on every W_hh in training (one mask per batch)
    tie_weights: bool = False  # the head's W_hy is the input embedding (see the module docstring)

    def check_own(self) -> None:
        if self.tie_weights:
            check_tie(self.embed, self.hidden, self.vocab_size)


def check_tie(embed: int, hidden: int, V: int | str = "V") -> None:
    """Refuse ``tie_weights`` where the embedding and the head differ in shape (embed > 0, E != H)."""
    if embed and embed != hidden:
        raise RnnkitError(
            f"`tie_weights` needs the embedding and the output layer to have one shape: the "
            f"embedding is (V, E) = ({V}, {embed}), the output layer (V, H) = ({V}, {hidden}); give "
            f"`embed` {hidden}, or `embed` 0 (one-hot input: layer 0's W_ih (H, V) is tied, transposed)"
        )


class CharRNN(BackboneModel):
    """Char-level RNN language model over (T, B) integer ids.

    >>> m = CharRNN(ModelConfig(vocab_size=5, hidden=8, layers=1), seed=0)
    >>> ids = np.array([[0, 1], [2, 3], [4, 0]])                  # (T=3, B=2)
    >>> loss, h_n, cache = m.forward(ids[:-1], ids[1:])
    >>> dh0 = m.backward(cache)                                  # gradients now in m.flat.grad
    """

    def __init__(self, cfg: ModelConfig, seed: int = 0, dtype=np.float32):
        super().__init__(cfg, dtype)
        rng = np.random.default_rng(seed)
        self.assemble(Backbone.build(cfg.vocab_size, cfg, rng, self.dtype), cfg.vocab_size, rng)

    def ties(self) -> dict:
        """``FlatParams``' ties: the head's weight -> the embedding (V, H), or layer 0's W_ih (H, V)
        transposed. The head is drawn last, after the backbone; its draw becomes the shared
        matrix's value, so every other weight is drawn as without the tie."""
        if not self.cfg.tie_weights:
            return {}
        W_hy = self.head.params["weight"]  # (V, H)
        if self.backbone.embedding is not None:
            self.backbone.embedding.params["weight"][...] = W_hy  # (V, E = H)
            return {"head.weight": ("embedding.weight", False)}
        self.rnn.input_weights()[0][...] = W_hy.T  # (H, V)
        return {"head.weight": ("rnn.weight_ih_l0", True)}

    @property
    def embedding(self) -> Embedding | None:
        """The (V, E) table, or None with one-hot input."""
        return self.backbone.embedding

    # -------------------------------------------------------------- training
    def forward(
        self,
        ids: np.ndarray,
        targets: np.ndarray,
        h0: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
        need_grad: bool = True,
    ) -> tuple[float, np.ndarray, dict]:
        """ids, targets (T, B) ints; h0 (L, B, H). Returns (mean loss, h_n (L, B, H), cache).

        ``cache`` also carries the summed nats and the counted positions, for evaluation.
        """
        (hs, h_n), cache = self.backbone.forward(ids, h0, mask, rng, train)  # (T, B, H)
        logits = self.readout(hs, cache, train, rng)  # (T, B, V)
        return cross_entropy(logits, targets, mask, need_grad, cache), h_n, cache

    def backward(self, cache: dict, dh_n: np.ndarray | None = None) -> np.ndarray:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params); returns dL/dh0 (L, B, H).

        The gradient of the top states goes straight into the backbone, which may overwrite it
        (``overwrite_dstates``): the LM's step keeps one sequence-sized buffer less per layer.
        """
        dh0 = self.backbone.backward(self.readout_backward(cache), dh_n, cache, overwrite_dstates=True)[1]
        self.flat.fold_tied_grads()  # tied weights: + the head's use
        return dh0

    # -------------------------------------------------------------- inference
    def step(self, ids: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step for sampling: ids (B,), h (L, B, H) -> logits (B, V), new h (L, B, H).

        ``forward``'s backbone and head for T = 1 (in evaluation: no dropout), without a loss.
        ``StreamStep`` computes the same equations for one stream, laid out for speed.
        """
        (hs, h_n), _ = self.backbone.forward(ids[None], h)  # (1, B, H)
        logits, _ = self.head.forward(hs[0])  # (B, V)
        return logits, h_n
