"""The model size picked for a ``--minutes`` budget (``rnnkit/train/auto_size.py``)."""

from __future__ import annotations

import json

import pytest
from helpers import rnnkit as cli

from rnnkit.train import auto_size
from rnnkit.train.auto_size import CHARS_PER_PARAM, measure_step, pick_size

# Step times (32 x 64 chars) on this project's 2-core machine, native kernels: the 15-minute
# Shakespeare run (V = 65) did 15,505 steps of 2 x 512 (issue 19), the quickstart (V = 222)
# 2,000 steps of 2 x 256 in 97 s; the others scaled by their FLOPs.
SHAKESPEARE = {64: 0.003, 128: 0.006, 256: 0.018, 384: 0.034, 512: 0.058, 768: 0.13, 1024: 0.24}
STDLIB = {64: 0.008, 128: 0.017, 256: 0.0485, 384: 0.085, 512: 0.13, 768: 0.27, 1024: 0.48}


def timed(seconds: dict, calls: list | None = None):
    def step_seconds(H, L, E):
        if calls is not None:
            calls.append(H)
        return seconds[H]

    return step_seconds


def test_tiny_shakespeare_in_15_minutes_gets_the_tuned_size():
    calls = []
    c = pick_size(15, 1_003_854, 65, 32, 64, timed(SHAKESPEARE, calls))
    assert (c.hidden, c.layers, c.embed, c.dropout) == (512, 2, 64, 0.1)
    assert (c.optimizer, c.weight_decay) == ("adamw", auto_size.WEIGHT_DECAY)
    assert "adamw weight decay 0.1, weight average 0.999," in c.line(15, 1_003_854)
    assert c.steps >= auto_size.STEPS_FOR_EMA and c.ema == auto_size.EMA
    assert c.chars_per_param >= CHARS_PER_PARAM and c.epochs > auto_size.EPOCHS_FOR_DROPOUT
    assert calls == [64, 128, 256, 384, 512, 768]  # stops at the first size that falls short


def test_the_3_minute_quickstart_keeps_2_x_256_without_dropout():
    c = pick_size(3, 12_100_000, 222, 32, 64, timed(STDLIB))
    assert (c.hidden, c.layers, c.embed, c.dropout) == (256, 2, 0, 0.0)
    assert (c.optimizer, c.weight_decay) == ("adam", 0.0)  # one pass and a bit: no regularisation
    assert "weight decay" not in c.line(3, 12_100_000)
    assert c.steps < auto_size.STEPS_FOR_EMA and c.ema == 0.0 and "average" not in c.line(3, 12_100_000)


def test_a_few_passes_get_dropout_without_weight_decay():
    """Debian's fortunes (2.3 M training characters) in 5 minutes: 4.2 passes, where weight
    decay lost (docs/shakespeare.md)."""
    c = pick_size(5, 2_313_675, 113, 32, 64, timed({**SHAKESPEARE, 384: 0.057}))
    assert auto_size.EPOCHS_FOR_DROPOUT <= c.epochs < auto_size.EPOCHS_FOR_WEIGHT_DECAY
    assert (c.dropout, c.optimizer, c.weight_decay, c.ema) == (auto_size.DROPOUT, "adam", 0.0, 0.0)


def test_a_tiny_budget_gets_the_smallest_size():
    c = pick_size(0.001, 10_000, 30, 32, 64, timed(SHAKESPEARE))
    assert (c.hidden, c.layers) == (64, 1) and c.chars_per_param < CHARS_PER_PARAM


def test_a_step_is_measured_here():
    t = measure_step(32, 1, 0, 20, 4, 8)
    assert 0 < t < 5


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    path = tmp_path_factory.mktemp("auto") / "text.txt"
    path.write_text("the quick brown fox jumps over the lazy dog\n" * 100, encoding="utf-8")
    return path


def _model(run):
    return json.loads((run / "last" / "config.json").read_text())["model"]


def test_train_with_minutes_alone_prints_and_uses_the_picked_size(text, tmp_path):
    p = cli("train", text, "--out", tmp_path / "r", "--minutes", "0.02", "--max-steps", "3", "--no-progress")
    assert p.returncode == 0, p.stderr
    line = [l for l in p.stdout.splitlines() if l.startswith("size: ")]
    assert len(line) == 1 and "picked for 0.02 min" in line[0] and "per parameter" in line[0]
    words = line[0].split()
    layers, hidden = int(words[1]), int(words[3].rstrip(","))
    model = _model(tmp_path / "r")
    assert (model["layers"], model["hidden"]) == (layers, hidden)
    train = json.loads((tmp_path / "r" / "last" / "config.json").read_text())["train"]
    picked_decay = "adamw weight decay" in line[0]  # a text read many times over: regularised
    assert (train["optimizer"], train["weight_decay"] > 0) == (
        ("adamw", True) if picked_decay else ("adam", False)
    )
    assert train["ema"] == (auto_size.EMA if "weight average" in line[0] else 0.0)


def test_a_given_size_or_dropout_is_kept(text, tmp_path):
    p = cli("train", text, "--out", tmp_path / "a", "--minutes", "0.02", "--max-steps", "2", "--hidden", "24")
    assert p.returncode == 0 and "size: " not in p.stdout, p.stderr
    assert _model(tmp_path / "a")["hidden"] == 24
    p = cli(
        "train", text, "--out", tmp_path / "b", "--minutes", "0.02", "--max-steps", "2", "--dropout", "0.3"
    )
    assert p.returncode == 0 and "size: " in p.stdout, p.stderr
    assert _model(tmp_path / "b")["dropout"] == 0.3
    p = cli(
        "train", text, "--out", tmp_path / "d", "--minutes", "0.02", "--max-steps", "2", "--optimizer", "sgd"
    )
    assert p.returncode == 0 and "size: " in p.stdout, p.stderr
    cfg = json.loads((tmp_path / "d" / "last" / "config.json").read_text())["train"]
    assert (cfg["optimizer"], cfg["weight_decay"]) == ("sgd", 0.0)  # a given optimizer is kept as given
    p = cli("train", text, "--out", tmp_path / "e", "--minutes", "0.02", "--max-steps", "2", "--ema", "0.5")
    assert p.returncode == 0 and "size: " in p.stdout, p.stderr
    assert json.loads((tmp_path / "e" / "last" / "config.json").read_text())["train"]["ema"] == 0.5
    p = cli("train", text, "--out", tmp_path / "c", "--max-steps", "2", "--no-progress")
    assert p.returncode == 0 and "size: " not in p.stdout, p.stderr  # no budget: the defaults
    assert (_model(tmp_path / "c")["layers"], _model(tmp_path / "c")["hidden"]) == (2, 256)
