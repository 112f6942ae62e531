"""What the classifier and the tagger share: ids -> one backbone -> labels read from its top layer.

    x_t = onehot(c_t)  or  E[c_t];   h = the top layer's states   (``backbone.py``)
    y = W_hy dropout(read_states(h)) + b_y                        (..., K) label logits
    loss = -1/N sum_i m_i log softmax(y_i)[label_i]

- ``LabellerSettings``: the fields after the sizes of both configurations, with their defaults.
- ``Labeller``: the model. A subclass says which states it reads (``read_states``: the final
  ones for a label per sequence, every step's for a label per step) and how their gradient
  flows back (``backward``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rnnkit.data.padding import resolve_mask
from rnnkit.nn.softmax_cross_entropy import softmax

from .backbone import Backbone, BackboneConfig, BackboneModel, cross_entropy


@dataclass
class LabellerSettings(BackboneConfig):
    """The fields a classifier's and a tagger's configuration share (``backbone.py`` says what
    each means). A configuration lists this class before the one with its sizes, so that the
    sizes come first: a dataclass takes its bases' fields from the last base to the first, and
    ``ClassifierConfig(V, K, hidden, layers)`` keeps its positional order."""

    model_name: ClassVar[str] = ""  # for messages: classifier, tagger
    labels_field: ClassVar[str] = ""  # the size field holding K: num_classes, num_tags

    hidden: int = 128
    layers: int = 1
    embed: int = 0
    bidirectional: bool = False
    dropout: float = 0.0  # between RNN layers and before the head
    init: str = "uniform"
    input_init: str = "normal"
    dropout_mode: str = "step"  # step: a fresh dropout mask per time step; locked: one per sequence
    weight_drop: float = 0.0  # DropConnect on every W_hh in training (one mask per batch)

    @property
    def num_labels(self) -> int:
        """K, the head's outputs: the number of classes or tags."""
        return getattr(self, self.labels_field)

    def check_own(self) -> None:
        if self.num_labels < 2:
            labels = self.labels_field.removeprefix("num_")
            raise ValueError(
                f"a {self.model_name} needs at least 2 {labels}, got {self.labels_field}={self.num_labels}"
            )


class Labeller(BackboneModel):
    """ids (T, B) -> labels: a subclass implements ``read_states`` and ``backward``."""

    def __init__(self, cfg: LabellerSettings, seed: int = 0, dtype=np.float32):
        super().__init__(cfg, dtype)
        rng = np.random.default_rng(seed)
        self.dirs = 2 if cfg.bidirectional else 1
        self.assemble(Backbone.build(cfg.vocab_size, cfg, rng, self.dtype), cfg.num_labels, rng)

    def read_states(self, hs: np.ndarray, h_n: np.ndarray) -> np.ndarray:
        """The top states hs (T, B, dirs*H) and h_n (L*dirs, B, H) -> what the head reads."""
        raise NotImplementedError

    def logits(
        self,
        ids: np.ndarray,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
    ) -> tuple[np.ndarray, dict]:
        """ids (T, B) -> (logits (B, K) or (T, B, K), cache)."""
        T, B = ids.shape
        mask = resolve_mask(T, B, mask, lengths, self.dtype)
        (hs, h_n), cache = self.backbone.forward(ids, None, mask, rng, train)
        cache["mask"] = mask
        return self.readout(self.read_states(hs, h_n), cache, train, rng), cache

    def forward(
        self,
        ids: np.ndarray,
        labels: np.ndarray,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
        need_grad: bool = True,
    ) -> tuple[float, dict]:
        """ids (T, B), labels (B,) or (T, B) -> (mean loss over the real labels, cache). Give
        ``mask`` (T, B) or ``lengths`` (B,).

        ``cache`` also holds ``logits``, the summed nats ``total`` and ``count``.
        """
        y, cache = self.logits(ids, mask, lengths, train, rng)
        cache["logits"] = y
        per_step = y.ndim == 3  # (T, B, K): a label per step, and padded steps carry none
        return cross_entropy(y, labels, cache["mask"] if per_step else None, need_grad, cache), cache

    def backward(self, cache: dict) -> None:
        """Fills ``self.flat.grad`` with d(mean loss)/d(params)."""
        raise NotImplementedError

    def predict_proba(
        self, ids: np.ndarray, mask: np.ndarray | None = None, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """ids (T, B) -> label probabilities (B, K) or (T, B, K)."""
        y, _ = self.logits(ids, mask, lengths)
        return softmax(y.astype(np.float64))
