"""The forms' runs stopped before their first step, as the LM's are (``trainer.set_up_and_train``,
``trainer.recorded_config``): a signal while the data is read ends the run in one line, and a
run killed before its first checkpoint starts over from step 0 on ``--resume``, with the same
result as a run never stopped."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest
from helpers import assert_bit_identical, checkpoint_steps, kill9, rnnkit, start, wait_for

import rnnkit as rk
from rnnkit.train import task_trainer

ARGS = ["--hidden", "12", "--batch", "8", "--no-progress", "--seed", "3"]


def _tsv(path, n=60):
    rows = [("abcab"[: 2 + i % 4], "A") if i % 2 else ("vwxyz"[: 2 + i % 4], "B") for i in range(n)]
    path.write_text("".join(f"{t}\t{label}\n" for t, label in rows), encoding="utf-8")
    return path


def _signal_instead_of(monkeypatch, name: str, sig: int) -> None:
    def interrupted(*a, **k):
        os.kill(os.getpid(), sig)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("the signal did not stop the set-up")

    monkeypatch.setattr(task_trainer, name, interrupted)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_a_signal_while_a_form_reads_its_data_ends_in_one_line(tmp_path, monkeypatch, sig, code):
    cfg = task_trainer.TaskTrainConfig(verb="classify", data=str(_tsv(tmp_path / "d.tsv")), max_steps=5)
    _signal_instead_of(monkeypatch, "split_data", sig)
    lines = []
    run = tmp_path / "run"
    assert task_trainer.train(cfg, run, log=lines.append) == code
    assert lines[-1] == (
        "stopped by signal while reading the data, before anything was written; run the command again"
    )
    assert not run.exists()


def test_a_fit_stopped_while_it_reads_its_data_raises_keyboard_interrupt(tmp_path, monkeypatch):
    """In Python the signal keeps its own action during the set-up (``stop_lines=False``): Ctrl-C
    is a ``KeyboardInterrupt``, the start is undone, and a run ``force`` was replacing stays."""
    run = tmp_path / "run"
    rk.Classifier(hidden=8).fit(["ab", "vw"] * 10, ["A", "B"] * 10, out=run, max_steps=2, verbose=False)
    before = sorted(p.name for p in run.iterdir())
    _signal_instead_of(monkeypatch, "split_data", signal.SIGINT)
    clf = rk.Classifier(hidden=8)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(["pq", "xy"] * 10, ["P", "Q"] * 10, out=run, force=True, max_steps=2, verbose=False)
    assert clf.model is None
    assert sorted(p.name for p in run.iterdir()) == before
    assert rk.load(run).predict(["ab"])[0] in ("A", "B")  # the old run, whole


def test_a_signal_while_a_resume_reads_its_data_says_how_to_go_on(tmp_path, monkeypatch):
    run = tmp_path / "run"
    data = _tsv(tmp_path / "d.tsv")
    cfg = task_trainer.TaskTrainConfig(verb="classify", data=str(data), max_steps=2, progress=False)
    assert task_trainer.train(cfg, run, log=lambda line: None) == 0
    _signal_instead_of(monkeypatch, "split_data", signal.SIGTERM)
    lines = []
    given = {"verb": "classify", "max_steps": 4}
    assert task_trainer.train(None, run / "last", resume=True, given=given, log=lines.append) == 0
    go_on = f"Continue with: rnnkit classify train --resume {run / 'last'}"
    assert lines[-1] == f"stopped by signal before the first step. {go_on}"


def test_a_restart_checks_the_resume_flags_before_it_says_so(tmp_path):
    """A run with a marker and no checkpoint, resumed with a model flag that differs: one refusal,
    and no 'starting it over' line before it."""
    data = _tsv(tmp_path / "d.tsv")
    run = tmp_path / "run"
    assert rnnkit("classify", "train", data, "--out", run, *ARGS, "--max-steps", "2").returncode == 0
    for name in ("ckpt", "last", "best"):  # as if killed before its first checkpoint
        p = run / name
        p.unlink() if p.is_symlink() else shutil.rmtree(p)
    r = rnnkit("classify", "train", "--resume", run, "--hidden", "9")
    assert r.returncode == 2 and "hidden" in r.stderr and "starting it over" not in r.stdout


@pytest.mark.slow
def test_a_form_run_killed_before_its_first_checkpoint_starts_over(tmp_path):
    data = _tsv(tmp_path / "d.tsv", n=400)
    steps = ["--max-steps", "400", "--eval-every", "400", "--save-every", "400"]  # one checkpoint, at the end
    base = tmp_path / "base"
    assert rnnkit("classify", "train", data, "--out", base, *ARGS, *steps).returncode == 0
    run = tmp_path / "run"
    p = start("classify", "train", data, "--out", run, *ARGS, *steps)
    assert wait_for(lambda: (run / "rnnkit-run.json").is_file(), p)
    if not kill9(p) or checkpoint_steps(run):
        pytest.skip("the run reached its checkpoint before the kill")
    r = rnnkit("classify", "train", "--resume", run)
    assert r.returncode == 0, r.stderr
    assert "holds no checkpoint yet (stopped before the first save): starting it over from step 0" in r.stdout
    assert_bit_identical(run / "last", base / "last")


def test_a_python_run_stopped_before_its_first_checkpoint_is_refused_in_one_line(tmp_path):
    """A run made from Python keeps its data in RUN/data/, which a new start would replace: its
    restart is refused, saying what to do, and nothing is touched."""
    from helpers import snapshot

    run = tmp_path / "run"
    rk.Classifier(hidden=8).fit(["ab", "vw"] * 10, ["A", "B"] * 10, out=run, max_steps=2, verbose=False)
    for name in ("ckpt", "last", "best"):  # as if killed before its first checkpoint
        p = run / name
        p.unlink() if p.is_symlink() else shutil.rmtree(p)
    before = snapshot(run)
    r = rnnkit("classify", "train", "--resume", run)
    assert r.returncode == 2 and "its data is the copy kept inside it" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and snapshot(run) == before
