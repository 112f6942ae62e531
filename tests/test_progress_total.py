"""The progress display's totals. With ``--minutes`` the bar on a terminal counts the time
budget, a total that never changes (issue 18: a total in steps, re-estimated every step,
jumped 0/100000, 1/181, 2/127, ...), and the step is text; the time left comes from the step
the run will end at (``rnnkit.train.progress.expected_last_step``), not ``--max-steps``:
before, a 15-minute run with the default 2000 steps could end with the bar at 5% and an ETA
of hours. Plain lines where stderr is not a terminal: ``test_progress_logs.py``."""

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


def test_training_progress_smooths_the_loss_and_follows_the_budget(capsys):
    """Both trainers' bar on a terminal: EMA of the finite steps' loss; with --minutes the bar
    is the time used of the budget (total fixed), the step and the time left are text.
    (capsys: the bar draws into a captured stderr, so the line is not cut to a terminal's width.)"""
    p = TrainingProgress(max_steps=1000, minutes=1, step=0, elapsed_s=0.0, show=True, bpc=True, terminal=True)
    p.advance(1, 1.0, 2.0, lr="1e-3")
    assert p.bar.total == 1.0
    p.advance(2, 2.0, None)  # a skipped step leaves the average alone
    p.advance(3, 3.0, 4.0, lr="1e-3")
    assert p.ema == pytest.approx(0.95 * 2.0 + 0.05 * 4.0)
    assert p.bar.total == 1.0 and p.bar.n == pytest.approx(3 / 60)  # 3 s of a 60 s budget
    shown = str(p.bar)  # the line the terminal shows
    assert shown.startswith("  5%|") and "| time=00:03/01:00, step=3, loss=2.100, bpc=3.030, lr=1e-3" in shown
    assert shown.endswith(", time_left=00:57")  # 3 steps in 3 s, 57 s left
    assert not p.finished(3, 59.9) and p.finished(3, 60.0) and p.finished(1000, 1.0)
    p.close()
    q = TrainingProgress(max_steps=10, minutes=0, step=4, elapsed_s=100.0, show=True, terminal=True)
    q.advance(5, 101.0, 1.0)  # resumed, no budget: steps as the bar, tqdm's own ETA
    assert q.bar.total == 10 and q.bar.n == 5 and "time_left" not in q.bar.postfix
    assert "bpc" not in q.bar.postfix and "5/10 [" in str(q.bar)
    assert not q.finished(5, 1e9) and q.elapsed() >= 100.0
    q.close()


def test_the_budget_bar_ends_full_when_max_steps_comes_first(capsys):
    """--minutes 60 --max-steps 10: at step 5 after 10 s the run is half done, by steps."""
    p = TrainingProgress(max_steps=10, minutes=60, step=0, elapsed_s=0.0, show=True, terminal=True)
    p.advance(5, 10.0, 1.0)
    assert p.bar.n == pytest.approx(0.5) and str(p.bar).endswith("step=5, loss=1.000, time_left=00:10")
    p.advance(10, 20.0, 1.0)
    assert p.bar.n == pytest.approx(1.0) and p.finished(10, 20.0)
    p.close()


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
