"""Data parallel with torchrun, on CPU with Gloo over loopback.

2 processes x B/2 streams must take the same steps as 1 process x B streams (the loss is
a mean over T x B positions and the shards are equal, so the mean of the per-rank mean
gradients is the full-batch gradient). Also: two torchrun "nodes" on one machine, resume
with the same and with a different world size, and a batch that does not split. Every
launch has a timeout, and its process group is killed in a ``finally``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch.distributed")
from safetensors.numpy import load_file  # noqa: E402

from rnnkit.cli import main  # noqa: E402

pytestmark = pytest.mark.slow
TIMEOUT = 90
ARGS = [
    "--hidden",
    "12",
    "--layers",
    "2",
    "--seq-len",
    "8",
    "--batch",
    "4",
    "--eval-every",
    "3",
    "--save-every",
    "3",
    "--val-chars",
    "200",
    "--no-progress",
    "--optimizer",
    "sgd",
    "--lr",
    "0.1",
    "--schedule",
    "constant",
    "--warmup",
    "0",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*launcher, cwd) -> list[subprocess.Popen]:
    return subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", *launcher],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "RNNKIT_DIST_TIMEOUT": "60"},
    )


def finish(procs: list[subprocess.Popen]) -> list[tuple[int, str]]:
    """Wait for every launch (bounded); always kill their process groups."""
    out = []
    try:
        for p in procs:
            text, _ = p.communicate(timeout=TIMEOUT)
            out.append((p.returncode, text))
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
    return out


def run_ddp(nproc: int, *rnnkit_args, cwd, verb=("train",)) -> tuple[int, str]:
    launcher = [
        "--nproc-per-node",
        str(nproc),
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(free_port()),
        "-m",
        "rnnkit",
        *verb,
        *rnnkit_args,
    ]
    return finish([torchrun(*launcher, cwd=cwd)])[0]


def state(run: Path) -> dict:
    return {
        **load_file(str(run / "last" / "model.safetensors")),
        **load_file(str(run / "last" / "trainer.safetensors")),
    }


def assert_same(a: dict, b: dict):
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ddp")
    rng = np.random.default_rng(1)
    words = ["to", "be", "or", "not", "that", "is", "the", "question", "whether", "tis", "nobler"]
    (d / "in.txt").write_text(" ".join(rng.choice(words, 2500)) + "\n", encoding="utf-8")
    return d / "in.txt"


@pytest.fixture(scope="module")
def single(corpus, tmp_path_factory) -> Path:
    """The reference: one process, all 4 streams, 6 steps (checkpoint at 3 and 6)."""
    out = tmp_path_factory.mktemp("single") / "run"
    assert main(["train", str(corpus), "--out", str(out), "--max-steps", "6", *ARGS]) == 0
    return out


def test_two_processes_equal_one(corpus, single, tmp_path):
    out = tmp_path / "ddp"
    rc, text = run_ddp(2, str(corpus), "--out", str(out), "--max-steps", "6", *ARGS, cwd=tmp_path)
    assert rc == 0, text
    assert_same(state(single), state(out))  # weights, optimizer, carried state
    assert text.count("done at step 6") == 1  # rank 0 alone logs
    rows = (out / "metrics.jsonl").read_text().splitlines()
    ref = (single / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == len(ref)  # written once, not per rank


def test_two_nodes_on_loopback_equal_one(corpus, single, tmp_path):
    out, port = tmp_path / "nodes", free_port()
    launches = [
        torchrun(
            "--nnodes",
            "2",
            "--node-rank",
            str(r),
            "--nproc-per-node",
            "1",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(port),
            "-m",
            "rnnkit",
            "train",
            str(corpus),
            "--out",
            str(out),
            "--max-steps",
            "6",
            *ARGS,
            cwd=tmp_path,
        )
        for r in (0, 1)
    ]
    results = finish(launches)
    for rc, text in results:
        assert rc == 0, text
    assert_same(state(single), state(out))


def test_resume_same_and_different_world_size(corpus, single, tmp_path):
    out = tmp_path / "r"
    rc, text = run_ddp(2, str(corpus), "--out", str(out), "--max-steps", "3", *ARGS, cwd=tmp_path)
    assert rc == 0, text
    same = tmp_path / "same"
    import shutil

    shutil.copytree(out, same, symlinks=True)
    rc, text = run_ddp(2, "--resume", str(same), "--max-steps", "6", "--no-progress", cwd=tmp_path)
    assert rc == 0, text
    assert_same(state(single), state(same))
    # A different world size: the checkpoint holds the carried state of all B streams, so
    # one process continues the same streams (and says so).
    assert main(["train", "--resume", str(out), "--max-steps", "6", "--no-progress"]) == 0
    assert_same(state(single), state(out))


def test_batch_must_split_over_ranks(corpus, tmp_path):
    rc, text = run_ddp(
        2,
        str(corpus),
        "--out",
        str(tmp_path / "odd"),
        "--max-steps",
        "2",
        *ARGS[: ARGS.index("--batch")],
        "--batch",
        "3",
        *ARGS[ARGS.index("--batch") + 2 :],
        cwd=tmp_path,
    )
    assert rc != 0
    assert "rnnkit: error: --batch 3 streams cannot be split evenly over 2 processes" in text


TASK_ARGS = [
    "--hidden",
    "8",
    "--batch",
    "4",
    "--eval-every",
    "3",
    "--no-progress",
    "--optimizer",
    "sgd",
    "--lr",
    "0.1",
    "--schedule",
    "constant",
    "--seed",
    "5",
]


@pytest.mark.parametrize("verb", ["classify", "tag"])
def test_a_task_verb_on_two_processes_equals_one(tmp_path, verb):
    """The forms train under torchrun too: each rank takes half of every batch of examples (the
    loss is a mean over examples, or over characters of equal-length examples, so the mean of
    the two ranks' gradients is the full batch's), and the epoch's order is the same on both."""
    words = ["ab", "ba", "cd", "dc", "ac", "ca", "bd", "db", "ad", "da", "bc", "cb"] * 3
    rows = [f"{w}\t{w[0]}" if verb == "classify" else f"{w}\t{'01' if w[0] < w[1] else '10'}" for w in words]
    data = tmp_path / "d.tsv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    one, two = tmp_path / "one", tmp_path / "two"
    args = [str(data), "--max-steps", "7", *TASK_ARGS]
    assert main([verb, "train", *args, "--out", str(one)]) == 0
    rc, text = run_ddp(2, *args, "--out", str(two), cwd=tmp_path, verb=(verb, "train"))
    assert rc == 0, text
    assert_same(state(one), state(two))  # weights, optimizer and the epoch's order
    assert text.count("done at step 7") == 1  # rank 0 alone logs


