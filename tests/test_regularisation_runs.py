"""Issue 19, item 2: the regularisation flags of ``rnnkit train`` and the task verbs, end to end.

--weight-drop P (DropConnect on W_hh), --dropout-mode locked (variational dropout),
--tie-weights (the LM's head is its embedding) and --patience N (early stopping): their
refusals, exact resume with them on, early stopping and its resume, and a tied checkpoint
loading into torch modules. The mathematics is in test_regularisation.py.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from helpers import TINY, assert_bit_identical, assert_one_line_error, last_step, rnnkit, write_text

# A constant learning rate: the run does not depend on --max-steps, so k steps and a resume to n
# equal n steps in one go.
CONSTANT = ["--schedule", "constant", "--warmup", "0", "--lr", "0.01", "--seed", "5"]
LM_FLAGS = ["--dropout", "0.2", "--dropout-mode", "locked", "--weight-drop", "0.3", "--tie-weights"]


def ok(*args, cwd=None):
    p = rnnkit(*args, cwd=cwd)
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    return write_text(tmp_path_factory.mktemp("text") / "corpus.txt", n_words=1500, seed=3)


# ------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "args,needles",
    [
        (
            ["--embed", "12", "--tie-weights"],
            ["--tie-weights", "(V, E) = (V, 12)", "(V, H) = (V, 16)", "--embed 16"],
        ),
        (["--dropout-mode", "locked"], ["--dropout-mode locked", "--dropout"]),
        (["--weight-drop", "1"], ["--weight-drop must lie in [0, 1), got 1.0"]),
        (["--patience", "-1"], ["--patience must be non-negative, got -1"]),
        (["--engine", "torch", "--tie-weights"], ["--tie-weights is not supported by --engine torch"]),
        (
            ["--engine", "torch", "--dropout", "0.1", "--dropout-mode", "locked"],
            ["--dropout-mode locked is not supported by --engine torch"],
        ),
    ],
)
def test_lm_refusals_are_one_line_and_write_nothing(text, tmp_path, args, needles):
    if "torch" in args:
        pytest.importorskip("torch")
    out = tmp_path / "run"
    assert_one_line_error(rnnkit("train", text, "--out", out, *TINY, *args), *needles)
    assert not out.exists()


def test_task_verbs_have_the_shared_flags_and_refuse_locked_dropout_on_torch(tmp_path):
    pytest.importorskip("torch")
    data = tmp_path / "d.tsv"
    data.write_text("".join(f"{w}\t{'pos' if w[0] == 'g' else 'neg'}\n" for w in ["good", "bad"] * 20))
    assert_one_line_error(
        rnnkit(
            "classify", "train", data, "--out", tmp_path / "r", "--engine", "torch", "--dropout", "0.1",
            "--dropout-mode", "locked",
        ),
        "--dropout-mode locked is not supported by --engine torch",
    )  # fmt: skip
    assert not (tmp_path / "r").exists()
    p = rnnkit("classify", "train", "--help")
    assert "--weight-drop" in p.stdout and "--dropout-mode" in p.stdout and "--patience" in p.stdout
    assert "--tie-weights" not in p.stdout  # a head over labels has no input embedding to share
    assert "--tie-weights" in rnnkit("train", "--help").stdout


def test_weight_drop_trains_alike_on_both_engines(text, tmp_path):
    """The torch engine draws DropConnect's masks as the NumPy engine does: the same run, to float32."""
    pytest.importorskip("torch")
    common = [*TINY, *CONSTANT, "--weight-drop", "0.3", "--max-steps", "10", "--eval-every", "10"]
    losses = []
    for engine in ("numpy", "torch"):
        run = tmp_path / engine
        ok("train", text, "--out", run, *common, "--engine", engine, "--val-chars", "300")
        rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
        losses.append([r["loss"] for r in rows])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)


# ------------------------------------------------------------------------- exact resume
def test_lm_resume_with_every_flag_on_is_bit_identical(text, tmp_path):
    common = [*TINY, *CONSTANT, *LM_FLAGS, "--eval-every", "10", "--val-chars", "300"]
    ok("train", text, "--out", tmp_path / "ref", *common, "--max-steps", "40")
    run = tmp_path / "run"
    ok("train", text, "--out", run, *common, "--max-steps", "20")
    p = ok("train", "--resume", run, "--max-steps", "40", "--no-progress")
    assert "resumed" in p.stdout and last_step(run) == 40
    assert_bit_identical(run / "last", tmp_path / "ref" / "last")
    cfg = json.loads((run / "last" / "config.json").read_text())
    assert cfg["model"]["tie_weights"] and cfg["model"]["weight_drop"] == 0.3
    assert cfg["train"]["dropout_mode"] == "locked"


