"""Issue 4, item 2 (crash-safe saves) and the checkpoint half of items 4 and 5.

- A kill in the middle of a checkpoint write leaves the previous checkpoint loadable; the
  half-written directory is never taken for a good one, and resume is still exact.
- Writes go to a temporary directory, each file fsync'ed, then the directory, then an
  atomic rename; ``last``/``best`` move by an atomic symlink swap.
- A full disk (ENOSPC) leaves the old checkpoint intact and says so in one line.
- Non-finite weights or optimizer buffers are never written.
- Truncated, tampered, incomplete, newer-format, other-task and other-model checkpoints are
  refused with one clear line.
"""

from __future__ import annotations

import builtins
import errno
import json
import os

import numpy as np
import pytest
from helpers import (
    RUN_ARGS,
    TINY,
    assert_bit_identical,
    assert_one_line_error,
    baseline,
    kill9,
    last_step,
    rnnkit,
    snapshot,
    start,
    wait_for,
    write_text,
)

from rnnkit import cli
from rnnkit.train import checkpoint as ckpt
from rnnkit.train import metrics_log


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return baseline(tmp_path_factory)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A finished 20-step run (checkpoints at 10 and 20) to copy and damage."""
    root = tmp_path_factory.mktemp("small")
    text = write_text(root / "t.txt", 1500, seed=2)
    p = rnnkit(
        "train",
        text,
        "--out",
        root / "run",
        *TINY,
        "--max-steps",
        "20",
        "--save-every",
        "10",
        "--eval-every",
        "20",
        "--val-chars",
        "300",
    )
    assert p.returncode == 0, p.stderr
    return text, root / "run"


def _copy_run(src, dst):
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    return dst


def _tmp_dirs(run):
    return [p for p in (run / "ckpt").iterdir() if p.name.startswith(".tmp-")]


# ----------------------------------------------------------------------- kill during a save
@pytest.mark.slow
def test_kill_during_a_checkpoint_write(tmp_path, base):
    text, base_run, _ = base
    run = tmp_path / "run"
    # RNNKIT_FAULT_SAVE_SLEEP pauses after each file of a save: the kill lands inside one.
    p = start("train", text, "--out", run, *RUN_ARGS, extra_env={"RNNKIT_FAULT_SAVE_SLEEP": "0.05"})

    def half():  # the save of step 30 has written at least two files
        return any(len(list(d.iterdir())) >= 2 for d in (run / "ckpt").glob(".tmp-step-00000030-*"))

    assert wait_for(lambda: (run / "ckpt").is_dir() and half(), p)
    assert kill9(p)
    tmp = _tmp_dirs(run)
    assert tmp and not (tmp[0] / "manifest.json").exists()  # really cut in the middle
    assert last_step(run) == 20  # the link still names the old one
    c = ckpt.load(run, which="last")  # ...which loads and verifies
    assert c.state["step"] == 20
    e = rnnkit("eval", tmp[0], text, "--json")  # the half-written dir is refused
    assert_one_line_error(e, "manifest")
    ok = rnnkit("eval", run, text, "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["checkpoint"].endswith("step-00000020")
    # Resuming replays from step 20, clears the leftover, and ends bit-identical.
    r = rnnkit("train", "--resume", run, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert not _tmp_dirs(run)
    assert_bit_identical(run / "last", base_run / "last")


def test_save_writes_fsyncs_then_renames(tmp_path, monkeypatch):
    """Order of operations in ``checkpoint.save``: every file written and fsync'ed, the
    temporary directory fsync'ed, and only then the rename into the final name."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        ckpt.os,
        "fsync",
        lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd))[1],
    )
    monkeypatch.setattr(
        ckpt.os, "replace", lambda a, b: (events.append(("replace", str(a), str(b))), real_replace(a, b))[1]
    )
    w = {"rnn.weight_hh_l0": np.ones((2, 2), np.float32)}
    final = ckpt.save(
        tmp_path,
        5,
        w,
        {"carry.h": np.zeros((1, 1, 2), np.float32)},
        {"task": "lm"},
        '{"chars": []}',
        {"step": 5},
    )
    ren = [i for i, e in enumerate(events) if e[0] == "replace"]
    assert len(ren) == 1 and events[ren[0]][2] == str(final) and ".tmp-step-00000005" in events[ren[0]][1]
    synced = [os.path.basename(e[1]) for e in events[: ren[0]] if e[0] == "fsync"]
    assert set(ckpt.FILES) | {"manifest.json"} <= set(synced)
    assert any(s.startswith(".tmp-step-00000005") for s in synced)  # the directory itself
    assert ("fsync", str(tmp_path / "ckpt")) in events[ren[0] :]  # and its parent after
    assert not list((tmp_path / "ckpt").glob(".tmp-*"))


def test_links_move_by_atomic_replace(tmp_path, monkeypatch):
    a = tmp_path / "ckpt" / "step-1"
    a.mkdir(parents=True)
    calls = []
    real = os.replace
    monkeypatch.setattr(ckpt.os, "replace", lambda s, d: (calls.append((str(s), str(d))), real(s, d))[1])
    ckpt.point(tmp_path, "last", a)
    assert calls == [(str(tmp_path / ".last.tmp"), str(tmp_path / "last"))]
    assert os.readlink(tmp_path / "last") == "ckpt/step-1"


