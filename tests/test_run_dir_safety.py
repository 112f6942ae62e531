"""Issue 15, part B: a run directory is never lost to a careless or hostile command.

- ``--force`` checks everything before it touches the run, moves the old run aside (never
  deleting it, never writing through a symlink in it) and puts it back if the new run ends
  without a checkpoint (items 1 and 5);
- one writer per run directory, by ``fcntl.flock`` (item 6);
- a resume reads its inputs from absolute paths (item 7);
- damaged data or state, a read-only file system, or ``--max-steps`` below the run's step
  on resume are one line and exit 2 (items 3 and 10).

Runs are tiny and in-process (``rnnkit.cli.main``), except where a second process is the point.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import env, write_text

from rnnkit import cli
from rnnkit.errors import RnnkitError
from rnnkit.train import checkpoint as ckpt
from rnnkit.train import lm_trainer as train_mod
from rnnkit.train import task_config, task_trainer
from rnnkit.train.run_lock import LOCK_NAME, RunLock

LM = [
    "--hidden",
    "8",
    "--layers",
    "1",
    "--batch",
    "4",
    "--seq-len",
    "16",
    "--max-steps",
    "3",
    "--eval-every",
    "3",
    "--val-chars",
    "200",
    "--no-progress",
]
TASK = ["--hidden", "8", "--batch", "8", "--max-steps", "3", "--eval-every", "3", "--no-progress"]


def main(capsys, *argv):
    """-> (exit status, stdout, stderr) of ``rnnkit ARGV`` run in this process."""
    try:
        rc = cli.main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def one_line_error(err: str, *fragments: str, after_progress: bool = False) -> None:
    """``err`` is one error line (``after_progress``: its last line is, after progress lines)."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert (after_progress or len(lines) == 1) and lines[-1].startswith("rnnkit: error: "), err
    for f in fragments:
        assert f in lines[-1], (f, err)


def tree(root: Path) -> dict:
    """Everything under ``root``, symlinks as their targets (not followed): path -> content."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_file():
                out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[rel] = ("dir",)
    return out


def tsv(path: Path, n: int = 40) -> Path:
    rows = [
        ("abcde"[i % 5] * (1 + i % 4) + "\tA") if i % 2 else ("vwxyz"[i % 5] * (1 + i % 3) + "\tB")
        for i in range(n)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def rewrite_state(run: Path, **changes) -> None:
    """Edit ``state.json`` of ``run/last`` and re-hash the manifest, as a hostile user could."""
    d = (run / "last").resolve()
    state = json.loads((d / "state.json").read_text())
    state.update(changes)
    data = json.dumps(state).encode()
    (d / "state.json").write_bytes(data)
    man = json.loads((d / "manifest.json").read_text())
    man["files"]["state.json"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (d / "manifest.json").write_text(json.dumps(man))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A corpus, a TSV, and a finished LM run and classify run to copy."""
    root = tmp_path_factory.mktemp("world")
    corpus = write_text(root / "corpus.txt", n_words=1500)
    data = tsv(root / "data.tsv")
    assert cli.main(["train", str(corpus), "--out", str(root / "lm"), *LM]) == 0
    assert cli.main(["classify", "train", str(data), "--out", str(root / "cls"), *TASK]) == 0
    return root


