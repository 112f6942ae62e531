"""``rnnkit.Classifier``: many-to-one, the form of ``rnnkit classify``.

p(label | text) = softmax(W_hy h_T)      (h_T: the last state; with ``bidirectional``,
                                         [h_T left-to-right ; h_1 right-to-left])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .task_model import TaskModel, pairs_of


class Classifier(TaskModel):
    """Labels a whole text, reading it one character at a time.

    >>> clf = Classifier(hidden=16).fit(["ab", "ba", "aab", "bba"] * 20, ["a", "b", "a", "b"] * 20,
    ...                                 max_steps=60, progress=False, verbose=False)
    >>> clf.predict(["aab", "bba"])
    ['a', 'b']
    """

    verb, fields = "classify", ("texts", "labels")

    def __init__(
        self,
        hidden: int = 128,
        layers: int = 1,
        bidirectional: bool = False,
        embed: int = 0,
        dropout: float = 0.0,
    ):
        super().__init__(
            hidden=hidden, layers=layers, bidirectional=bidirectional, embed=embed, dropout=dropout
        )

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        val: tuple[Sequence[str], Sequence[str]] | None = None,
        *,
        out: str | os.PathLike | None = None,
        force: bool = False,
        verbose: bool = True,
        **train_args: Any,
    ) -> Classifier:
        """Train on (text, label) pairs; ``val`` = (texts, labels) is the validation set (else
        ``val_fraction`` of the examples is held out). ``train_args``: ``rnnkit classify
        train`` 's settings, named like its flags (``max_steps``, ``minutes``, ``batch``,
        ``lr``, ``seed``, ...). A second call continues the run on the same examples."""
        pairs = pairs_of(texts, labels, self.fields)
        held = pairs_of(*val, self.fields) if val is not None else None
        return self._fit_pairs(pairs, held, train_args, out, force, verbose)

    @property
    def classes_(self) -> list[str]:
        """The labels, in the order of ``predict_proba`` 's columns."""
        self._ready()
        return list(self._form.labels.labels)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(N, C): each text's probability of each class (columns in ``classes_`` order)."""
        self._ready()
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)), np.float32)
        return self._form.probs(self.model, texts)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        classes = self.classes_
        return [classes[k] for k in self.predict_proba(texts).argmax(axis=1)]

    def evaluate(self, texts: Sequence[str], labels: Sequence[str]) -> dict:
        """``rnnkit classify eval --json`` 's dict (``accuracy``, ``loss``, ``examples``, ...)."""
        return self._score(pairs_of(texts, labels, self.fields))