# ------------------------------------------------------------------------------ full disk
def _enospc_after(n_ok):
    """A ``_write`` that writes n_ok files, then half of the next and fails with ENOSPC."""
    count = {"n": 0}
    real = ckpt._write

    def fake(path, data):
        count["n"] += 1
        if count["n"] > n_ok:
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    return fake


@pytest.mark.parametrize("n_ok", [0, 2, 5])
def test_full_disk_keeps_the_old_checkpoint(tmp_path, small_run, monkeypatch, capsys, n_ok):
    _, src = small_run
    run = _copy_run(src, tmp_path / "run")
    before = snapshot(run / "ckpt")
    monkeypatch.setattr(ckpt, "_write", _enospc_after(n_ok))
    rc = cli.main(["train", "--resume", str(run), "--max-steps", "30", "--eval-every", "100"])
    err = [l for l in capsys.readouterr().err.splitlines() if "error" in l]
    assert rc == 2
    assert len(err) == 1 and "disk full" in err[0] and "intact" in err[0] and f"--resume {run}" in err[0]
    assert snapshot(run / "ckpt") == before  # nothing half-written left
    assert last_step(run) == 20 and ckpt.load(run, which="last").state["step"] == 20


def test_full_disk_on_the_metrics_log(tmp_path, small_run, monkeypatch, capsys):
    _, src = small_run
    run = _copy_run(src, tmp_path / "run")

    def full(path, mode="r", *a, **k):  # a full disk fails writes, not reads
        if "a" in mode or "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return builtins.open(path, mode, *a, **k)

    monkeypatch.setattr(metrics_log, "open", full, raising=False)
    rc = cli.main(["train", "--resume", str(run), "--max-steps", "40", "--no-progress"])
    err = [l for l in capsys.readouterr().err.splitlines() if "error" in l]
    assert rc == 2 and len(err) == 1 and "disk full" in err[0]
    assert last_step(run) == 20