@pytest.fixture
def lm(world, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(world / "lm", run, symlinks=True)
    capsys.readouterr()
    return run


@pytest.fixture
def cls(world, tmp_path, capsys):
    run = tmp_path / "cls"
    shutil.copytree(world / "cls", run, symlinks=True)
    capsys.readouterr()
    return run


def _no_gpu():
    try:
        import torch
    except ImportError:
        return True  # refused as "needs PyTorch": still a refused start
    return not torch.cuda.is_available()


REFUSED = {
    "bad device": (["--engine", "torch", "--device", "banana"], "--device"),
    "no hidden units": (["--hidden", "0"], "--hidden"),
    "cuda without a GPU": (["--engine", "torch", "--device", "cuda"], "--"),
}


# ----------------------------------------------------------------- items 1 and 5: --force
@pytest.mark.parametrize("case", list(REFUSED))
def test_force_checks_everything_before_touching_the_run(world, lm, cls, capsys, case):
    flags, frag = REFUSED[case]
    if case == "cuda without a GPU" and not _no_gpu():
        pytest.skip("a GPU is present")
    before = tree(lm)
    rc, _, err = main(capsys, "train", world / "corpus.txt", "--out", lm, "--force", *LM, *flags)
    assert rc == 2
    one_line_error(err, frag)
    assert tree(lm) == before
    before = tree(cls)
    rc, _, err = main(capsys, "classify", "train", world / "data.tsv", "--out", cls, "--force", *TASK, *flags)
    assert rc == 2
    one_line_error(err, frag)
    assert tree(cls) == before


def test_force_with_a_missing_input_touches_nothing(world, lm, cls, capsys):
    before = tree(lm)
    rc, _, err = main(capsys, "train", world / "nope.txt", "--out", lm, "--force", *LM)
    assert rc == 2
    one_line_error(err, "nope.txt")
    assert tree(lm) == before
    before = tree(cls)
    rc, _, err = main(capsys, "classify", "train", world / "nope.tsv", "--out", cls, "--force", *TASK)
    assert rc == 2
    one_line_error(err, "nope.tsv")
    assert tree(cls) == before


@pytest.mark.parametrize("verb", ["train", "classify"])
def test_a_refused_start_leaves_no_run_behind(world, tmp_path, capsys, verb):
    """A refused start used to leave --out holding a marker, so the next, correct command
    was refused ("already holds a run") and --resume replayed the bad configuration."""
    out = tmp_path / "new" / "run"
    args = (
        ["train", world / "corpus.txt", *LM]
        if verb == "train"
        else ["classify", "train", world / "data.tsv", *TASK]
    )
    rc, _, err = main(capsys, *args, "--out", out, "--engine", "torch", "--device", "banana")
    assert rc == 2
    one_line_error(err, "--device")
    assert not (tmp_path / "new").exists()

    # a failure after --out was claimed (here: the first save) also leaves nothing
    def full_disk(*a, **k):
        raise RnnkitError("disk full (injected)")

    with pytest.MonkeyPatch.context() as m:
        m.setattr(ckpt, "save", full_disk)
        rc, _, err = main(capsys, *args, "--out", out)
    assert rc == 2 and "disk full (injected)" in err
    assert not (tmp_path / "new").exists()
    rc, _, err = main(capsys, *args, "--out", out)  # the next command works
    assert rc == 0, err
    assert ckpt.has_checkpoint(out)


@pytest.mark.parametrize("where", ["ckpt", "data"])
def test_force_refuses_an_input_kept_in_what_it_replaces(world, lm, cls, capsys, where):
    corpus = lm / where / "corpus.txt"
    shutil.copy(world / "corpus.txt", corpus)
    before = tree(lm)
    rc, _, err = main(capsys, "train", corpus, "--out", lm, "--force", *LM)
    assert rc == 2
    one_line_error(err, str(corpus), "--force replaces", "move it out")
    assert tree(lm) == before
    data = cls / where / "data.tsv" if where == "ckpt" else cls / "ckpt" / "data.tsv"
    shutil.copy(world / "data.tsv", data)
    before = tree(cls)
    rc, _, err = main(capsys, "classify", "train", data, "--out", cls, "--force", *TASK)
    assert rc == 2
    one_line_error(err, "--force replaces")
    assert tree(cls) == before


def test_an_input_next_to_the_run_entries_is_fine(world, lm, capsys):
    corpus = lm / "corpus.txt"  # not one of rnnkit's names
    shutil.copy(world / "corpus.txt", corpus)
    rc, _, err = main(capsys, "train", corpus, "--out", lm, "--force", *LM, "--seed", "5")
    assert rc == 0, err
    assert corpus.is_file()


def test_force_replaces_the_old_run_only_once_the_new_one_has_a_checkpoint(world, lm, capsys, monkeypatch):
    """While the new run prepares its data, the old run lies whole in .rnnkit-replaced-*;
    the first checkpoint deletes it."""
    old = tree(lm)
    seen = {}
    real = train_mod.write_prepared

    def spy(plan, data_dir, log=print):
        aside = [p for p in lm.iterdir() if p.name.startswith(".rnnkit-replaced-")]
        seen["aside"] = {k: v for k, v in tree(aside[0]).items()} if len(aside) == 1 else None
        seen["lock"] = (lm / LOCK_NAME).read_text().strip()
        return real(plan, data_dir, log)

    monkeypatch.setattr(train_mod, "write_prepared", spy)
    rc, _, err = main(capsys, "train", world / "corpus.txt", "--out", lm, "--force", *LM, "--seed", "5")
    assert rc == 0, err
    assert seen["aside"] == old  # moved, whole, not deleted
    assert seen["lock"] == str(os.getpid())
    assert sorted(p.name for p in lm.iterdir()) == [
        "best",
        "ckpt",
        "data",
        "last",
        "metrics.jsonl",
        "rnnkit-run.json",
    ]
    assert json.loads((lm / "rnnkit-run.json").read_text())["train"]["seed"] == 5


@pytest.mark.parametrize("fault", ["after the move", "first save", "read-only marker"])
def test_force_puts_the_old_run_back_when_the_new_one_fails(world, lm, capsys, monkeypatch, fault):
    old = tree(lm)
    if fault == "after the move":

        def boom(*a, **k):
            raise RnnkitError("could not write the prepared ids (injected)")

        monkeypatch.setattr(train_mod, "write_prepared", boom)
        frag = "injected"
    elif fault == "first save":

        def boom(*a, **k):
            raise RnnkitError("disk full (injected)")

        monkeypatch.setattr(ckpt, "save", boom)
        frag = "injected"
    else:

        def boom(path, data):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

        monkeypatch.setattr(ckpt, "_write", boom)
        frag = "Read-only file system"
    rc, _, err = main(capsys, "train", world / "corpus.txt", "--out", lm, "--force", *LM, "--seed", "5")
    assert rc == 2
    one_line_error(err, frag, after_progress=fault == "first save")
    assert tree(lm) == old


def test_task_force_puts_the_old_run_back_when_the_new_one_fails(world, cls, capsys, monkeypatch):
    old = tree(cls)

    def boom(*a, **k):
        raise RnnkitError("disk full (injected)")

    monkeypatch.setattr(ckpt, "save", boom)
    rc, _, err = main(
        capsys, "classify", "train", world / "data.tsv", "--out", cls, "--force", *TASK, "--seed", "5"
    )
    assert rc == 2
    one_line_error(err, "injected", after_progress=True)
    assert tree(cls) == old
    monkeypatch.undo()
    rc, _, err = main(
        capsys, "classify", "train", world / "data.tsv", "--out", cls, "--force", *TASK, "--seed", "5"
    )
    assert rc == 0, err
    assert json.loads((cls / "rnnkit-run.json").read_text())["train"]["seed"] == 5
    assert not [p for p in cls.iterdir() if p.name.startswith(".rnnkit-")]


def test_a_signal_while_preparing_a_forced_run_puts_the_old_one_back(world, lm, monkeypatch):
    old = tree(lm)

    def interrupted(*a, **k):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
        raise AssertionError("the signal did not stop the preparation")

    monkeypatch.setattr(train_mod, "write_prepared", interrupted)
    cfg = train_mod.TrainConfig(
        files=[str(world / "corpus.txt")],
        hidden=8,
        layers=1,
        batch=4,
        seq_len=16,
        max_steps=3,
        val_chars=200,
        progress=False,
        seed=5,
    )
    lines = []
    assert train_mod.train(cfg, lm, force=True, log=lines.append) == 130
    assert tree(lm) == old
    assert "holds the run it held before" in lines[-1]


@pytest.mark.parametrize("name", ["data", "ckpt", "metrics.jsonl"])
def test_force_never_writes_through_a_symlink(world, lm, tmp_path, capsys, name):
    """A ``data`` link to a user's folder had its meta.json overwritten."""
    user = tmp_path / "user"
    user.mkdir()
    (user / "meta.json").write_text("mine")
    (user / "ids.bin").write_text("mine too")
    p = lm / name
    shutil.rmtree(p) if p.is_dir() else p.unlink()
    p.symlink_to(user, target_is_directory=True)
    mine = tree(user)
    rc, _, err = main(capsys, "train", world / "corpus.txt", "--out", lm, "--force", *LM)
    assert rc == 0, err
    assert tree(user) == mine
    assert not p.is_symlink()


# ------------------------------------------------------------------------ item 6: the lock
HOLD = (
    "import sys, time\nfrom rnnkit.train.run_lock import RunLock\nRunLock(sys.argv[1]).acquire()\n"
    "print('locked', flush=True)\ntime.sleep(120)\n"
)


def _holder(run: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True, env=env())
    assert p.stdout.readline().strip() == "locked"
    return p


def test_a_second_writer_is_refused_naming_the_pid_and_a_killed_holder_is_taken_over(world, lm, cls, capsys):
    holders = [_holder(lm), _holder(cls)]
    try:
        before = tree(lm)
        for argv in (
            ["train", "--resume", lm, "--max-steps", "6"],
            ["train", world / "corpus.txt", "--out", lm, "--force", *LM],
        ):
            rc, _, err = main(capsys, *argv)
            assert rc == 2
            one_line_error(err, f"PID {holders[0].pid}", "in use by another rnnkit process")
            assert tree(lm) == before
        before = tree(cls)
        for argv in (
            ["classify", "train", "--resume", cls, "--max-steps", "6"],
            ["classify", "train", world / "data.tsv", "--out", cls, "--force", *TASK],
        ):
            rc, _, err = main(capsys, *argv)
            assert rc == 2
            one_line_error(err, f"PID {holders[1].pid}")
            assert tree(cls) == before
        rc, _, err = main(capsys, "sample", lm, "--length", "5", "--seed", "1")  # readers are not blocked
        assert rc == 0, err
    finally:
        for h in holders:
            h.send_signal(signal.SIGKILL)
            h.wait(timeout=30)
    # the kernel dropped the dead holders' locks: their stale lock files are taken over
    assert (lm / LOCK_NAME).read_text().strip() == str(holders[0].pid)
    rc, _, err = main(capsys, "train", "--resume", lm, "--max-steps", "6")
    assert rc == 0, err
    rc, _, err = main(capsys, "classify", "train", "--resume", cls, "--max-steps", "6")
    assert rc == 0, err
    assert not (lm / LOCK_NAME).exists() and not (cls / LOCK_NAME).exists()  # released at the end


def test_two_real_resumes_at_once(lm, capsys):
    """The case of the issue: the second writer used to delete the first's temporary
    checkpoint directory and duplicate metrics rows; now it is refused at once."""
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnnkit",
            "train",
            "--resume",
            str(lm),
            "--max-steps",
            "1000000",
            "--save-every",
            "1000000",
            "--eval-every",
            "1000000",
            "--log-every",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )

    def training() -> bool:  # holds the lock, past step 5
        rows = (lm / "metrics.jsonl").read_text().splitlines()
        return (
            (lm / LOCK_NAME).is_file()
            and (lm / LOCK_NAME).read_text().strip() == str(p.pid)
            and len(rows) > 1
            and json.loads(rows[-2])["step"] >= 5
        )

    try:
        deadline = time.monotonic() + 60
        while not training():
            assert p.poll() is None and time.monotonic() < deadline, (
                p.stderr.read() if p.poll() is not None else ""
            )
            time.sleep(0.01)
        rc, _, err = main(capsys, "train", "--resume", lm, "--max-steps", "100")
        assert rc == 2
        one_line_error(err, f"PID {p.pid}")
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    rows = [json.loads(l) for l in (lm / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if r["kind"] == "train"]
    assert steps == sorted(set(steps))  # one writer: no duplicate rows
    assert ckpt.load(lm, which="last").state["step"] > 3


def test_the_lock_file_does_not_count_as_content(tmp_path):
    """A lock file left in a new directory (a start killed at once) does not make it a
    foreign directory, and a run directory lists only rnnkit's entries once released."""
    d = tmp_path / "d"
    d.mkdir()
    (d / LOCK_NAME).write_text("12345\n")
    ckpt.check_out_dir(d, force=False)  # empty but for the lock: fine
    with RunLock(d):
        assert (d / LOCK_NAME).read_text().strip() == str(os.getpid())
        with pytest.raises(RnnkitError, match=f"PID {os.getpid()}"):
            RunLock(d).acquire()  # flock: one holder per open file
    assert not (d / LOCK_NAME).exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("x")
    (foreign / LOCK_NAME).write_text("not ours")
    with pytest.raises(RnnkitError, match=LOCK_NAME):
        ckpt.check_out_dir(foreign, force=True)


# ----------------------------------------------------- item 7: resume from any directory
def test_a_run_records_absolute_inputs_and_resumes_from_anywhere(world, tmp_path, capsys, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    shutil.copy(world / "corpus.txt", a / "huge.txt")
    tsv(a / "d.tsv")
    monkeypatch.chdir(a)
    assert main(capsys, "train", "huge.txt", "--out", "run", *LM)[0] == 0
    assert main(capsys, "classify", "train", "d.tsv", "--out", "cls", *TASK)[0] == 0
    marker = json.loads((a / "run" / "rnnkit-run.json").read_text())
    assert marker["train"]["files"] == [str(a / "huge.txt")]
    assert ckpt.load(a / "run").config["train"]["files"] == [str(a / "huge.txt")]
    assert ckpt.load(a / "cls").config["train"]["data"] == str(a / "d.tsv")
    # a run killed before its first checkpoint is started over from its marker: from b too
    for name in ("last", "best", "ckpt"):
        p = a / "run" / name
        shutil.rmtree(p) if name == "ckpt" else p.unlink()
    monkeypatch.chdir(b)
    rc, _, err = main(capsys, "train", "--resume", a / "run")
    assert rc == 0, err
    rc, _, err = main(capsys, "classify", "train", "--resume", a / "cls", "--max-steps", "5")
    assert rc == 0, err
    # the library API records absolute paths too
    monkeypatch.chdir(a)
    cfg = task_config.TaskTrainConfig(
        verb="classify", data="d.tsv", hidden=8, batch=8, max_steps=2, progress=False
    )
    assert task_trainer.train(cfg, Path("api"), log=lambda *x: None) == 0
    assert ckpt.load(a / "api").config["train"]["data"] == str(a / "d.tsv")


def test_an_old_run_with_relative_inputs(world, tmp_path, capsys, monkeypatch):
    """Runs saved before recorded paths as given: they resume from the directory they were
    started in, and elsewhere are refused in one line saying so."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    shutil.copy(world / "corpus.txt", a / "huge.txt")
    monkeypatch.chdir(a)
    assert main(capsys, "train", "huge.txt", "--out", "run", *LM)[0] == 0
    run = a / "run"
    for name in ("last", "best", "ckpt"):  # killed before its first checkpoint
        p = run / name
        shutil.rmtree(p) if name == "ckpt" else p.unlink()
    marker = json.loads((run / "rnnkit-run.json").read_text())
    marker["train"]["files"] = ["huge.txt"]  # as an older rnnkit wrote it
    (run / "rnnkit-run.json").write_text(json.dumps(marker))
    before = tree(run)
    monkeypatch.chdir(b)
    rc, _, err = main(capsys, "train", "--resume", run)
    assert rc == 2
    one_line_error(
        err, "'huge.txt'", "relative to the directory it was started in", "resume it from that directory"
    )
    assert tree(run) == before
    monkeypatch.chdir(a)
    rc, _, err = main(capsys, "train", "--resume", "run")
    assert rc == 0, err
    assert json.loads((run / "rnnkit-run.json").read_text())["train"]["files"] == [str(a / "huge.txt")]


def test_an_old_task_run_with_a_relative_data_path(world, tmp_path, capsys, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    tsv(a / "d.tsv")
    monkeypatch.chdir(a)
    assert main(capsys, "classify", "train", "d.tsv", "--out", "cls", *TASK)[0] == 0
    d = (a / "cls" / "last").resolve()
    config = json.loads((d / "config.json").read_text())
    config["train"]["data"] = "d.tsv"
    data = json.dumps(config).encode()
    (d / "config.json").write_bytes(data)
    man = json.loads((d / "manifest.json").read_text())
    man["files"]["config.json"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (d / "manifest.json").write_text(json.dumps(man))
    monkeypatch.chdir(b)
    rc, _, err = main(capsys, "classify", "train", "--resume", a / "cls", "--max-steps", "5")
    assert rc == 2
    one_line_error(err, "'d.tsv'", "resume it from that directory")
    monkeypatch.chdir(a)
    rc, _, err = main(capsys, "classify", "train", "--resume", "cls", "--max-steps", "5")
    assert rc == 0, err


# ---------------------------------------------------------- items 3 and 10: resume input
def test_out_of_range_ids_on_resume(lm, capsys):
    ids = np.memmap(lm / "data" / "ids.bin", dtype=np.uint8, mode="r+")
    ids[len(ids) // 2] = 250
    ids.flush()
    del ids
    before = tree(lm)
    rc, _, err = main(capsys, "train", "--resume", lm, "--max-steps", "6")
    assert rc == 2
    one_line_error(err, "id 250", "outside the vocabulary")
    assert tree(lm) == before


def test_changed_ids_on_resume_are_refused(lm, capsys):
    """An in-range change to the prepared ids (another character) would resume on other data;
    the checkpoint records the SHA-256 of ids.bin, as the task runs record their TSV's."""
    path = lm / "data" / "ids.bin"
    ids = np.memmap(path, dtype=np.uint8, mode="r+")
    ids[len(ids) // 2] = (int(ids[len(ids) // 2]) + 1) % int(ids.max())
    ids.flush()
    del ids
    before = tree(lm)
    rc, _, err = main(capsys, "train", "--resume", lm, "--max-steps", "6")
    assert rc == 2
    one_line_error(err, "changed since checkpoint", "same data")
    assert tree(lm) == before


@pytest.mark.parametrize("field,value", [("chunk", 10**12), ("chunk", -1), ("step", -5), ("epoch", -1)])
def test_an_out_of_range_position_on_resume(lm, capsys, field, value):
    rewrite_state(lm, **{field: value})
    rc, _, err = main(capsys, "train", "--resume", lm, "--max-steps", "6")
    assert rc == 2
    one_line_error(err, "out of range")


@pytest.mark.parametrize("field,value", [("pos", 10**12), ("pos", -1), ("step", -5)])
def test_an_out_of_range_task_position_on_resume(cls, capsys, field, value):
    rewrite_state(cls, **{field: value})
    rc, _, err = main(capsys, "classify", "train", "--resume", cls, "--max-steps", "6")
    assert rc == 2
    one_line_error(err, "out of range")


@pytest.fixture
def read_only(monkeypatch):
    """Make every write under a directory fail with EROFS, as on a read-only mount."""

    def install(root: Path):
        root = str(root)

        def under(path) -> bool:
            return isinstance(path, (str, os.PathLike)) and os.path.abspath(os.fspath(path)).startswith(root)

        def refuse(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

        def wrap(real, *, write_flags=False, mode_arg=False):
            def f(path, *a, **k):
                if under(path) and "dir_fd" not in k:
                    if write_flags and not (a[0] if a else k.get("flags", 0)) & (
                        os.O_WRONLY | os.O_RDWR | os.O_CREAT
                    ):
                        return real(path, *a, **k)
                    if mode_arg and not set(a[0] if a else k.get("mode", "r")) & set("wax+"):
                        return real(path, *a, **k)
                    refuse(path)
                return real(path, *a, **k)

            return f

        monkeypatch.setattr(os, "open", wrap(os.open, write_flags=True))
        monkeypatch.setattr(builtins, "open", wrap(builtins.open, mode_arg=True))
        monkeypatch.setattr(io, "open", wrap(io.open, mode_arg=True))
        for name in ("mkdir", "rename", "replace", "symlink", "unlink", "rmdir"):
            monkeypatch.setattr(os, name, wrap(getattr(os, name)))

    return install


def test_a_read_only_file_system_on_resume_and_force(world, lm, cls, capsys, read_only):
    before_lm, before_cls = tree(lm), tree(cls)
    read_only(lm.parent)
    cases = [
        (["train", "--resume", lm, "--max-steps", "6"], lm),
        (["train", world / "corpus.txt", "--out", lm, "--force", *LM], lm),
        (["classify", "train", "--resume", cls, "--max-steps", "6"], cls),
        (["classify", "train", world / "data.tsv", "--out", cls, "--force", *TASK], cls),
    ]
    for argv, _run in cases:
        rc, _, err = main(capsys, *argv)
        assert rc == 2, err
        one_line_error(err, "Read-only file system")
    assert tree(lm) == before_lm and tree(cls) == before_cls


def test_a_read_only_metrics_log_on_resume(lm, capsys, monkeypatch):
    """Past the lock (taken on a writable lock file), the rewrite of metrics.jsonl fails."""
    real = os.replace

    def replace(src, dst, *a, **k):
        if str(dst).endswith("metrics.jsonl"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    rc, _, err = main(capsys, "train", "--resume", lm, "--max-steps", "6")
    assert rc == 2
    one_line_error(err, "metrics.jsonl", "Read-only file system")


def test_a_damaged_metrics_log_on_resume_keeps_its_good_rows(lm, capsys):
    """Binary bytes and a line that is not an object in metrics.jsonl were a UnicodeDecodeError
    traceback on resume; they are dropped, and the rows up to the checkpoint are kept."""
    log = lm / "metrics.jsonl"
    good = [line for line in log.read_text(encoding="utf-8").splitlines() if line]
    with open(log, "ab") as f:
        f.write(b'\xff\xfe\x00garbage\n[1, 2]\n{"step": "x", "loss": 1}\n')
    rc, _, err = main(capsys, "train", "--resume", lm, "--max-steps", "4")
    assert rc == 0, err
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[: len(good)] == good  # the old rows, byte for byte
    assert all(json.loads(line)["step"] == 4 for line in lines[len(good) :])  # then step 4's rows


@pytest.mark.parametrize("verb", ["train", "classify"])
def test_max_steps_below_the_run_is_refused_on_resume(lm, cls, capsys, verb):
    """It used to exit 0 saying nothing useful; a resume cannot go back, so it is refused."""
    run, argv = (lm, ["train"]) if verb == "train" else (cls, ["classify", "train"])
    before = tree(run)
    rc, _, err = main(capsys, *argv, "--resume", run, "--max-steps", "2")
    assert rc == 2
    one_line_error(err, "--max-steps 2 is below the step this run is at (3)")
    assert tree(run) == before
    rc, out, err = main(capsys, *argv, "--resume", run, "--max-steps", "3")  # at it: nothing to do
    assert rc == 0, err
    assert "done at step 3" in out
