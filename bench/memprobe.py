"""Peak RSS of training steps, measured in a fresh process (so nothing else shares the peak).

    python -m bench.memprobe SYSTEM H L B T [CHUNK]

SYSTEM is ``rnnkit`` or ``torch``. With CHUNK = 0 the step is full-sequence BPTT over all T
characters; with CHUNK > 0 it is truncated BPTT over the same T characters in chunks of
CHUNK (state carried, gradient stopped at chunk edges). Prints one JSON line:

    base_mb  resident set after imports, model, optimizer and data are built
    peak_mb  the process's peak RSS (VmHWM) over build and two steps, imports included
    step_mb  the steps' own peak minus base_mb: what the steps added (VmHWM reset after
             the build where the kernel allows it)
"""

from __future__ import annotations

import json
import os
import resource
import sys


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def probe(system: str, H: int, L: int, B: int, T: int, chunk: int = 0, threads: int | None = None) -> dict:
    from bench import systems as S

    if system == "rnnkit":
        step = S.rnnkit_tbptt(H, L, B, T, chunk=chunk) if chunk else S.rnnkit_train(H, L, B, T)
    elif system == "torch":
        step = (
            S.torch_tbptt(H, L, B, T, chunk=chunk, threads=threads)
            if chunk
            else S.torch_train(H, L, B, T, threads=threads)
        )
    else:
        raise ValueError(f"unknown system {system!r}")
    base = current_rss_mb()
    build_peak = hwm_mb()
    reset = reset_hwm()
    step()
    step()
    steps_peak = hwm_mb()
    # Peak RSS is read as VmHWM (the kernel's high-water mark of this address space), not as
    # ru_maxrss: on Linux ru_maxrss survives fork+exec, so a probe started by a large parent
    # (one that imported torch and jax) would report the parent's size. ru_maxrss is kept
    # in the output for reference. Resetting VmHWM after the build isolates the steps' peak.
    peak = max(build_peak, steps_peak) if reset else steps_peak
    return {
        "system": system,
        "H": H,
        "L": L,
        "B": B,
        "T": T,
        "chunk": chunk,
        "base_mb": base,
        "peak_mb": peak,
        "step_mb": max(steps_peak - base, 0.0) if reset else peak - base,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM
        return True
    except OSError:
        return False


def hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    a = sys.argv[1:]
    threads = int(os.environ.get("BENCH_THREADS", "0")) or None
    from rnnkit.train.heap import keep_freed_memory

    keep_freed_memory()  # as rnnkit's trainers run (rnnkit/train/heap.py)
    print(json.dumps(probe(a[0], *(int(v) for v in a[1:5]), int(a[5]) if len(a) > 5 else 0, threads)))