def test_full_disk_while_preparing_data(tmp_path, monkeypatch, capsys):
    text = write_text(tmp_path / "t.txt", 500)

    def full(fd, off, n):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    rc = cli.main(["train", str(text), "--out", str(tmp_path / "run"), *TINY, "--max-steps", "5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "disk full" in err[0]
    assert not (tmp_path / "run").exists()  # the new run dir is removed again


# ------------------------------------------------------------------------------ non-finite
def test_nonfinite_weights_are_never_saved(tmp_path, small_run):
    _, src = small_run
    run = _copy_run(src, tmp_path / "run")
    before = snapshot(run)
    c = ckpt.load(run, which="last")
    for poison in ("model", "trainer"):
        model = {k: v.copy() for k, v in c.model.items()}
        trainer = {k: v.copy() for k, v in c.trainer.items()}
        group = model if poison == "model" else trainer
        k = next(k for k, v in group.items() if v.dtype.kind == "f")
        group[k].flat[0] = np.nan if poison == "model" else np.inf
        with pytest.raises(ckpt.NonFiniteCheckpoint):
            ckpt.save(run, 30, model, trainer, c.config, c.vocab_json, c.state)
    assert snapshot(run) == before


def test_trainer_keeps_previous_checkpoint_when_weights_go_nonfinite(tmp_path, small_run):
    from rnnkit.data.corpus import load_prepared
    from rnnkit.train.lm_trainer import LMTrainer, TrainConfig
    from rnnkit.train.trainer import save_or_warn

    _, src = small_run
    run = _copy_run(src, tmp_path / "run")
    c = ckpt.load(run, which="last")
    cfg = TrainConfig.from_dict(c.config["train"])
    tr = LMTrainer(cfg, run, load_prepared(run / "data"), log=lambda *a: None)
    tr.restore(c)
    tr.step = 25
    tr.model.flat.data[3] = np.inf
    logged = []
    assert save_or_warn(tr, best=True, log=logged.append) is None
    assert "previous checkpoint is kept" in logged[0]
    assert last_step(run) == 20 and os.readlink(run / "best").endswith("20")


def test_a_stale_directory_at_the_same_step_is_replaced(tmp_path):
    """A run killed between its rename and its symlink swap leaves step-N that no link
    names; the next save of step N must replace it, not adopt it."""
    stale = tmp_path / "ckpt" / "step-00000007"
    stale.mkdir(parents=True)
    (stale / "junk").write_text("old")
    w = {"head.bias": np.zeros(3, np.float32)}
    final = ckpt.save(tmp_path, 7, w, {}, {"task": "lm"}, '{"chars": []}', {"step": 7})
    assert final == stale and not (final / "junk").exists() and (final / "manifest.json").is_file()


def _save_bias(run, step, value):
    w = {"head.bias": np.full(3, value, np.float32)}
    return ckpt.save(run, step, w, {}, {"task": "lm"}, '{"chars": []}', {"step": step})


def test_a_stop_right_after_a_save_keeps_that_save(tmp_path):
    """One process saving step N twice (a stop just after a periodic save) keeps the first."""
    first = _save_bias(tmp_path, 4, 2.0)
    ckpt.point(tmp_path, "last", first)
    assert _save_bias(tmp_path, 4, 2.0) == first
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["step-00000004"]


def test_a_resumed_timeline_does_not_adopt_the_old_one_s_step(tmp_path, monkeypatch):
    """Resumed from ``best`` (step 2) while ``last`` is at step 4, a run that reaches step 4
    again must save its own state there, not keep the old timeline's step 4 (which once
    left ``last`` pointing at weights the resumed run never had)."""
    two, four = _save_bias(tmp_path, 2, 1.0), _save_bias(tmp_path, 4, 2.0)
    ckpt.point(tmp_path, "best", two)
    ckpt.point(tmp_path, "last", four)
    monkeypatch.setattr(ckpt, "_WRITTEN", set())  # a new process resumes
    new = _save_bias(tmp_path, 4, 3.0)
    assert new != four and new.name == "step-00000004.1"
    ckpt.point(tmp_path, "last", new)
    ckpt.prune(tmp_path)
    assert ckpt.load(tmp_path, which="last").model["head.bias"][0] == 3.0
    assert ckpt.load(tmp_path, which="best").model["head.bias"][0] == 1.0
    assert not four.exists()


# -------------------------------------------------------------------- damaged checkpoints
def _rehash(d):
    """Rewrite manifest.json to match the files: a consistent, deliberate tampering."""
    import hashlib

    man = json.loads((d / "manifest.json").read_text())
    for n in man["files"]:
        b = (d / n).read_bytes()
        man["files"][n] = {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
    (d / "manifest.json").write_text(json.dumps(man))


def _truncate(d):
    p = d / "model.safetensors"
    p.write_bytes(p.read_bytes()[:-100])


def _flip_byte(d):
    p = d / "model.safetensors"
    b = bytearray(p.read_bytes())
    b[-5] ^= 0x40
    p.write_bytes(bytes(b))


def _no_manifest(d):
    (d / "manifest.json").unlink()


def _missing_file(d):
    (d / "vocab.json").unlink()


def _newer_version(d):
    man = json.loads((d / "manifest.json").read_text())
    man["format_version"] = ckpt.FORMAT_VERSION + 1
    (d / "manifest.json").write_text(json.dumps(man))


def _other_task(d):
    cfg = json.loads((d / "config.json").read_text())
    cfg["task"] = "classify"
    (d / "config.json").write_text(json.dumps(cfg))
    _rehash(d)


def _other_model(d):
    cfg = json.loads((d / "config.json").read_text())
    cfg["model"]["hidden"] = 24  # weights are 16 wide
    (d / "config.json").write_text(json.dumps(cfg))
    _rehash(d)


def _vocab_mismatch(d):
    (d / "vocab.json").write_text(json.dumps({"chars": ["a", "b"]}))
    _rehash(d)


def _nan_weights(d):
    from safetensors.numpy import load_file, save_file

    t = load_file(str(d / "model.safetensors"))
    k = sorted(t)[0]
    t[k][...] = np.nan
    save_file(t, str(d / "model.safetensors"))
    _rehash(d)


def _bad_json(d):
    (d / "state.json").write_text("{not json")
    _rehash(d)


DAMAGE = {
    "truncated": (_truncate, "truncated or was modified"),
    "flipped byte": (_flip_byte, "truncated or was modified"),
    "no manifest": (_no_manifest, "no manifest.json"),
    "missing file": (_missing_file, "vocab.json is missing"),
    "newer version": (_newer_version, "newer than this rnnkit"),
    "other task": (_other_task, "for task 'classify'"),
    "other model": (_other_model, "does not match"),
    "vocab mismatch": (_vocab_mismatch, "vocab.json has 2 characters"),
    "nan weights": (_nan_weights, "NaN or Inf"),
    "bad json": (_bad_json, "not valid JSON"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_checkpoint_is_refused_by_every_verb(tmp_path, small_run, case):
    text, src = small_run
    run = _copy_run(src, tmp_path / "run")
    damage, needle = DAMAGE[case]
    damage(run / "last")
    before = snapshot(run)
    assert_one_line_error(rnnkit("eval", run, text, "--which", "last"), needle)
    assert_one_line_error(rnnkit("sample", run, "--which", "last", "--length", "5"), needle)
    assert_one_line_error(rnnkit("train", "--resume", run, "--max-steps", "30"))
    assert snapshot(run) == before  # nothing overwritten


def test_missing_checkpoint_dir_and_empty_run(tmp_path):
    assert_one_line_error(rnnkit("eval", tmp_path / "nope", tmp_path / "nope.txt"), "no such")
    (tmp_path / "empty").mkdir()
    write_text(tmp_path / "t.txt", 50)
    assert_one_line_error(rnnkit("sample", tmp_path / "empty"), "holds no checkpoint")
    assert_one_line_error(rnnkit("train", "--resume", tmp_path / "empty"), "holds no checkpoint")