def test_task_resume_with_weight_drop_and_locked_dropout_is_bit_identical(tmp_path):
    r = random.Random(0)
    lines = []
    for _ in range(60):
        t = "".join(r.choice("ab ") for _ in range(r.randint(3, 9))).strip() or "a"
        lines.append(f"{t}\t{''.join('1' if c == ' ' else '0' for c in t)}")
    data = tmp_path / "tags.tsv"
    data.write_text("\n".join(lines) + "\n")
    common = [
        "--hidden", "8", "--layers", "2", "--bidirectional", "--batch", "8", "--no-progress",
        "--eval-every", "5", *CONSTANT, "--dropout", "0.2", "--dropout-mode", "locked",
        "--weight-drop", "0.3",
    ]  # fmt: skip
    ok("tag", "train", data, "--out", tmp_path / "ref", *common, "--max-steps", "30")
    run = tmp_path / "run"
    ok("tag", "train", data, "--out", run, *common, "--max-steps", "15")
    ok("tag", "train", "--resume", run, "--max-steps", "30", "--no-progress")
    assert_bit_identical(run / "last", tmp_path / "ref" / "last")


# ---------------------------------------------------------------------- early stopping
@pytest.fixture(scope="module")
def diverging(tmp_path_factory):
    """Training text 'ab' repeated, validation text over 'abcd': the better the model fits the
    training text, the worse its validation loss, so no validation after the first is a best."""
    root = tmp_path_factory.mktemp("diverging")
    (root / "train.txt").write_text("ab" * 3000)
    r = random.Random(1)
    (root / "val.txt").write_text("".join(r.choice("abcd") for _ in range(600)))
    return root


def _early(root, out, *extra):
    return rnnkit(
        "train", root / "train.txt", "--val", root / "val.txt", "--out", out, *TINY, *CONSTANT,
        "--eval-every", "5", "--patience", "3", *extra,
    )  # fmt: skip


def test_patience_stops_the_run_keeps_the_best_and_says_why(diverging, tmp_path):
    run = tmp_path / "run"
    p = _early(diverging, run, "--max-steps", "500")
    assert p.returncode == 0, p.stderr
    stopped = last_step(run)
    assert stopped < 500
    lines = p.stdout.strip().splitlines()
    assert lines[-1].startswith(
        "stopped early: no better validation loss_nats in the last 3 validations (patience 3); "
        f"done at step {stopped}: best val "
    )
    vals = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    vals = [r for r in vals if r["kind"] == "val"]
    best = min(vals, key=lambda r: r["loss"])
    assert [r["step"] for r in vals][-4] == best["step"]  # the best, then 3 validations without one
    assert (run / "best").resolve().name == f"step-{best['step']:08d}"  # the best checkpoint is kept
    state = json.loads((run / "last" / "state.json").read_text())
    assert state["evals_since_best"] == 3

    # Resumed as it is, the run stays stopped: nothing trains, nothing is written.
    before = sorted(p.name for p in (run / "ckpt").iterdir())
    p = ok("train", "--resume", run, "--no-progress", "--max-steps", "500")
    assert f"the run ends at step {stopped}, where it stopped early" in p.stdout
    assert "--patience" in p.stdout
    assert sorted(p.name for p in (run / "ckpt").iterdir()) == before and last_step(run) == stopped
    # With more patience it trains on, and stops again once that runs out.
    p = ok("train", "--resume", run, "--no-progress", "--max-steps", "500", "--patience", "5")
    assert last_step(run) == stopped + 2 * 5 and "stopped early" in p.stdout
    # --patience 0 never stops early.
    p = ok("train", "--resume", run, "--no-progress", "--max-steps", str(stopped + 20), "--patience", "0")
    assert last_step(run) == stopped + 20 and "done at step" in p.stdout


