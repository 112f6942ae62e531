"""``--ema D``: the exponential moving average of the weights (``optim/average.py``), its
validation and checkpoints (``train/trainer.py``), for the LM and a form, on both kinds of buffer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import TINY, assert_bit_identical, form_tsv, rnnkit, tensors, write_text

from rnnkit.optim.average import WeightAverage

CONSTANT = ["--schedule", "constant", "--warmup", "0", "--lr", "0.01", "--seed", "5"]


def ok(*args):
    p = rnnkit(*args)
    assert p.returncode == 0, p.stderr
    return p


# ------------------------------------------------------------------------------ the rule
def test_average_follows_the_formula_with_its_warm_up():
    rng = np.random.default_rng(0)
    thetas = [rng.standard_normal(7) for _ in range(40)]
    avg = WeightAverage(0.8)
    want = None
    for n, theta in enumerate(thetas, start=1):
        avg.update(theta)
        d = min(0.8, (1 + n) / (10 + n))
        want = theta.copy() if n == 1 else d * want + (1 - d) * theta
        np.testing.assert_allclose(avg.average, want, rtol=1e-12)
    assert avg.updates == 40


def test_swap_exchanges_in_place_and_twice_restores():
    w = np.arange(4, dtype=np.float32)
    avg = WeightAverage(0.5)
    avg.update(w + 10)
    buffer = w  # the model's flat buffer: swapped in place, never rebound
    avg.swap(w)
    assert buffer is w and np.array_equal(w, np.arange(4) + 10) and np.array_equal(avg.average, np.arange(4))
    avg.swap(w)
    assert np.array_equal(w, np.arange(4)) and np.array_equal(avg.average, np.arange(4) + 10)


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, 1.5])
def test_decay_outside_the_open_unit_interval_is_refused(decay):
    with pytest.raises(ValueError, match="`ema` must lie in"):
        WeightAverage(decay)


def test_torch_tensor_buffers_average_alike():
    """The torch engine's device-resident weights are a torch tensor: the same numbers."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    thetas = [rng.standard_normal(5).astype(np.float32) for _ in range(15)]
    a, b = WeightAverage(0.9), WeightAverage(0.9)
    for theta in thetas:
        a.update(theta)
        b.update(torch.from_numpy(theta.copy()))
    assert isinstance(b.average, torch.Tensor)
    np.testing.assert_allclose(b.average.numpy(), a.average, rtol=1e-6)
    t = torch.zeros(5)
    b.swap(t)
    np.testing.assert_allclose(t.numpy(), a.average, rtol=1e-6)
    assert float(b.average.abs().max()) == 0.0


# --------------------------------------------------------------------------- in a run
@pytest.fixture(scope="module")
def text(tmp_path_factory):
    root = tmp_path_factory.mktemp("ema")
    return write_text(root / "train.txt", n_words=1500, seed=3), write_text(
        root / "val.txt", n_words=200, seed=4
    )


def test_lm_validates_and_saves_the_average(text, tmp_path):
    train, val = text
    run = tmp_path / "run"
    flags = [*TINY, *CONSTANT, "--max-steps", "30", "--eval-every", "10", "--ema", "0.9"]
    ok("train", train, "--val", val, "--out", run, *flags)
    t = tensors(run / "last")
    model = {k[len("model/") :]: v for k, v in t.items() if k.startswith("model/")}
    raw = {
        k[len("trainer/ema.training.") :]: v for k, v in t.items() if k.startswith("trainer/ema.training.")
    }
    assert sorted(raw) == sorted(model) and int(t["trainer/ema.updates"][0]) == 30
    assert any(not np.array_equal(model[k], raw[k]) for k in model)  # the average is not θ
    # what was logged as the last validation is the saved model's score on that text
    rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in rows if r["kind"] == "val"][-1]
    scored = json.loads(ok("eval", run / "last", val, "--json").stdout)
    assert logged["step"] == 30 and logged["loss"] == pytest.approx(scored["loss_nats"], abs=1e-9)


def test_lm_without_ema_saves_no_average(text, tmp_path):
    train, _ = text
    run = tmp_path / "run"
    ok(
        "train",
        train,
        "--out",
        run,
        *TINY,
        *CONSTANT,
        "--max-steps",
        "4",
        "--eval-every",
        "4",
        "--val-chars",
        "300",
    )
    assert not [k for k in tensors(run / "last") if "ema." in k]


def test_lm_resume_with_ema_is_bit_identical(text, tmp_path):
    train, _ = text
    common = [
        *TINY,
        *CONSTANT,
        "--ema",
        "0.95",
        "--dropout",
        "0.1",
        "--eval-every",
        "10",
        "--val-chars",
        "300",
    ]
    ok("train", train, "--out", tmp_path / "ref", *common, "--max-steps", "40")
    run = tmp_path / "run"
    ok("train", train, "--out", run, *common, "--max-steps", "20")
    ok("train", "--resume", run, "--max-steps", "40", "--no-progress")
    assert_bit_identical(run / "last", tmp_path / "ref" / "last")


def test_a_form_trains_with_ema_and_resumes_exactly(tmp_path):
    data = form_tsv(tmp_path / "d.tsv", "classify", n=40)
    common = [
        "--hidden",
        "8",
        "--batch",
        "8",
        "--no-progress",
        "--eval-every",
        "5",
        *CONSTANT,
        "--ema",
        "0.9",
    ]
    ok("classify", "train", data, "--out", tmp_path / "ref", *common, "--max-steps", "20")
    run = tmp_path / "run"
    ok("classify", "train", data, "--out", run, *common, "--max-steps", "10")
    ok("classify", "train", "--resume", run, "--max-steps", "20", "--no-progress")
    assert_bit_identical(run / "last", tmp_path / "ref" / "last")
    assert int(tensors(run / "last")["trainer/ema.updates"][0]) == 20
