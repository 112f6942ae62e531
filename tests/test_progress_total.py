"""With ``--minutes``, the progress bar's total is the step the time budget will end the run
at (``rnnkit.train.progress.expected_last_step``), not ``--max-steps``: before, a 15-minute run with the
default 2000 steps could end with the bar at 5% and an ETA of hours."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.train.progress import TrainingProgress, expected_last_step

ROOT = Path(__file__).resolve().parents[1]

INF = float("inf")


def test_without_a_time_budget_the_total_is_max_steps():
    assert expected_last_step(2000, 10, 5.0, INF, 10, 5.0) == 2000


def test_before_any_step_the_total_is_max_steps():
    assert expected_last_step(2000, 0, 0.0, 60.0, 0, 0.0) == 2000


def test_the_budget_is_extrapolated_at_the_pace_so_far():
    # 100 steps in 10 s, 50 s of a 60 s budget left: about 500 more steps
    assert expected_last_step(2000, 100, 10.0, 60.0, 100, 10.0) == 600


def test_max_steps_caps_the_estimate():
    assert expected_last_step(300, 100, 10.0, 60.0, 100, 10.0) == 300


def test_a_resumed_run_uses_this_sessions_pace_and_its_total_elapsed_time():
    # resumed at step 1000 with 50 s already used; this session ran 20 steps in 4 s
    assert expected_last_step(5000, 1020, 54.0, 60.0, 20, 4.0) == 1020 + 30


def test_an_exhausted_budget_ends_at_the_current_step():
    assert expected_last_step(2000, 700, 61.0, 60.0, 700, 61.0) == 700  # the bar reads 700/700


def test_training_progress_smooths_the_loss_and_follows_the_budget():
    """Both trainers' bar: EMA of the finite steps' loss, total re-estimated, time left shown."""
    p = TrainingProgress(max_steps=1000, minutes=1, step=0, elapsed_s=0.0, show=True, bpc=True)
    p.advance(1, 1.0, 2.0, lr="1e-3")
    p.advance(2, 2.0, None)  # a skipped step leaves the average alone
    p.advance(3, 3.0, 4.0, lr="1e-3")
    assert p.ema == pytest.approx(0.95 * 2.0 + 0.05 * 4.0)
    assert p.bar.total == 60  # 3 steps in 3 s, 57 s left
    assert "time_left=0.9min" in p.bar.postfix and "bpc=" in p.bar.postfix and "lr=1e-3" in p.bar.postfix
    assert not p.finished(3, 59.9) and p.finished(3, 60.0) and p.finished(1000, 1.0)
    p.close()
    q = TrainingProgress(max_steps=10, minutes=0, step=4, elapsed_s=100.0, show=True)  # resumed, no budget
    q.advance(5, 101.0, 1.0)
    assert q.bar.total == 10 and "time_left" not in q.bar.postfix and "bpc" not in q.bar.postfix
    assert not q.finished(5, 1e9) and q.elapsed() >= 100.0
    q.close()


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "rnnkit", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize("verb", ["lm", "classify"])
def test_minutes_with_no_progress_runs(tmp_path, verb):
    """--minutes with --no-progress: the disabled bar is still given its total (this crashed once)."""
    if verb == "lm":
        data = tmp_path / "t.txt"
        data.write_text("hello world, hello rnn. " * 200, encoding="utf-8")
        args = ["train", data, "--hidden", 16, "--seq-len", 16, "--batch", 4]
    else:
        data = tmp_path / "d.tsv"
        data.write_text(
            "".join(f"{w}\t{l}\n" for w, l in [("abc", "A"), ("xyz", "B")] * 10), encoding="utf-8"
        )
        args = ["classify", "train", data, "--hidden", 8, "--batch", 4]
    r = _cli(*args, "--out", tmp_path / "run", "--max-steps", 3, "--minutes", 1, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "run").is_dir()
