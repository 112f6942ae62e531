"""What ``rnnkit.train.heap.keep_freed_memory`` changes: a training step's time and page faults,
with glibc's default malloc thresholds and with the raised ones, side by side.

    python -m bench.heap_reuse [--reps 6] [--threads 2]

Each cell is a fresh process (the thresholds are process-wide) that builds the model,
warms up with 5 steps and times the next ones (forward, loss, backward, clip, Adam, as
``bench.systems.rnnkit_train``); the two settings alternate, rep after rep, and the table
gives medians. Minor page faults are counted with ``getrusage``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

SHAPES = [(128, 1, 32), (128, 2, 32), (256, 2, 32), (512, 1, 32), (512, 2, 32)]  # H, L, B; T = 64

CHILD = r"""
import json, resource, sys, time
H, L, B, keep, threads = (int(a) for a in sys.argv[1:6])
from threadpoolctl import threadpool_limits
threadpool_limits(threads)
from rnnkit.train.heap import keep_freed_memory
kept = keep_freed_memory() if keep else False
from bench.systems import rnnkit_train
step = rnnkit_train(H, L, B, 64)
for _ in range(5):
    step()
t0 = time.perf_counter()
step()
n = max(5, int(0.8 / (time.perf_counter() - t0)))       # about 0.8 s of timed steps
f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
for _ in range(n):
    step()
dt = (time.perf_counter() - t0) / n
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / n
print(json.dumps({"ms": 1e3 * dt, "faults": faults, "kept": kept}))
"""


def run_child(H, L, B, keep, threads) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}  # glibc defaults
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(H), str(L), str(B), str(int(keep)), str(threads)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=600,
    )
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.heap_reuse", description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args(argv)
    print(
        f"`python -m bench.heap_reuse --reps {args.reps} --threads {args.threads}` "
        f"(medians of {args.reps} alternating fresh processes per cell; T=64, V=65)\n"
    )
    print("| H | L | B | default: ms/step | faults/step | kept: ms/step | faults/step | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for H, L, B in SHAPES:
        cells = {False: [], True: []}
        for rep in range(args.reps):
            for keep in (False, True) if rep % 2 == 0 else (True, False):
                cells[keep].append(run_child(H, L, B, keep, args.threads))
        med = {
            k: (statistics.median(c["ms"] for c in v), statistics.median(c["faults"] for c in v))
            for k, v in cells.items()
        }
        print(
            f"| {H} | {L} | {B} | {med[False][0]:.2f} | {med[False][1]:.0f} | {med[True][0]:.2f} | "
            f"{med[True][1]:.0f} | **{med[False][0] / med[True][0]:.2f}×** |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
