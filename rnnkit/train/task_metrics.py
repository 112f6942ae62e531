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
- ``boundary_f1``: precision, recall and F1 of predicted word boundaries (space
  restoration): the boundary set of a tag string is the positions tagged as boundary.
"""

from __future__ import annotations

from collections.abc import Sequence


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


def sequence_error_rate(hyps: Sequence[Sequence], refs: Sequence[Sequence]) -> float:
    """Share of hypotheses with any error: grapheme-to-phoneme's "word error rate"."""
    return 1.0 - exact_match(hyps, refs)


def boundaries(tags: str, boundary: str = "1") -> set[int]:
    """Positions tagged as a boundary: '0100' -> {1}."""
    return {i for i, t in enumerate(tags) if t == boundary}


def boundary_f1(pred_tags: Sequence[str], gold_tags: Sequence[str], boundary: str = "1"):
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
