"""Non-neural baselines for sequence classification (the language-ID example).

**Majority class**: predict the most frequent training label, always. Its accuracy is the
share of that label in the test set; a classifier that does not beat it learned nothing.

**Character-bigram naive Bayes** (multinomial): a text w = c_1..c_n is padded as
``^ c_1 .. c_n $`` and read as its n+1 bigrams g_1..g_{n+1}. Assuming bigrams independent
given the class k,

    log P(k | w) = log P(k) + sum_i log P(g_i | k) - log Z
    P(k)     = N_k / N                                        (class frequency)
    P(g | k) = (count_k(g) + α) / (sum_g' count_k(g') + α (G + 1))

with add-α smoothing over the G training bigrams plus one slot for every unseen bigram.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from rnnkit.nn.softmax_cross_entropy import softmax

BOUNDARY_START, BOUNDARY_END = "^", "$"


class MajorityClassifier:
    """Predicts the most frequent training label (ties: the smallest label).

    >>> MajorityClassifier().fit(["a", "b", "b"]).predict(["x", "y"])
    ['b', 'b']
    """

    def __init__(self):
        self.label = None

    def fit(self, labels: Sequence[str], texts: Sequence[str] | None = None) -> MajorityClassifier:
        counts = Counter(labels)
        if not counts:
            raise ValueError("cannot fit on no labels")
        self.label = min(counts, key=lambda l: (-counts[l], l))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        if self.label is None:
            raise ValueError("fit the baseline first")
        return [self.label] * len(texts)


def char_bigrams(text: str) -> list[str]:
    """'ab' -> ['^a', 'ab', 'b$']."""
    s = BOUNDARY_START + text + BOUNDARY_END
    return [s[i : i + 2] for i in range(len(s) - 1)]


class CharBigramNaiveBayes:
    """Multinomial naive Bayes over character bigrams with add-α smoothing.

    >>> nb = CharBigramNaiveBayes().fit(["aaa", "aab", "xyz", "xzz"], ["A", "A", "X", "X"])
    >>> nb.predict(["aa", "zz"])
    ['A', 'X']
    """

    def __init__(self, alpha: float = 1.0):
        if alpha <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        self.alpha = alpha

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> CharBigramNaiveBayes:
        if len(texts) != len(labels) or not texts:
            raise ValueError(f"need as many texts as labels (and some): {len(texts)} vs {len(labels)}")
        self.classes = sorted(set(labels))
        cidx = {c: i for i, c in enumerate(self.classes)}
        counts = [Counter() for _ in self.classes]
        for t, l in zip(texts, labels):
            counts[cidx[l]].update(char_bigrams(t))
        self.bigrams = {g: i for i, g in enumerate(sorted(set().union(*counts)))}
        K, G = len(self.classes), len(self.bigrams)
        table = np.zeros((K, G + 1))  # last column: unseen
        for k, cnt in enumerate(counts):
            for g, n in cnt.items():
                table[k, self.bigrams[g]] = n
        table += self.alpha
        self.log_p = np.log(table) - np.log(table.sum(axis=1, keepdims=True))  # (K, G+1)
        n_k = np.array([sum(1 for l in labels if l == c) for c in self.classes], dtype=float)
        self.log_prior = np.log(n_k / n_k.sum())  # (K,)
        return self

    def log_joint(self, texts: Sequence[str]) -> np.ndarray:
        """(N, K): log P(k) + sum_i log P(g_i | k)."""
        G = len(self.bigrams)
        out = np.empty((len(texts), len(self.classes)))
        for n, t in enumerate(texts):
            idx = [self.bigrams.get(g, G) for g in char_bigrams(t)]
            out[n] = self.log_prior + self.log_p[:, idx].sum(axis=1)
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.log_joint(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.classes[k] for k in self.log_joint(texts).argmax(axis=1)]
