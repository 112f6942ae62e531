"""The per-class report of ``classify eval`` and ``tag eval`` as aligned text tables.

``report`` is ``task_metrics.classification_report``'s dict (the eval result holds its keys).
``report_lines`` gives, under a blank line, one row per class (precision, recall, F1,
support), then the macro and weighted averages, and, when there are at most
``MAX_CONFUSION`` classes, the confusion matrix (rows: true class, columns: predicted)::

    label        precision  recall     f1  support
    A               0.9000  0.8182 0.8571       11
    ...
    macro avg       0.8944  0.8909 0.8918       20
    weighted avg    0.8960  0.8950 0.8947       20

    confusion (rows: true, columns: predicted)
          A  B
    A     9  2
    B     1  8
"""

from __future__ import annotations

MAX_CONFUSION = 12  # more classes than this: the matrix is in --json only


def _table(rows: list[list[str]], left: int = 1) -> list[str]:
    """Rows of cells -> lines, each column as wide as its widest cell: the first ``left``
    columns left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
        for r in rows
    ]


def report_lines(report: dict, what: str = "label") -> list[str]:
    """The per-class table, averages and (few classes) confusion matrix, as lines of text."""

    def row(name: str, s: dict) -> list[str]:
        return [name, f"{s['precision']:.4f}", f"{s['recall']:.4f}", f"{s['f1']:.4f}", f"{s['support']:,}"]

    rows = [[what, "precision", "recall", "f1", "support"]]
    rows += [row(name, s) for name, s in report["per_class"].items()]
    rows += [row("macro avg", report["macro_avg"]), row("weighted avg", report["weighted_avg"])]
    lines = ["", *_table(rows)]
    labels = report["labels"]
    if len(labels) <= MAX_CONFUSION:
        cells = [["", *labels]] + [
            [t, *(f"{n:,}" for n in r)] for t, r in zip(labels, report["confusion_matrix"])
        ]
        lines += ["", "confusion (rows: true, columns: predicted)", *_table(cells)]
    return lines
