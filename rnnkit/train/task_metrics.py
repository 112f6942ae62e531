"""Evaluation metrics for the task models.

- ``accuracy``: share of exact label matches.
- ``edit_distance``: Levenshtein distance, the fewest insertions, deletions and
  substitutions turning one sequence into the other (d[i][j] = min(d[i-1][j] + 1,
  d[i][j-1] + 1, d[i-1][j-1] + [a_i != b_j])).
- ``token_error_rate``: sum of edit distances / sum of reference lengths, over a corpus.
  Over phonemes it is the phoneme error rate (PER), over characters the character error
  rate (CER), over words the speech-recognition word error rate.
- ``sequence_error_rate``: share of outputs not exactly equal to the reference. In
  grapheme-to-phoneme work this is what "word error rate" (WER) means: the share of words
  whose pronunciation has any error. ``exact_match`` is 1 minus it.
- ``character_error_rate``: ``token_error_rate`` over the characters of output strings
  (for word-level outputs, the words joined by single spaces).
- ``boundary_f1``: precision, recall and F1 of predicted word boundaries (space
  restoration): the boundary set of a tag string is the positions tagged as boundary.
- ``confusion_matrix`` and ``classification_report``: per-class precision, recall, F1 and
  support, their macro and weighted averages, with scikit-learn's definitions (see
  ``classification_report``). Plain dicts of Python numbers, ready for JSON.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def accuracy(pred: Sequence, gold: Sequence) -> float:
    if len(pred) != len(gold):
        raise ValueError(f"{len(pred)} predictions for {len(gold)} references")
    if not gold:
        raise ValueError("accuracy of an empty set is undefined")
    return sum(p == g for p, g in zip(pred, gold)) / len(gold)


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences (strings or token lists)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def token_error_rate(hyps: Sequence[Sequence], refs: Sequence[Sequence]) -> float:
    """sum_i edit_distance(hyp_i, ref_i) / sum_i len(ref_i): PER, CER, ASR's WER."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    n = sum(len(r) for r in refs)
    if n == 0:
        raise ValueError("the references hold no tokens")
    return sum(edit_distance(h, r) for h, r in zip(hyps, refs)) / n


def exact_match(hyps: Sequence[Sequence], refs: Sequence[Sequence]) -> float:
    return accuracy([tuple(h) for h in hyps], [tuple(r) for r in refs])


def character_error_rate(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """sum_i edit_distance(hyp_i, ref_i) / sum_i len(ref_i), over the characters of strings."""
    return token_error_rate(hyps, refs)


def sequence_error_rate(hyps: Sequence[Sequence], refs: Sequence[Sequence]) -> float:
    """Share of hypotheses with any error: grapheme-to-phoneme's "word error rate"."""
    return 1.0 - exact_match(hyps, refs)


def boundaries(tags: str, boundary: str = "1") -> set[int]:
    """Positions tagged as a boundary: '0100' -> {1}."""
    return {i for i, t in enumerate(tags) if t == boundary}


def boundary_f1(pred_tags: Sequence[str], gold_tags: Sequence[str], boundary: str = "1") -> dict[str, float]:
    """Micro-averaged over all sequences -> dict(precision, recall, f1, tp, fp, fn).

    With no predicted (or no gold) boundaries precision (recall) is taken as 1 when the
    other side has none either, else 0.
    """
    if len(pred_tags) != len(gold_tags):
        raise ValueError(f"{len(pred_tags)} predictions for {len(gold_tags)} references")
    tp = fp = fn = 0
    for i, (p, g) in enumerate(zip(pred_tags, gold_tags)):
        if len(p) != len(g):
            raise ValueError(f"sequence {i}: prediction has {len(p)} tags, reference {len(g)}")
        P, G = boundaries(p, boundary), boundaries(g, boundary)
        tp += len(P & G)
        fp += len(P - G)
        fn += len(G - P)
    precision = tp / (tp + fp) if tp + fp else float(fn == 0)
    recall = tp / (tp + fn) if tp + fn else float(fp == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return dict(precision=precision, recall=recall, f1=f1, tp=tp, fp=fp, fn=fn)


# ------------------------------------------------------------------------ classification
def confusion_matrix(gold: Sequence[int], pred: Sequence[int], K: int) -> np.ndarray:
    """C (K, K) int64: C[i, j] = the number of examples of true class i predicted as class j.

    >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], 3).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    """
    gold, pred = np.asarray(gold, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    if gold.shape != pred.shape or gold.ndim != 1:
        raise ValueError(f"{pred.size} predictions for {gold.size} references")
    if gold.size and (min(gold.min(), pred.min()) < 0 or max(gold.max(), pred.max()) >= K):
        raise ValueError(f"class ids must lie in [0, {K})")
    C = np.zeros((K, K), dtype=np.int64)
    np.add.at(C, (gold, pred), 1)  # one count per (true, predicted) pair
    return C


def _scores(precision: float, recall: float, f1: float, support: int) -> dict:
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(support)}


def classification_report(gold: Sequence[int], pred: Sequence[int], labels: Sequence[str]) -> dict:
    """Per-class scores of predicted class ids against true ones (ids index ``labels``).

    With C the confusion matrix (rows true, columns predicted), for class k:

        precision_k = C[k, k] / sum_i C[i, k]     (0 when k is never predicted)
        recall_k    = C[k, k] / sum_j C[k, j]     (0 when k never occurs)
        f1_k        = 2 P_k R_k / (P_k + R_k)     (0 when both are 0)
        support_k   = sum_j C[k, j]               (its true examples)

    macro average: the plain mean over the classes; weighted average: the mean weighted by
    support; accuracy: trace(C) / N. These are scikit-learn's definitions
    (``classification_report`` with ``zero_division=0``), and as there, the classes reported
    are those that occur among the true or the predicted ids, in id order.

    Returns ``{"accuracy", "labels", "per_class": {label: {precision, recall, f1, support}},
    "macro_avg", "weighted_avg", "confusion_matrix"}``: the matrix as lists of ints over
    ``labels`` (rows true, columns predicted; its cells add up to N).

    >>> r = classification_report([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"])
    >>> r["per_class"]["b"], r["confusion_matrix"]
    ({'precision': 0.6666666666666666, 'recall': 1.0, 'f1': 0.8, 'support': 2}, [[1, 1], [0, 2]])
    """
    if len(gold) == 0:
        raise ValueError("a classification report of an empty set is undefined")
    C = confusion_matrix(gold, pred, len(labels))
    shown = np.flatnonzero(C.sum(axis=0) + C.sum(axis=1))  # classes true or predicted
    C = C[np.ix_(shown, shown)]  # (k, k): every example's two classes are among them
    tp, support, predicted = np.diag(C), C.sum(axis=1), C.sum(axis=0)  # (k,) each
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 is taken as 0 below
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    N = int(support.sum())
    names = [labels[k] for k in shown]
    weights = support / N
    return {
        "accuracy": float(tp.sum() / N),
        "labels": names,
        "per_class": {n: _scores(*s) for n, s in zip(names, zip(precision, recall, f1, support))},
        "macro_avg": _scores(precision.mean(), recall.mean(), f1.mean(), N),
        "weighted_avg": _scores(weights @ precision, weights @ recall, weights @ f1, N),
        "confusion_matrix": C.tolist(),
    }
