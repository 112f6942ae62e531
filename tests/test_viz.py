"""Visualisation verbs: training curves, the hidden-unit page, gradient flow.

A tiny model is trained once for the module (a real run directory with checkpoints and
metrics.jsonl). The page's embedded activations are checked against the model's own
``step``; the gradient-flow numbers against the engine's BPTT and against cases whose
answer is known exactly (an identity recurrence with zero input keeps ||dL/dh_t|| fixed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.png import png_size

from rnnkit.cli import main
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.nn.softmax_cross_entropy import softmax
from rnnkit.train.lm_config import TrainConfig
from rnnkit.train.lm_trainer import train
from rnnkit.train.load_lm import load_lm
from rnnkit.viz import gradflow as gf
from rnnkit.viz.inspect_units import ACT_SCALE, read_embedded, text_signals
from rnnkit.viz.mpl import INSTALL_HINT

LINES = [
    'He said "the king (and the queen) are here" and left.\n',
    "She asked: [is it (really) so?] {yes}\n",
    'A line with "quotes" only.\n',
    "if (a < b) { x = f(a, g(b)); } </script> & done\n",
    "Short one.\n",
]


def corpus_text(n_lines: int = 120, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    return "".join(LINES[i] for i in rng.integers(0, len(LINES), n_lines))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("viz")
    text = d / "corpus.txt"
    text.write_text(corpus_text(), encoding="utf-8")
    cfg = TrainConfig(
        files=[str(text)],
        hidden=16,
        layers=2,
        seq_len=16,
        batch=4,
        max_steps=24,
        eval_every=8,
        save_every=8,
        log_every=2,
        val_chars=0,
        warmup=0,
        progress=False,
    )
    assert train(cfg, d / "run", log=lambda *a: None) == 0
    return d / "run"


def check_png(path: Path, min_w=600, max_w=4000, min_h=300, max_h=4000):
    assert path.is_file() and path.stat().st_size > 5_000, f"{path} missing or tiny"
    w, h = png_size(path)
    assert min_w <= w <= max_w and min_h <= h <= max_h, (w, h)
    return w, h


# ------------------------------------------------------------------------- plot
def test_plot_curves_png(run_dir, tmp_path, capsys):
    out = tmp_path / "curves.png"
    assert (
        main(
            [
                "plot",
                str(run_dir),
                str(run_dir / "metrics.jsonl"),
                "-o",
                str(out),
                "--smooth",
                "0.5",
                "--labels",
                "a",
                "b",
            ]
        )
        == 0
    )
    w, h = check_png(out)
    assert w > h  # two panels side by side
    assert "wrote" in capsys.readouterr().out


def test_plot_without_matplotlib_says_what_to_install(run_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err == f"rnnkit: error: {INSTALL_HINT}\n"
    assert err == "rnnkit: error: plotting needs matplotlib: pip install 'rnnkit[plot]'\n"
    assert not (tmp_path / "x.png").exists()


def test_plot_labels_must_match_the_runs(run_dir, tmp_path, capsys):
    assert main(["plot", str(run_dir), "--labels", "a", "b", "-o", str(tmp_path / "x.png")]) == 2
    assert "--labels" in capsys.readouterr().err


def test_plot_rejects_a_directory_without_metrics(tmp_path, capsys):
    assert main(["plot", str(tmp_path), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "metrics.jsonl" in err


# ---------------------------------------------------------------------- inspect
def step_reference(model, ids):
    """Per-character states (N, L, H) and next-char probabilities (N, V), one model.step at a time."""
    h = model.zero_state(1)
    states, probs = [], []
    for c in ids:
        logits, h = model.step(np.array([int(c)]), h)
        states.append(h[:, 0].copy())
        probs.append(softmax(logits[0].astype(np.float64)))
    return np.array(states), np.array(probs)


def test_inspect_html_embeds_the_models_activations(run_dir, tmp_path, capsys):
    text = 'He said "hi (there)" to her.\nif (a < b) { x = f(a); } </script> & done\nShort one.\n'
    src = tmp_path / "in.txt"
    src.write_text(text, encoding="utf-8")
    html_path = tmp_path / "units.html"
    assert (
        main(
            [
                "inspect",
                str(run_dir),
                "--text",
                str(src),
                "--html",
                str(html_path),
                "--layer",
                "1",
                "--unit",
                "3",
            ]
        )
        == 0
    )
    assert "in_quotes" in capsys.readouterr().out
    page = html_path.read_text(encoding="utf-8")
    # self-contained: no external script, style or font
    assert (
        "<script src" not in page and "<link" not in page and "http://" not in page and "https://" not in page
    )
    assert page.count("</script>") == 2  # the text's "</script>" is escaped inside the JSON
    data = read_embedded(page)
    assert "".join(data["chars"]) == text
    assert data["initial"] == {"layer": 1, "unit": 3}

    model, vocab, _ = load_lm(run_dir)
    states, probs = step_reference(model, vocab.encode(text))  # (N, L, H), (N, V)
    acts = np.array(data["acts"], dtype=np.float64) / data["act_scale"]  # (L, H, N)
    assert acts.shape == (2, 16, len(text))
    np.testing.assert_allclose(acts, states.transpose(1, 2, 0), atol=0.5 / ACT_SCALE + 1e-6)
    assert np.abs(states).max() > 0.05  # not trivially zero
    # top-5 next characters: the five most probable, with their probabilities
    top_ids = np.array(data["top_ids"])
    assert top_ids.shape == (len(text), 5)
    np.testing.assert_allclose(np.array(data["top_p"]), np.take_along_axis(probs, top_ids, 1), atol=6e-5)
    np.testing.assert_allclose(np.sort(np.array(data["top_p"]), 1)[:, ::-1][:, 0], probs.max(1), atol=6e-5)
    # unit search: the listed r is Pearson's r of that unit with the signal
    sig = text_signals(text)
    for name in ("in_quotes", "bracket_depth", "line_position", "after_newline"):
        ranked = data["ranking"][name]
        assert len(ranked) == 10
        assert all(abs(a["r"]) >= abs(b["r"]) for a, b in zip(ranked, ranked[1:]))
        e = ranked[0]
        r = np.corrcoef(states[:, e["layer"], e["unit"]], sig[name])[0, 1]
        assert e["r"] == pytest.approx(r, abs=1e-3)


def test_text_signals_by_hand():
    s = text_signals('a "b (c)" d\ne')
    # index:          0 1 2 3 4 5 6 7 8 9 10 11 12  ->  a ␣ " b ␣ ( c ) " ␣ d \n e
    assert s["in_quotes"].tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert s["bracket_depth"].tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    assert s["line_position"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1]
    assert s["after_newline"].tolist() == [0] * 11 + [1, 0]


def test_inspect_defaults_to_the_validation_text_and_best_unit(run_dir, tmp_path):
    out = tmp_path / "u.html"
    assert main(["inspect", str(run_dir), "--html", str(out), "--max-chars", "300"]) == 0
    data = read_embedded(out.read_text(encoding="utf-8"))
    assert 0 < len(data["chars"]) <= 300
    best = max((lst[0] for lst in data["ranking"].values() if lst), key=lambda e: abs(e["r"]))
    assert data["initial"] == {"layer": best["layer"], "unit": best["unit"]}


@pytest.mark.parametrize(
    "args, needle",
    [(["--layer", "2"], "--layer"), (["--unit", "16"], "--unit"), (["--max-chars", "0"], "--max-chars")],
)
def test_inspect_bad_flags_exit_2(run_dir, tmp_path, capsys, args, needle):
    src = tmp_path / "t.txt"
    src.write_text("the king", encoding="utf-8")
    assert main(["inspect", str(run_dir), "--text", str(src), "--html", str(tmp_path / "u.html"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_inspect_unknown_characters_exit_2(run_dir, tmp_path, capsys):
    src = tmp_path / "t.txt"
    src.write_text("the king \u20ac", encoding="utf-8")
    assert main(["inspect", str(run_dir), "--text", str(src), "--html", str(tmp_path / "u.html")]) == 2
    assert "U+20AC" in capsys.readouterr().err


# --------------------------------------------------------------------- gradflow
def test_hidden_grad_norms_match_the_engines_bptt(rng):
    m = CharRNN(ModelConfig(vocab_size=7, hidden=5, layers=2), seed=3, dtype=np.float64)
    T, B = 9, 3
    ids = rng.integers(0, 7, size=(T + 1, B))
    norms, dh0 = gf.hidden_grad_norms(m, ids)
    assert norms.shape == (2, T, B) and np.isfinite(norms).all()
    # the same loss through the engine: dL/dy_T, then RNNStack.backward from the top states
    (top, _), cache = m.rnn.forward(ids[:-1])
    W, b = m.head.params["weight"], m.head.params["bias"]
    p = softmax(top[-1] @ W.T + b)
    p[np.arange(B), ids[-1]] -= 1
    dy = np.zeros_like(top)
    dy[-1] = p @ W
    _, dh0_engine, _ = m.rnn.backward(dy, None, cache)
    np.testing.assert_allclose(dh0, dh0_engine, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(norms[1, 0], np.linalg.norm(p @ W, axis=1), rtol=1e-12)  # distance 0: h_T


def linear_model(gain: float, T: int = 30):
    """One layer, W_hh = gain * I, zero input weights and biases: every h_t = 0, tanh' = 1."""
    m = CharRNN(ModelConfig(vocab_size=6, hidden=8, layers=1, init="identity"), seed=0, dtype=np.float64)
    layer = m.rnn.layers[0]
    layer.params[layer.k_hh] *= gain
    for k in (layer.k_ih, layer.k_bih, layer.k_bhh):
        layer.params[k][...] = 0
    return m


