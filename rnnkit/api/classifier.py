"""``rnnkit.Classifier``: many-to-one, the form of ``rnnkit classify``.

p(label | text) = softmax(W_hy h_T)      (h_T: the last state; with ``bidirectional``,
                                         [h_T left-to-right ; h_1 right-to-left])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .task_model import TaskModel


class Classifier(TaskModel):
    """Labels a whole text, reading it one character at a time: ``fit(texts, labels)``;
    ``evaluate(texts, labels)`` -> ``rnnkit classify eval --json`` 's dict, with ``accuracy``.

    >>> clf = Classifier(hidden=16).fit(["ab", "ba", "aab", "bba"] * 20, ["a", "b", "a", "b"] * 20,
    ...                                 max_steps=60, progress=False, verbose=False)
    >>> clf.predict(["aab", "bba"])
    ['a', 'b']
    """

    verb, fields = "classify", ("texts", "labels")

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
