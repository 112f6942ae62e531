"""Issue 4, item 3: Ctrl-C (SIGINT) and SIGTERM save a checkpoint, print where, and exit
130 and 0 respectively. Continuing from that checkpoint is exact."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from helpers import MAX_STEPS, RUN_ARGS, assert_bit_identical, baseline, last_step, rnnkit, start, wait_for

from rnnkit.train import checkpoint as ckpt

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return baseline(tmp_path_factory)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_signal_saves_prints_the_path_and_exits(tmp_path, base, sig, code):
    text, base_run, _ = base
    run = tmp_path / "run"
    p = start("train", text, "--out", run, *RUN_ARGS)
    assert wait_for(lambda: (last_step(run) or 0) >= 40, p)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert "Traceback" not in err
    m = re.search(r"stopped by signal at step (\d+); checkpoint saved to (\S+)\.", out)
    assert m, out
    step, path = int(m.group(1)), Path(m.group(2))
    assert 40 <= step < MAX_STEPS
    c = ckpt.load(path)  # the printed path loads
    assert c.state["step"] == step and last_step(run) == step
    assert f"--resume {run}" in out
    r = rnnkit("train", "--resume", run, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert_bit_identical(run / "last", base_run / "last")


@pytest.mark.parametrize("where", ["plan_data", "write_prepared"])
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_a_signal_while_preparing_the_data_ends_in_one_line(tmp_path, monkeypatch, where, sig, code):
    """Before the first step there is no step boundary to stop at: the signal ends the run at
    once (SIGTERM used to kill it silently), says how to go on, and going on works."""
    import os
    import time

    from helpers import write_text

    from rnnkit.train import lm_trainer as train_mod

    text = write_text(tmp_path / "t.txt", n_words=600)
    cfg = train_mod.TrainConfig(
        files=[str(text)],
        hidden=16,
        layers=1,
        batch=4,
        seq_len=16,
        max_steps=3,
        eval_every=3,
        val_chars=200,
        progress=False,
    )
    real = getattr(train_mod, where)

    def interrupted(*a, **k):
        os.kill(os.getpid(), sig)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("the signal did not stop the preparation")

    monkeypatch.setattr(train_mod, where, interrupted)
    lines = []
    run = tmp_path / "run"
    assert train_mod.train(cfg, run, log=lines.append) == code
    if where == "plan_data":  # nothing written yet
        assert not run.exists() and "run the command again" in lines[-1]
        return
    assert lines[-1].endswith(f"Continue with: rnnkit train --resume {run}")
    monkeypatch.setattr(train_mod, where, real)
    assert train_mod.train(None, run, resume=run, log=lines.append) == 0
    assert last_step(run) == 3


def test_the_stop_line_names_the_last_good_checkpoint_when_the_save_was_refused():
    """A save refused at the stop (non-finite weights) used to print 'checkpoint saved to None'."""
    from types import SimpleNamespace

    from rnnkit.train.trainer import stopped_by_signal

    tr = SimpleNamespace(step=7, out=Path("runs/x"))
    line = stopped_by_signal(tr, None, "rnnkit train --resume runs/x")
    assert line == (
        "stopped by signal at step 7; the last good checkpoint is runs/x/last. "
        "Continue with: rnnkit train --resume runs/x"
    )
    assert "checkpoint saved to runs/x/ckpt/step-7." in stopped_by_signal(tr, Path("runs/x/ckpt/step-7"), "c")


def test_a_signal_before_force_touches_the_old_run_says_run_the_command_again(tmp_path, monkeypatch):
    """--force over a run, stopped while the new input is read: nothing of the new run exists, so
    the line says to run the command again, not to resume (which would go on with the old run)."""
    import os
    import time

    from helpers import snapshot, write_text

    from rnnkit.train import lm_trainer as train_mod

    text = write_text(tmp_path / "t.txt", n_words=600)
    cfg = train_mod.TrainConfig(
        files=[str(text)], hidden=16, layers=1, batch=4, seq_len=16, max_steps=3, eval_every=3, progress=False
    )
    run = tmp_path / "run"
    assert train_mod.train(cfg, run, log=lambda line: None) == 0
    before = snapshot(run)

    def interrupted(*a, **k):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("the signal did not stop the preparation")

    monkeypatch.setattr(train_mod, "plan_data", interrupted)
    lines = []
    assert train_mod.train(cfg, run, force=True, log=lines.append) == 0
    assert lines[-1].endswith("run the command again") and "--resume" not in lines[-1]
    assert snapshot(run) == before