def test_an_interrupted_run_with_patience_resumes_to_the_same_early_stop(diverging, tmp_path):
    ref = tmp_path / "ref"
    assert _early(diverging, ref, "--max-steps", "500").returncode == 0
    stopped = last_step(ref)
    run = tmp_path / "run"
    assert _early(diverging, run, "--max-steps", str(stopped - 5)).returncode == 0  # one validation short
    assert json.loads((run / "last" / "state.json").read_text())["evals_since_best"] == 2
    p = ok("train", "--resume", run, "--no-progress", "--max-steps", "500")
    assert last_step(run) == stopped and "stopped early" in p.stdout
    assert_bit_identical(run / "last", ref / "last")
    assert (run / "best").resolve().name == (ref / "best").resolve().name


def test_patience_stops_a_task_verb(tmp_path):
    """Validation labels are the training labels swapped: validation gets worse as training fits."""
    words = ["good", "nice", "fine", "bad", "awful", "poor"]
    train = [f"{w}\t{'pos' if i < 3 else 'neg'}" for i, w in enumerate(words)] * 10
    val = [f"{w}\t{'neg' if i < 3 else 'pos'}" for i, w in enumerate(words)]
    (tmp_path / "t.tsv").write_text("\n".join(train) + "\n")
    (tmp_path / "v.tsv").write_text("\n".join(val) + "\n")
    run = tmp_path / "run"
    p = ok(
        "classify", "train", tmp_path / "t.tsv", "--val", tmp_path / "v.tsv", "--out", run, "--hidden", "8",
        "--batch", "8", "--no-progress", *CONSTANT, "--eval-every", "2", "--patience", "2",
        "--max-steps", "400",
    )  # fmt: skip
    assert last_step(run) < 400
    assert "stopped early: no better validation accuracy in the last 2 validations (patience 2)" in p.stdout


# ---------------------------------------------------------------- a tied checkpoint
@pytest.mark.parametrize("embed", [0, 16], ids=["onehot", "embed16"])
def test_a_tied_checkpoint_loads_into_torch_and_both_engines(text, tmp_path, embed):
    """model.safetensors holds the tied matrix under both names, equal: torch.nn modules load it
    (strict), untied or tied as PyTorch ties, and give the loss rnnkit gives."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    run = tmp_path / "run"
    args = ["--embed", str(embed)] if embed else []
    ok("train", text, "--out", run, *TINY, *args, "--tie-weights", "--max-steps", "6", "--eval-every", "3")
    w = load_file(str(run / "last" / "model.safetensors"))
    if embed:
        assert torch.equal(w["head.weight"], w["embedding.weight"])
    else:
        assert torch.equal(w["head.weight"], w["rnn.weight_ih_l0"].T)
    V = w["head.bias"].shape[0]
    rnn = torch.nn.RNN(embed or V, 16, nonlinearity="tanh")
    rnn.load_state_dict({k[4:]: v for k, v in w.items() if k.startswith("rnn.")}, strict=True)
    head = torch.nn.Linear(16, V)
    head.load_state_dict({"weight": w["head.weight"], "bias": w["head.bias"]}, strict=True)
    emb = None
    if embed:
        emb = torch.nn.Embedding(V, embed)
        emb.load_state_dict({"weight": w["embedding.weight"]}, strict=True)
        head.weight = emb.weight  # tied as PyTorch ties; loads the same
        head.load_state_dict({"weight": w["head.weight"], "bias": w["head.bias"]}, strict=True)

    from rnnkit.train.load_lm import load_lm

    model, vocab, _ = load_lm(run)
    ids = np.array([vocab.encode("the cat sat on a mat")], dtype=np.int64).T  # (T, 1)
    loss, _, _ = model.forward(ids[:-1], ids[1:], need_grad=False)
    x = (
        emb(torch.from_numpy(ids[:-1]))
        if embed
        else torch.nn.functional.one_hot(torch.from_numpy(ids[:-1]), V)
    )
    with torch.no_grad():
        hs, _ = rnn(x.float())
        ref = torch.nn.functional.cross_entropy(
            head(hs).reshape(-1, V), torch.from_numpy(ids[1:]).reshape(-1)
        )
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-5)
    # sampling and evaluation read it on either engine
    a = ok("sample", run, "--greedy", "--prime", "the ", "--length", "20").stdout
    assert ok("sample", run, "--greedy", "--prime", "the ", "--length", "20", "--engine", "torch").stdout == a
    e = [
        json.loads(ok("eval", run, text, "--json", *eng).stdout)["loss_nats"]
        for eng in ([], ["--engine", "torch"])
    ]
    np.testing.assert_allclose(e[0], e[1], rtol=1e-5)
