"""rnnkit.train.heap: glibc malloc keeps a training step's freed memory, so the next step does not
fault it in again (docs/heap.md). Counted in page faults, not timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, resource, sys
import numpy as np
from rnnkit import CharRNN, ModelConfig
from rnnkit.train.heap import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
m = CharRNN(ModelConfig(vocab_size=65, hidden=128, layers=2), seed=0)
ids = np.random.default_rng(0).integers(0, 65, (65, 32))
def step():
    loss, _, cache = m.forward(ids[:-1], ids[1:])
    m.backward(cache)
for _ in range(3):
    step()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 10
print(json.dumps({"kept": kept, "faults_per_step": faults}))
"""


def _probe(mode: str, **env) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    e.update(env, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=e, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_memory_is_not_faulted_in_again_each_step():
    base, kept = _probe("base"), _probe("keep")
    if base["faults_per_step"] < 50:
        pytest.skip(f"this allocator already keeps freed memory ({base['faults_per_step']} faults per step)")
    assert kept["kept"] is True
    assert kept["faults_per_step"] < base["faults_per_step"] / 5, (base, kept)


def test_the_user_s_own_malloc_settings_win():
    assert _probe("keep", MALLOC_TRIM_THRESHOLD_="131072")["kept"] is False


def test_the_trainers_keep_freed_memory_once_training_starts(tmp_path, monkeypatch):
    """Called by the training loop, after the data is read (not at start: see heap.py)."""
    from helpers import write_text

    from rnnkit.train import lm_trainer as train_mod
    from rnnkit.train import trainer

    calls = []
    monkeypatch.setattr(trainer, "keep_freed_memory", lambda: calls.append(train_mod.ckpt.is_run_dir(run)))
    run = tmp_path / "run"
    cfg = train_mod.TrainConfig(
        files=[str(write_text(tmp_path / "t.txt", n_words=600))],
        hidden=8,
        layers=1,
        batch=2,
        seq_len=8,
        max_steps=2,
        eval_every=2,
        val_chars=100,
        progress=False,
    )
    assert train_mod.train(cfg, run, log=lambda *a: None) == 0
    assert calls == [True]  # once, with the run (and its data) in place


def test_the_task_trainer_keeps_freed_memory_once_training_starts(tmp_path, monkeypatch):
    from rnnkit.train import task_config, task_trainer, trainer

    calls = []
    monkeypatch.setattr(trainer, "keep_freed_memory", lambda: calls.append(1))
    data = tmp_path / "d.tsv"
    data.write_text("".join(f"{w}\t{w[0]}\n" for w in ["abc", "bcd", "cde", "dab"] * 5), encoding="utf-8")
    cfg = task_config.TaskTrainConfig(
        verb="classify", data=str(data), hidden=8, batch=4, max_steps=2, eval_every=2, progress=False
    )
    assert task_trainer.train(cfg, tmp_path / "run", log=lambda *a: None) == 0
    assert calls == [1]
