"""Issue 4, item 1: exact resume.

A run killed with SIGKILL at any moment — mid-step, mid-save, between checkpoints, even
before its first checkpoint — and then continued with ``--resume`` ends with weights,
optimizer buffers and carried state bit-identical to an uninterrupted run with the same
seed and steps. The resumed run replays the same data in the same order with the same RNG.
"""

from __future__ import annotations

import json
import random

import pytest
from helpers import (
    MAX_STEPS,
    RUN_ARGS,
    assert_bit_identical,
    baseline,
    checkpoint_steps,
    kill9,
    last_step,
    rnnkit,
    start,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return baseline(tmp_path_factory)


def _resume_and_compare(run, base_run, *extra):
    p = rnnkit("train", "--resume", run, "--no-progress", *extra)
    assert p.returncode == 0, p.stderr
    assert last_step(run) == MAX_STEPS
    assert_bit_identical(run / "last", base_run / "last")
    s1 = json.loads((run / "last" / "state.json").read_text())
    s0 = json.loads((base_run / "last" / "state.json").read_text())
    for k in ("step", "epoch", "chunk", "rng", "lr_scale", "best_val"):
        assert s1[k] == s0[k], k
    return p


def _train_losses(run):
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["kind"], r["step"], r["loss"]) for r in rows]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_sigkill_at_a_random_moment_then_resume_is_bit_identical(tmp_path, base, seed):
    """The moment is drawn from a seeded RNG: after a random number k of checkpoints (k = 0:
    right after the run directory appears, before any), plus a random 0-40 ms, so the kill
    lands mid-step, mid-save, mid-validation or before the first checkpoint."""
    text, base_run, _ = base
    run = tmp_path / "run"
    r = random.Random(seed)
    k, delay = r.randrange(0, MAX_STEPS // 10 - 1), r.uniform(0.0, 0.04)
    for _ in range(4):  # should the run finish first, kill earlier
        p = start("train", text, "--out", run, *RUN_ARGS, "--force")
        # k=k binds this attempt's k (wait_for is done with the lambda before k halves)
        assert wait_for(
            lambda k=k: (run / "rnnkit-run.json").is_file() and (last_step(run) or 0) >= 10 * k, p
        )
        assert not wait_for(lambda: False, p, timeout=delay)  # sleep `delay`, or end early
        if kill9(p) and (last_step(run) or 0) < MAX_STEPS:
            break
        k, delay = k // 2, delay / 2
    else:
        pytest.fail("the run always finished before the kill")
    _resume_and_compare(run, base_run)
    assert _train_losses(run) == _train_losses(base_run)  # same data, same order, same RNG


def test_kill_between_checkpoints_replays_from_the_last_one(tmp_path, base):
    text, base_run, _ = base
    run = tmp_path / "run"
    p = start("train", text, "--out", run, *RUN_ARGS)
    assert wait_for(lambda: (last_step(run) or 0) >= 60, p)
    assert kill9(p)
    at = last_step(run)
    assert 60 <= at < MAX_STEPS
    out = _resume_and_compare(run, base_run)
    assert f"at step {at} " in out.stdout  # restarted from the last checkpoint
    assert _train_losses(run) == _train_losses(base_run)


def test_kill_before_the_first_checkpoint_starts_over(tmp_path, base):
    text, base_run, _ = base
    run = tmp_path / "run"
    # Checkpoints only every 100 steps here (saving does not change the numbers).
    p = start("train", text, "--out", run, *RUN_ARGS, "--save-every", "100", "--eval-every", "100")
    assert wait_for(lambda: (run / "rnnkit-run.json").is_file(), p)
    assert kill9(p)
    assert checkpoint_steps(run) == []
    out = _resume_and_compare(run, base_run)
    assert "starting it over from step 0" in out.stdout


def test_resume_twice_in_a_row(tmp_path, base):
    """Two kills in one run, the second during the resumed part."""
    text, base_run, _ = base
    run = tmp_path / "run"
    p = start("train", text, "--out", run, *RUN_ARGS)
    assert wait_for(lambda: (last_step(run) or 0) >= 30, p)
    assert kill9(p)
    p = start("train", "--resume", run, "--no-progress")
    assert wait_for(lambda: (last_step(run) or 0) >= 120, p)
    assert kill9(p)
    _resume_and_compare(run, base_run)


def test_rotated_epochs_resume_bit_identically(tmp_path, base):
    """--rotate-epochs: the offset of each epoch comes from (seed, epoch), so a run killed
    after its first epoch resumes onto the same data; and the rotation changes the run."""
    text, base_run, _ = base
    args = [*RUN_ARGS, "--rotate-epochs"]
    full = tmp_path / "full"
    assert rnnkit("train", text, "--out", full, *args).returncode == 0
    rows = [json.loads(l) for l in (full / "metrics.jsonl").read_text().splitlines()]
    epoch1 = min(r["step"] for r in rows if r.get("epoch", 0) >= 1)  # the first step read rotated
    assert epoch1 < MAX_STEPS - 20
    assert _train_losses(full) != _train_losses(base_run)  # other chunks from epoch 1 on
    run = tmp_path / "run"
    p = start("train", text, "--out", run, *args)
    assert wait_for(lambda: (last_step(run) or 0) >= epoch1 + 10, p)  # killed inside epoch 1
    assert kill9(p)
    _resume_and_compare(run, full)


def test_resume_refuses_changed_model_flags(tmp_path, base):
    text, base_run, _ = base
    run = tmp_path / "run"
    assert rnnkit("train", text, "--out", run, *RUN_ARGS, "--max-steps", "20").returncode == 0
    p = rnnkit("train", "--resume", run, "--hidden", "32")
    assert p.returncode == 2 and "--hidden differs" in p.stderr
    assert last_step(run) == 20


# ------------------------------------------------------------------ every task verb
def _task_tsv(path, verb, n=300, seed=0):
    r = random.Random(seed)
    W = ["cat", "dog", "sun", "rain", "good", "bad", "안녕", "🙂", "fine", "awful"]
    lines = []
    for _ in range(n):
        ws = [r.choice(W) for _ in range(r.randint(1, 3))]
        t = " ".join(ws)
        if verb == "classify":
            lines.append(f"{t}\t{'pos' if 'good' in ws else 'neg'}")
        elif verb == "generate":
            lines.append(f"{'A' if len(ws[0]) > 3 else 'B'}\t{ws[0]}")
        elif verb == "seq2seq":
            lines.append(f"{t}\t{t[::-1]}")
        else:
            lines.append(f"{t}\t{''.join('S' if c == ' ' else 'W' for c in t)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


TASK_ARGS = [
    "--hidden",
    "16",
    "--batch",
    "8",
    "--no-progress",
    "--max-steps",
    "60",
    "--eval-every",
    "10",
    "--seed",
    "3",
    "--dropout",
    "0.1",
]


@pytest.mark.parametrize("verb", ["classify", "generate", "seq2seq", "tag"])
def test_every_task_verb_resumes_bit_identically_after_sigkill(tmp_path, verb):
    data = _task_tsv(tmp_path / "data.tsv", verb)
    ref = tmp_path / "ref"
    p = rnnkit(verb, "train", data, "--out", ref, *TASK_ARGS)
    assert p.returncode == 0, p.stderr
    run = tmp_path / "run"
    p = start(verb, "train", data, "--out", run, *TASK_ARGS)
    assert wait_for(lambda: (last_step(run) or 0) >= 20, p)
    assert kill9(p) and (last_step(run) or 0) < 60
    r = rnnkit(verb, "train", "--resume", run, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert last_step(run) == 60
    assert_bit_identical(run / "last", ref / "last")
