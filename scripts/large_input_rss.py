#!/usr/bin/env python3
"""Benchmark (not a test): peak memory of ``rnnkit train`` and ``rnnkit eval`` does not grow with the text.

Writes text files of 20 MB and 200 MB (by default) under /tmp, trains the same small model
on each for a few dozen steps in a fresh subprocess, and reports the child's peak resident
set size (``ru_maxrss`` from ``os.wait4``, the kernel's VmHWM) with the wall time. Ids are
written once to a memory-mapped file and batches are read from it on demand, so the peak
should be the same for both sizes, far below the corpus size.

With ``--eval``, a small model is also trained on the first ``--eval-sizes`` file and
``rnnkit eval`` scores a file of each ``--eval-sizes`` size in its own subprocess: it reads,
encodes and scores the text a piece at a time, so its peak should not grow with the file
either. Scoring runs the model one character after another (about 10 µs a character on
one core), so these sizes are smaller.

    python scripts/large_input_rss.py                  # 20 MB and 200 MB
    python scripts/large_input_rss.py --sizes 20 200 1000 --steps 40 --keep
    python scripts/large_input_rss.py --no-train --eval --eval-sizes 2 8

The figures are recorded in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "the quick brown fox jumps over a lazy dog while rivers run to the sea and "
    "some say 안녕하세요 or 🙂 and café naïve Ünïcödé, 1234567890; (brackets) [more] {braces} "
    "It was the best of times, it was the worst of times.\n"
).split(" ")


def make_text(path: Path, mb: int, seed: int = 0) -> None:
    """``mb`` MiB of pseudo-text: a 1 MiB block of random words, reshuffled per MiB."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        written = 0
        while written < mb * 2**20:
            block = " ".join(rng.choice(WORDS) for _ in range(150_000)).encode("utf-8")[: 2**20]
            block = block.decode("utf-8", "ignore")
            f.write(block)
            written += len(block.encode("utf-8"))


def run_train(text: Path, out: Path, steps: int) -> tuple[int, float, str]:
    """(peak RSS in KiB, wall seconds, last line of output) of one ``rnnkit train`` process."""
    cmd = [
        sys.executable,
        "-m",
        "rnnkit",
        "train",
        str(text),
        "--out",
        str(out),
        "--force",
        "--hidden",
        "128",
        "--layers",
        "2",
        "--batch",
        "32",
        "--seq-len",
        "64",
        "--max-steps",
        str(steps),
        "--eval-every",
        str(steps),
        "--save-every",
        str(steps),
        "--val-chars",
        "50000",
        "--no-progress",
    ]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out_text = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"rnnkit train failed:\n{out_text}")
    return usage.ru_maxrss, wall, out_text


def run_eval(run: Path, text: Path) -> tuple[int, float, str]:
    """(peak RSS in KiB, wall seconds, output) of one ``rnnkit eval`` process."""
    cmd = [sys.executable, "-m", "rnnkit", "eval", str(run), str(text)]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out_text = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"rnnkit eval failed:\n{out_text}")
    return usage.ru_maxrss, wall, out_text.strip()


def corpus(work: Path, mb: int) -> Path:
    """The ``mb`` MiB text file in ``work``, written once."""
    text = work / f"corpus-{mb}mb.txt"
    if not text.exists():
        t0 = time.monotonic()
        make_text(text, mb)
        print(
            f"wrote {text} ({text.stat().st_size / 2**20:.0f} MiB) in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
    return text


def eval_section(work: Path, sizes: list[int]) -> None:
    """Peak RSS of ``rnnkit eval`` on each size, with a small model trained on the first."""
    run = work / "eval-model"
    small = [
        "--hidden",
        "32",
        "--layers",
        "1",
        "--batch",
        "16",
        "--seq-len",
        "64",
        "--max-steps",
        "5",
        "--eval-every",
        "5",
        "--save-every",
        "5",
        "--val-chars",
        "5000",
        "--no-progress",
    ]
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnkit",
            "train",
            str(corpus(work, sizes[0])),
            "--out",
            str(run),
            "--force",
            *small,
        ],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        raise SystemExit(f"rnnkit train failed:\n{p.stdout}{p.stderr}")
    rows = []
    for mb in sizes:
        text = corpus(work, mb)
        rss, wall, out = run_eval(run, text)
        rows.append((text.stat().st_size, rss, wall))
        print(
            f"{mb:>6} MiB text: eval peak RSS {rss / 1024:7.1f} MiB, wall {wall:6.1f} s   ({out})", flush=True
        )
    print()
    print("| text | `rnnkit eval` peak RSS (ru_maxrss) | wall |")
    print("|---:|---:|---:|")
    for size, rss, wall in rows:
        print(f"| {size / 2**20:.0f} MiB | {rss / 1024:.1f} MiB | {wall:.1f} s |")
    if len(rows) > 1:
        lo, hi = rows[0], rows[-1]
        print(f"\ntext x{hi[0] / lo[0]:.1f}, eval peak RSS x{hi[1] / lo[1]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 200], help="corpus sizes in MiB")
    ap.add_argument("--steps", type=int, default=40, help="training steps per run")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a new one in /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--no-train", dest="train", action="store_false", help="leave the training runs out")
    ap.add_argument("--eval", action="store_true", help="also measure `rnnkit eval` on --eval-sizes")
    ap.add_argument("--eval-sizes", type=int, nargs="+", default=[2, 8], help="text sizes in MiB for --eval")
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="rnnkit-rss-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for mb in args.sizes if args.train else []:
            text = corpus(work, mb)
            rss, wall, out = run_train(text, work / f"run-{mb}", args.steps)
            ids = (work / f"run-{mb}" / "data" / "ids.bin").stat().st_size
            prepared = next((l for l in out.splitlines() if l.startswith("prepared")), "")
            rows.append((mb, text.stat().st_size, ids, rss, wall))
            print(
                f"{mb:>6} MiB corpus: peak RSS {rss / 1024:7.1f} MiB, wall {wall:6.1f} s   ({prepared})",
                flush=True,
            )
        if rows:
            print()
            print("| corpus | ids.bin | peak RSS (ru_maxrss) | wall (prepare + train) |")
            print("|---:|---:|---:|---:|")
            for _, size, ids, rss, wall in rows:
                print(
                    f"| {size / 2**20:.0f} MiB | {ids / 2**20:.0f} MiB "
                    f"| {rss / 1024:.1f} MiB | {wall:.1f} s |"
                )
        if len(rows) > 1:
            lo, hi = rows[0], rows[-1]
            print(f"\ncorpus x{hi[1] / lo[1]:.1f}, peak RSS x{hi[3] / lo[3]:.2f}")
        if args.eval:
            print()
            eval_section(work, args.eval_sizes)
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
