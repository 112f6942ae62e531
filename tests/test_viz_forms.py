"""The insight verbs on the four forms: ``plot``, ``inspect``, ``gradflow`` (and ``serve``'s form page
data) on a classify, a tag, a seq2seq and a generate run.

One tiny run of each form is trained once for the module (``helpers.form_runs``: hidden 8,
6 steps). Each verb must exit 0 and write non-empty output labelled in the form's own terms:
the loss per example, tag or token and the form's metric in the plot; class probabilities,
tags and decoder distributions in the inspect page; the form's stack in the gradient flow.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import form_runs
from helpers.png import png_size

from rnnkit.cli import main
from rnnkit.data.token_vocab import LabelSet, TokenVocab
from rnnkit.decode.forms import generator_greedy
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.train.load_task import load_task
from rnnkit.viz import gradflow as gf
from rnnkit.viz.form_trace import classify_trace
from rnnkit.viz.inspect_units import ACT_SCALE, read_embedded

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


# ---------------------------------------------------------------------- inspect
def inspect_page(run: Path, tmp_path: Path, *args) -> dict:
    out = tmp_path / "page.html"
    assert main(["inspect", str(run), "--html", str(out), *args]) == 0
    page = out.read_text(encoding="utf-8")
    assert "<script src" not in page and "http://" not in page and "https://" not in page
    return read_embedded(page)


def test_inspect_classify_draws_the_class_after_each_character(runs, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("def f(x):\tpy\nthe cat\n", encoding="utf-8")  # a TSV line gives its first field
    data = inspect_page(runs["classify"], tmp_path, "--text", str(src))
    form, model, _ = load_task(runs["classify"], "classify")
    segs = [data, *data["more"]]
    assert data["task"] == "classify" and ["".join(s["chars"]) for s in segs] == ["def f(x):", "the cat"]
    for s, text in zip(segs, ["def f(x):", "the cat"]):
        assert s["strip"] == "classes" and s["vocab"] == ["en", "py"] and s["dist_title"].startswith("class")
        ids = form.vocab.encode(text)
        # after character t: what the model says of the prefix c_1..c_t (bidirectional: read again)
        for t in range(len(text)):
            p = model.predict_proba(np.array(ids[: t + 1])[:, None])[0]  # (K,)
            k = s["top_ids"][t]
            np.testing.assert_allclose(s["top_p"][t], p[k], atol=6e-5)
        label = form.labels.labels[int(form.probs(model, [text])[0].argmax())]
        assert s["summary"].startswith(label)
        # the activations are the stack's own states: [h→ ; h←] of the one layer
        (hs, _), _ = model.backbone.forward(np.array(ids)[:, None])  # (T, 1, 2H)
        acts = np.array(s["acts"]) / data["act_scale"]  # (L, W, T)
        assert acts.shape == (1, 16, len(text))
        np.testing.assert_allclose(acts[0], hs[:, 0].T, atol=0.5 / ACT_SCALE + 1e-6)
    out = capsys.readouterr().out
    assert "2 examples (classify)" in out and "'def f(x):' -> " in out


def test_inspect_tag_shows_each_characters_tag_and_confidence(runs, tmp_path):
    data = inspect_page(runs["tag"], tmp_path)  # default: the run's training data
    form, model, _ = load_task(runs["tag"], "tag")
    segs = [data, *data["more"]]
    assert data["task"] == "tag" and 1 < len(segs) <= 8
    texts = ["".join(s["chars"]) for s in segs]
    for s, tags in zip(segs, form.predict_tags(model, texts)):
        assert s["strip"] == "tags" and s["vocab"] == ["0", "1"] and s["dist_title"] == "tag"
        assert s["summary"] == tags == "".join(s["vocab"][top[0]] for top in s["top_ids"])
        assert all(0.5 <= p[0] <= 1 for p in s["top_p"])  # the predicted tag's confidence


def test_inspect_seq2seq_shows_the_encoder_and_the_decoders_distribution(runs, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("sat on\n", encoding="utf-8")
    data = inspect_page(runs["seq2seq"], tmp_path, "--text", str(src))
    form, model, _ = load_task(runs["seq2seq"], "seq2seq")
    enc, (dec,) = data, data["more"]
    assert enc["net"] == 0 and enc["stack"].startswith("encoder") and enc["top_ids"] == []
    assert "".join(enc["chars"]) == "sat on" and np.array(enc["acts"]).shape == (1, 8, 6)
    assert dec["net"] == 1 and dec["stack"].startswith("decoder") and dec["dist_title"] == "next token"
    assert dec["vocab"] == form.tgt_vocab.itos and dec["words"]
    (hyp,) = form.decode(model, form.encode_sources(["sat on"]))
    assert dec["summary"] == " ".join(hyp)
    # the decoder's distribution at step t: its argmax is the token written at t (or the end)
    assert [dec["vocab"][top[0]] for top in dec["top_ids"]][: len(hyp)] == hyp
    assert dec["ranking"] and dec["initial"]["layer"] == 0


def test_inspect_generate_shows_its_output_per_label(runs, tmp_path):
    data = inspect_page(runs["generate"], tmp_path)
    form, model, _ = load_task(runs["generate"], "generate")
    segs = [data, *data["more"]]
    assert [s["name"] for s in segs] == ["output for en", "output for py"]
    for s, label in zip(segs, ["en", "py"]):
        (out,), _ = generator_greedy(model, np.array(form.labels.encode([label])), form.cfg.max_len)
        assert s["summary"] == form.vocab.decode(out)
        assert s["dist_title"] == "next character" and len(s["top_ids"]) == len(s["chars"])


@pytest.mark.parametrize("verb", VERBS)
def test_inspect_bad_unit_is_one_line(runs, verb, tmp_path, capsys):
    assert main(["inspect", str(runs[verb]), "--html", str(tmp_path / "u.html"), "--unit", "99"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--unit" in err


def test_classify_trace_reading_left_to_right_reads_the_head_per_step():
    """A one-directional classifier's feature after c_t is h_t itself: one pass gives every prefix."""
    vocab, labels = TokenVocab.build(["abc"]), LabelSet(["x", "y", "z"])
    model = SequenceClassifier(ClassifierConfig(len(vocab), 3, hidden=6, layers=2), seed=1)
    tr = classify_trace(SimpleNamespace(vocab=vocab, labels=labels), model, "abcab")
    ids = vocab.encode("abcab")
    for t in range(5):
        np.testing.assert_allclose(
            tr.probs[t], model.predict_proba(np.array(ids[: t + 1])[:, None])[0], atol=1e-6
        )
    assert tr.states.shape == (5, 2, 6)