def test_a_task_batch_that_does_not_split_is_refused(tmp_path):
    data = tmp_path / "d.tsv"
    data.write_text("".join(f"{w}\t{w[0]}\n" for w in ["ab", "ba", "cd", "dc"] * 5), encoding="utf-8")
    rc, text = run_ddp(
        2,
        str(data),
        "--out",
        str(tmp_path / "r"),
        "--max-steps",
        "2",
        "--batch",
        "3",
        "--hidden",
        "4",
        "--no-progress",
        cwd=tmp_path,
        verb=("classify", "train"),
    )
    assert rc != 0 and "cannot be split evenly over 2 processes" in text
    assert not (tmp_path / "r").exists()


def test_each_rank_takes_its_own_share_of_a_task_batch(tmp_path):
    """Rank r of W gets examples [r n/W, (r+1) n/W) of each batch; an epoch's last, smaller
    batch is cut to a multiple of W, and an epoch ends when fewer than W examples are left."""
    from rnnkit.torch.distributed import DataParallel
    from rnnkit.train.task_config import TaskTrainConfig
    from rnnkit.train.task_trainer import TaskTrainer

    data = tmp_path / "d.tsv"
    data.write_text("".join(f"{w}\t{w[0]}\n" for w in ["ab", "ba", "cd", "dc", "ac"] * 4), encoding="utf-8")
    cfg = TaskTrainConfig(verb="classify", data=str(data), hidden=4, batch=4, val_fraction=0.25)
    tr = TaskTrainer(cfg, tmp_path / "run", log=lambda *a: None)  # 15 training examples
    fake = DataParallel.__new__(DataParallel)  # no process group: only the sharding is used
    fake.rank, fake.world = 1, 2
    tr.dist = fake
    seen = []
    real = tr.form.loss
    tr.form.loss = lambda model, data, idx, rng: (seen.append(list(idx)), real(model, data, idx, rng))[1]
    for _ in range(4):
        batch = tr.perm[tr.pos : tr.pos + 4].tolist()
        _, _, items = tr.forward_batch()
        tr.advance(True)
        n = len(batch) - len(batch) % 2
        assert items == n // 2 and seen[-1] == batch[n // 2 : n]  # the second half: rank 1's
    assert tr.epoch == 1 and tr.pos == 0  # 4 + 4 + 4 + 2 examples, then fewer than 2 left