def test_identity_recurrence_keeps_the_gradient_and_a_gain_scales_it_per_step(rng):
    T = 30
    ids = rng.integers(0, 6, size=(T + 1, 4))
    flat, _ = gf.hidden_grad_norms(linear_model(1.0), ids)  # (1, T, B)
    assert flat.shape == (1, T, 4)
    np.testing.assert_allclose(flat[0], np.broadcast_to(flat[0, :1], (T, 4)), rtol=1e-12)
    half, _ = gf.hidden_grad_norms(linear_model(0.5), ids)
    np.testing.assert_allclose(half[0], flat[0] * 0.5 ** np.arange(T)[:, None], rtol=1e-10)


def test_gradflow_data_vanishes_explodes_and_clips():
    cfg = ModelConfig(vocab_size=20, hidden=32, layers=1)
    data = gf.gradflow_data(
        None, cfg, steps=60, batch=8, gain=2.0, clip=1.0, cost_lengths=(64, 256, 1024), cost_batch=4, chunk=64
    )
    assert set(data["flow"]) == {"uniform", "orthogonal", "identity", "orthogonal x2"}
    for layers in data["flow"].values():
        assert len(layers) == 1 and len(layers[0]) == 60  # one norm per distance
        assert np.isfinite(layers[0]).all() and min(layers[0]) >= 0
    uni, boom = data["flow"]["uniform"][0], data["flow"]["orthogonal x2"][0]
    assert uni[-1] < 1e-3 * uni[0]  # vanishes
    assert boom[-1] > 100 * boom[0]  # explodes
    for r in data["clipping"].values():
        assert all(c <= 1.0 + 1e-9 and c <= n + 1e-12 for n, c in zip(r["norm"], r["clipped"]))
    assert max(data["clipping"]["orthogonal x2"]["norm"]) > 1.0  # clipping had work to do
    cost = data["cost"]
    assert cost["full_bytes"][-1] > 8 * cost["full_bytes"][0]  # grows with N (16x longer)
    assert max(cost["tbptt_bytes"]) < 1.5 * min(cost["tbptt_bytes"])  # bounded by the chunk
    assert cost["full_bytes"][-1] > 4 * cost["tbptt_bytes"][-1]
    assert all(t > 0 for t in cost["full_s"] + cost["tbptt_s"])


def test_gradflow_cli_png_and_json(run_dir, tmp_path, capsys):
    out, js = tmp_path / "gf.png", tmp_path / "gf.json"
    assert (
        main(
            [
                "gradflow",
                str(run_dir),
                "--steps",
                "40",
                "--batch",
                "4",
                "--max-len",
                "256",
                "-o",
                str(out),
                "--json",
                str(js),
            ]
        )
        == 0
    )
    check_png(out)
    data = json.loads(js.read_text())
    assert "trained" in data["flow"] and len(data["flow"]["trained"]) == 2  # two layers
    assert all(len(v) == 40 for layers in data["flow"].values() for v in layers)
    assert data["cost"]["lengths"] == [64, 128, 256]
    assert "trained" in capsys.readouterr().out


def test_gradflow_fresh_cli(tmp_path):
    out = tmp_path / "gf.png"
    assert (
        main(
            [
                "gradflow",
                "--fresh",
                "--hidden",
                "16",
                "--steps",
                "20",
                "--batch",
                "2",
                "--max-len",
                "128",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    check_png(out)


def test_gradflow_needs_dir_or_fresh(capsys):
    assert main(["gradflow"]) == 2
    assert "--fresh" in capsys.readouterr().err
