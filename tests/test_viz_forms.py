"""The insight verbs on the four forms: ``plot``, ``inspect``, ``gradflow`` (and ``serve``'s form page
data) on a classify, a tag, a seq2seq and a generate run.

One tiny run of each form is trained once for the module (``helpers.form_runs``: hidden 8,
6 steps). Each verb must exit 0 and write non-empty output labelled in the form's own terms:
the loss per example, tag or token and the form's metric in the plot; class probabilities,
tags and decoder distributions in the inspect page; the form's stack in the gradient flow.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import form_runs

from rnnkit.cli import main

VERBS = ("classify", "tag", "seq2seq", "generate")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    return form_runs(tmp_path_factory.mktemp("forms"))


def svg_texts(path: Path) -> str:
    """The text of an SVG written with ``svg.fonttype = none`` (labels kept as text)."""
    return " ".join(re.findall(r">([^<>]+)</text>", path.read_text(encoding="utf-8")))


# ------------------------------------------------------------------------- plot
PLOT_LABELS = {
    "classify": (["loss (nats/example)", "accuracy"], ["bits/char", "token error rate"]),
    "tag": (["loss (nats/tag)", "accuracy", "boundary F1"], ["bits/char"]),
    "seq2seq": (["loss (nats/token)", "token error rate", "exact match"], ["bits/char", "accuracy"]),
    "generate": (["loss (nats/char)", "bits/char", "loss vs wall time"], ["accuracy", "nats/example"]),
}


@pytest.mark.parametrize("verb", VERBS)
def test_plot_labels_the_forms_own_metrics(runs, verb, tmp_path, capsys):
    matplotlib = pytest.importorskip("matplotlib")
    out = tmp_path / "curves.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        assert main(["plot", str(runs[verb]), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    texts = svg_texts(out)
    present, absent = PLOT_LABELS[verb]
    for label in present:
        assert label in texts, (label, texts)
    for label in absent:
        assert label not in texts, (label, texts)


def test_plot_refuses_runs_of_different_tasks(runs, tmp_path, capsys):
    assert main(["plot", str(runs["classify"]), str(runs["tag"]), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "classify" in err and "tag" in err
