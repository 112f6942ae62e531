"""The forms' runs stopped before their first step, as the LM's are (``trainer.set_up_and_train``,
``trainer.recorded_config``): a signal while the data is read ends the run in one line, and a
run killed before its first checkpoint starts over from step 0 on ``--resume``, with the same
result as a run never stopped."""

from __future__ import annotations

import os
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
    _signal_instead_of(monkeypatch, "split_data", signal.SIGINT)
    clf = rk.Classifier(hidden=8)
    with pytest.raises(KeyboardInterrupt, match="before its first step"):
        clf.fit(["ab", "vw"] * 10, ["A", "B"] * 10, out=tmp_path / "run", max_steps=3, verbose=False)
    assert clf.model is None


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