# --------------------------------------------------------------------- gradflow
GRADFLOW_PART = {
    "classify": "classifier",
    "tag": "tagger",
    "seq2seq": "seq2seq decoder",
    "generate": "generator",
}


@pytest.mark.parametrize("verb", VERBS)
def test_gradflow_measures_the_forms_stack(runs, verb, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out, js = tmp_path / "gf.png", tmp_path / "gf.json"
    args = ["gradflow", str(runs[verb]), "--steps", "12", "--batch", "3", "--max-len", "64"]
    assert main([*args, "-o", str(out), "--json", str(js)]) == 0
    assert out.stat().st_size > 5_000 and png_size(out)[0] > 600
    data = json.loads(js.read_text())
    assert data["part"] == GRADFLOW_PART[verb]
    assert data["shape"]["dirs"] == (2 if verb in ("classify", "tag") else 1)
    assert set(data["flow"]) == {"uniform", "orthogonal", "identity", "orthogonal x2", "trained"}
    for layers in data["flow"].values():
        assert len(layers) == 1 and len(layers[0]) == 12 and all(v > 0 for v in layers[0])
    assert data["cost"]["model"] == "a character LM of the same size"
    printed = capsys.readouterr().out
    assert f"measured: the {GRADFLOW_PART[verb]}" in printed and "trained" in printed


def bidirectional_identity_classifier(gain: float) -> SequenceClassifier:
    """One bidirectional layer, W_hh = gain * I both ways, no input weights or biases: h_t = 0, tanh' = 1."""
    m = SequenceClassifier(
        ClassifierConfig(6, 3, hidden=5, bidirectional=True, init="identity"), seed=0, dtype=np.float64
    )
    for layer in (m.rnn.layers[0].fwd, m.rnn.layers[0].bwd):
        layer.params[layer.k_hh] *= gain
        for k in (layer.k_ih, layer.k_bih, layer.k_bhh):
            layer.params[k][...] = 0
    return m


def test_gradflow_counts_each_directions_distance_from_its_own_loss(rng):
    """The classifier's loss sits on h→_T and h←_1: with an identity recurrence each direction's
    g keeps its norm all the way back, and a gain of 0.5 halves both at every step, so their
    combined norm at distance d is the norm at 0 times 0.5^d (a direction counted from the
    wrong end would break the pattern)."""
    T = 20
    ids = rng.integers(0, 6, size=(T + 1, 4))
    flat, dh0 = gf.hidden_grad_norms(bidirectional_identity_classifier(1.0), ids)
    assert flat.shape == (1, T, 4) and dh0.shape == (2, 4, 5)
    np.testing.assert_allclose(flat[0], np.broadcast_to(flat[0, :1], (T, 4)), rtol=1e-12)
    half, _ = gf.hidden_grad_norms(bidirectional_identity_classifier(0.5), ids)
    np.testing.assert_allclose(half[0], flat[0] * 0.5 ** np.arange(T)[:, None], rtol=1e-10)
    # distance 0: dL/d[h→_T ; h←_1] itself
    m = bidirectional_identity_classifier(1.0)
    p = m.predict_proba(ids[:-1])  # (B, K), from the features f
    targets = np.random.default_rng(0).integers(0, 3, size=4)
    p[np.arange(4), targets] -= 1
    np.testing.assert_allclose(flat[0, 0], np.linalg.norm(p @ m.head.params["weight"], axis=1), rtol=1e-10)
