"""Issue 4, item 4: non-finite loss or gradients.

- A NaN/Inf in the loss or gradients is caught before the update: weights and optimizer
  buffers are left exactly as they were.
- ``--nonfinite skip`` (default) skips that step, halves the learning rate and goes on.
- ``--nonfinite stop`` stops with a clear message and exit status 1, and the last good
  checkpoint is neither replaced nor touched.
- Faults are injected with ``--fault-nan-step``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import TINY, last_step, rnnkit, snapshot, write_text

from rnnkit.data.corpus import find_files, prepare
from rnnkit.errors import TrainingFailed
from rnnkit.train.lm_trainer import LMTrainer, TrainConfig
from rnnkit.train.nonfinite import MAX_SKIPS

ARGS = TINY + ["--save-every", "10", "--eval-every", "100", "--val-chars", "300", "--seed", "3"]


@pytest.fixture
def text(tmp_path):
    return write_text(tmp_path / "t.txt", 1500, seed=4)


def _trainer(tmp_path, text, **kw):
    cfg = TrainConfig(files=[str(text)], hidden=16, layers=1, batch=4, seq_len=16, progress=False, **kw)
    data = prepare(find_files(cfg.files), tmp_path / "data", log=lambda *a: None)
    return LMTrainer(cfg, tmp_path, data, log=lambda *a: None)


def _opt_state(tr):
    return {k: np.array(v, copy=True) for k, v in tr.opt.state_dict().items()}


@pytest.mark.parametrize("where", ["gradient", "loss"])
def test_nonfinite_is_caught_before_the_update(tmp_path, text, monkeypatch, where):
    tr = _trainer(tmp_path, text, fault_nan_step=2 if where == "gradient" else -1)
    tr.train_step()
    tr.train_step()
    if where == "loss":
        real = tr.model.forward
        monkeypatch.setattr(tr.model, "forward", lambda *a, **k: (float("inf"),) + tuple(real(*a, **k)[1:]))
    w, opt = tr.model.flat.data.copy(), _opt_state(tr)
    r = tr.train_step()  # step 2: the poisoned one
    assert not r["finite"]
    assert tr.model.flat.data.tobytes() == w.tobytes()  # no update was applied
    after = _opt_state(tr)
    assert all(np.array_equal(after[k], opt[k], equal_nan=True) for k in opt)
    assert np.all(np.isfinite(tr.model.flat.data))
    monkeypatch.undo()
    r = tr.train_step()  # and the next step is normal
    assert r["finite"] and not np.array_equal(tr.model.flat.data, w)


def test_skip_policy_halves_the_lr_and_continues(tmp_path, text):
    run = tmp_path / "run"
    p = rnnkit("train", text, "--out", run, *ARGS, "--max-steps", "30", "--fault-nan-step", "15")
    assert p.returncode == 0, p.stderr
    assert "step 15: non-finite loss or gradient; step skipped, learning rate halved (now x0.5)" in p.stderr
    state = json.loads((run / "last" / "state.json").read_text())
    assert state["step"] == 30 and state["lr_scale"] == 0.5
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if '"train"' in l]
    assert rows[-1]["step"] == 30 and all(np.isfinite(r["loss"]) for r in rows)
    lrs = {r["step"]: r["lr"] for r in rows}
    ref = rnnkit("train", text, "--out", tmp_path / "ref", *ARGS, "--max-steps", "30")
    assert ref.returncode == 0, ref.stderr
    ref_lrs = {
        json.loads(l)["step"]: json.loads(l)["lr"]
        for l in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()
        if '"train"' in l
    }
    assert lrs[10] == ref_lrs[10] and lrs[20] == pytest.approx(ref_lrs[20] * 0.5)


def test_stop_policy_exits_1_and_keeps_the_good_checkpoint(tmp_path, text):
    run = tmp_path / "run"
    assert rnnkit("train", text, "--out", run, *ARGS, "--max-steps", "20").returncode == 0
    before = snapshot(run / "ckpt")
    p = rnnkit("train", "--resume", run, "--max-steps", "40", "--nonfinite", "stop", "--fault-nan-step", "25")
    assert p.returncode == 1
    err = [l for l in p.stderr.splitlines() if "error" in l]
    assert (
        len(err) == 1 and "non-finite loss or gradient at step 25" in err[0] and "--nonfinite stop" in err[0]
    )
    assert "Traceback" not in p.stderr
    assert last_step(run) == 20 and snapshot(run / "ckpt") == before


def test_repeated_nonfinite_steps_stop_even_under_skip(tmp_path, text, monkeypatch, capsys):
    """A model that keeps producing NaN is not skipped forever: after MAX_SKIPS in a row it
    stops with exit status 1, having applied none of those updates."""
    from rnnkit.train.metrics_log import MetricsLog
    from rnnkit.train.trainer import run_loop

    tr = _trainer(tmp_path, text, max_steps=100)
    real = tr.model.forward
    monkeypatch.setattr(tr.model, "forward", lambda *a, **k: (float("nan"),) + tuple(real(*a, **k)[1:]))
    w = tr.model.flat.data.copy()
    with pytest.raises(TrainingFailed) as e:
        run_loop(tr, MetricsLog(tmp_path / "m.jsonl", enabled=False), log=lambda *a: None)
    assert e.value.exit_status == 1 and f"{MAX_SKIPS + 1} steps in a row" in str(e.value)
    assert capsys.readouterr().err.count("step skipped, learning rate halved") == MAX_SKIPS
    assert tr.step == MAX_SKIPS + 1 and tr.model.flat.data.tobytes() == w.tobytes()
    assert tr.lr_scale == 0.5**MAX_SKIPS
