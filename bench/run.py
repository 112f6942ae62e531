"""rnnkit benchmark: NumPy engine vs PyTorch vs JAX on the CPU, measured side by side.

    python -m bench.run            # full run, writes docs/latest/benchmarks.md and bench_*.png
    python -m bench.run --quick    # smoke run on tiny shapes, writes to a temp dir

Every number in one table comes from one run: systems are interleaved (each repetition
runs every system once, in a rotated order) and medians are reported, because these
machines are shared and noisy. Sections:

1. training throughput (chars/s) for a full step (forward, CE, backward, clip 5, Adam),
   with the GEMM limit (``bench/gemm.py``) measured at the same shapes in the same run;
2. sampling throughput, one stream;
3. peak RSS of a training step, each measured in a fresh process (``bench/memprobe.py``);
4. scaling: time and memory against T (full BPTT vs truncated), time against H.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

if __package__ in (None, ""):  # also runnable as `python bench/run.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import systems as S  # noqa: E402
from bench.gemm import make_gemm_step, make_gemv_step, model_flops  # noqa: E402
from rnnkit.train.heap import keep_freed_memory  # noqa: E402

V = 65
FULL_SHAPES = [(128, 32, 64), (256, 32, 64), (512, 32, 64), (1024, 64, 64)]  # (H, B, T)
QUICK_SHAPES = [(16, 4, 8)]


# ------------------------------------------------------------------------- timing
def calibrate(fn, budget_s: float) -> int:
    """How many calls of fn fill about budget_s (at least 1)."""
    t0 = time.perf_counter()
    fn()
    dt = max(time.perf_counter() - t0, 1e-6)
    return max(1, int(budget_s / dt))


def interleaved(fns: dict, reps: int, budget_s: float) -> dict:
    """{name: [seconds per call, one per repetition]}; systems interleaved, order rotated."""
    for f in fns.values():
        f()  # warm up
    ns = {k: calibrate(f, budget_s) for k, f in fns.items()}
    names = list(fns)
    out = {k: [] for k in names}
    for r in range(reps):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            f, n = fns[k], ns[k]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            out[k].append((time.perf_counter() - t0) / n)
    return out


def limit_threads(threads: int | None) -> int:
    """Hold NumPy's BLAS to ``threads`` (default: every CPU this process may run on) and
    return the count. Fewer than the usable CPUs also pins the process (and every thread and
    memprobe child it starts later) to that many CPUs: thread-count settings alone do not
    hold every system to them (XLA's CPU runtime still used both cores with --threads 1;
    JAX ran above one core's SGEMM peak)."""
    from threadpoolctl import threadpool_limits  # the report states the BLAS threads: no silent fallback

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = threads or usable
    if threads < usable and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    threadpool_limits(threads)
    return threads


def med(xs) -> float:
    return float(np.median(xs))


# ---------------------------------------------------------------------- sections
def bench_training(shapes, layers, reps, budget_s, threads, use_jax):
    """Rows: one per (H, L), with median seconds per step per system and the GEMM limit."""
    rows = []
    for H, B, T in shapes:
        for L in layers:
            fns = {
                "rnnkit": S.rnnkit_train(H, L, B, T, V),
                "torch": S.torch_train(H, L, B, T, V, threads=threads),
                "rnnkit-torch": S.rnnkit_torch_train(H, L, B, T, V, threads=threads),
            }
            if use_jax:
                fns["jax"] = S.jax_train(H, L, B, T, V)
            fns["limit"] = make_gemm_step(H, L, B, T, V)  # the GEMMs alone
            times = interleaved(fns, reps, budget_s)
            lim = med(times.pop("limit"))
            flops = model_flops(H, L, B, T, V)
            row = {
                "H": H,
                "L": L,
                "B": B,
                "T": T,
                "chars": T * B,
                "time": {k: med(v) for k, v in times.items()},
                "all": times,
                "limit_s": lim,
                "gflops": flops / lim / 1e9,
                "flops": flops,
            }
            rows.append(row)
            print(
                f"  H={H:5d} L={L} "
                + "  ".join(f"{k} {1e3 * t:8.2f} ms" for k, t in row["time"].items())
                + f"  limit {1e3 * lim:.2f} ms",
                flush=True,
            )
    return rows


def bench_sampling(H, L, n, reps, budget_s, threads, use_jax):
    fns = {"rnnkit": S.rnnkit_sampler(H, L, V), "torch": S.torch_sampler(H, L, V, threads=threads)}
    if use_jax:
        fns["jax"] = S.jax_sampler(H, L, V)
    calls = {k: (lambda f=f: f(n)) for k, f in fns.items()}
    gemv = make_gemv_step(H, L, V)

    def limit():  # the GEMVs of n characters, nothing else
        for _ in range(n):
            gemv()

    calls["limit"] = limit
    times = interleaved(calls, reps, budget_s)
    lim = med(times.pop("limit"))
    return {"H": H, "L": L, "n": n, "time": {k: med(v) for k, v in times.items()}, "limit_s": lim}


def memprobe(system, H, L, B, T, chunk=0, threads=None) -> dict:
    env = dict(os.environ)
    if threads:
        env["BENCH_THREADS"] = str(threads)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run(
        [sys.executable, "-m", "bench.memprobe", system, str(H), str(L), str(B), str(T), str(chunk)],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        check=True,
    )
    return json.loads(p.stdout.strip().splitlines()[-1])


def bench_memory(H, L, B, configs, threads, systems=("rnnkit", "torch")):
    """configs: [(T, chunk)]; one fresh process per (system, T, chunk)."""
    rows = []
    for T, chunk in configs:
        for s in systems:
            rows.append(memprobe(s, H, L, B, T, chunk, threads))
    return rows


def bench_time_vs_T(H, L, B, Ts, reps, budget_s, threads, chunk=64):
    rows = []
    for T in Ts:
        fns = {
            "rnnkit full": S.rnnkit_train(H, L, B, T, V),
            "rnnkit tbptt": S.rnnkit_tbptt(H, L, B, T, V, chunk=min(chunk, T)),
            "torch full": S.torch_train(H, L, B, T, V, threads=threads),
        }
        times = interleaved(fns, reps, budget_s)
        rows.append({"T": T, "time": {k: med(v) for k, v in times.items()}})
        print(f"  T={T:5d} " + "  ".join(f"{k} {1e3 * med(v):8.2f} ms" for k, v in times.items()), flush=True)
    return rows


# ------------------------------------------------------------------------ report
def machine_info(threads) -> dict:
    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "pinned": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": threads,
        "platform": platform.platform(),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        info["cpu"] = platform.processor() or "?"
    try:  # NumPy's float32 tanh and exp are SIMD-vectorised only with AVX-512 on x86
        from numpy._core._multiarray_umath import __cpu_features__ as feats

        info["avx512"] = bool(feats.get("AVX512F"))
    except ImportError:
        info["avx512"] = None
    from threadpoolctl import threadpool_info

    info["blas"] = (
        ", ".join(
            f"{d.get('internal_api')} {d.get('version')}, {d.get('architecture', '?')} kernels "
            f"({d.get('num_threads')} threads)"
            for d in threadpool_info()
            if d.get("user_api") == "blas"
        )
        or "?"
    )
    import torch

    info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    if S.jax_available():
        import jax

        info["jax"] = f"{jax.__version__} ({jax.devices()[0].platform})"
    else:
        info["jax"] = "not installed (skipped)"
    return info


def fmt_ms(s):
    return f"{1e3 * s:.2f}" if s < 10 else f"{1e3 * s:.0f}"


def fmt_rate(x):
    return f"{x / 1e3:.1f}k" if x < 1e6 else f"{x / 1e6:.2f}M"


def _time_cell(times: dict, chars: int, system: str) -> str:
    """'1.00 (8.0k)': ``system``'s ms per step (chars/s), or '–' where it did not run."""
    return f"{fmt_ms(times[system])} ({fmt_rate(chars / times[system])})" if system in times else "–"


def training_table(rows) -> list[str]:
    """One row per (H, L). Columns: each system's ms (chars/s), the GEMM limit, rnnkit's
    speed-ups, its share of the limit, and PyTorch / limit: the most any engine whose
    products run at NumPy's SGEMM speed could gain over PyTorch at that shape."""
    has_jax = any("jax" in r["time"] for r in rows)
    has_rt = any("rnnkit-torch" in r["time"] for r in rows)
    cols = ["H", "L", "B×T", "rnnkit ms (chars/s)", "PyTorch ms (chars/s)"]
    cols += ["JAX ms (chars/s)"] if has_jax else []
    cols += ["rnnkit torch engine ms (chars/s)"] if has_rt else []
    cols += ["GEMM limit ms (GFLOP/s)", "rnnkit / PyTorch"] + (["rnnkit / JAX"] if has_jax else [])
    cols += ["rnnkit % of limit", "PyTorch / limit (best possible ×)"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        t, c = r["time"], r["chars"]
        parts = [str(r["H"]), str(r["L"]), f"{r['B']}×{r['T']}", _time_cell(t, c, "rnnkit")]
        parts += [_time_cell(t, c, "torch")]
        parts += [_time_cell(t, c, "jax")] if has_jax else []
        parts += [_time_cell(t, c, "rnnkit-torch")] if has_rt else []
        parts.append(f"{fmt_ms(r['limit_s'])} ({r['gflops']:.0f})")
        parts.append(f"**{t['torch'] / t['rnnkit']:.2f}×**")
        if has_jax:
            parts.append(f"{t['jax'] / t['rnnkit']:.2f}×" if "jax" in t else "–")
        parts.append(f"{100 * r['limit_s'] / t['rnnkit']:.0f}%")
        parts.append(f"{t['torch'] / r['limit_s']:.2f}×")
        lines.append("| " + " | ".join(parts) + " |")
    return lines


def torch_engine_note(rows) -> str:
    """'; in this run it was faster than plain PyTorch at k of n shapes (…)', or ''."""
    rows = [r for r in rows if "rnnkit-torch" in r["time"]]
    if not rows:
        return ""
    k = sum(r["time"]["rnnkit-torch"] < r["time"]["torch"] for r in rows)
    return (
        f"; in this run it was faster than plain PyTorch at {k} of {len(rows)} shapes "
        "(same products; where the rest of the difference comes from was not isolated)"
    )


def render_markdown(cmd, info, train, sampling, memory, tvT, memT, plots) -> str:
    L = [
        "# Benchmarks",
        "",
        "Made by `" + cmd + "` (one run; every table below comes from it).",
        "",
        "Machine: " + f"{info['cpu']}, {info['cpus']} CPUs; Python {info['python']}, NumPy {info['numpy']} "
        f"(BLAS: {info['blas']}); PyTorch {info['torch']}; JAX {info['jax']}. "
        f"Threads: {info['threads']} for NumPy's BLAS (threadpoolctl) and PyTorch (`torch.set_num_threads`); "
        + (
            "JAX/XLA single-threaded (`--xla_cpu_multi_thread_eigen=false`)."
            if info["threads"] == 1
            else "JAX/XLA uses its default pool."
        )
        + (
            f" The process could run on {info['pinned']} CPU(s) only (its affinity mask), so no system "
            "could use more."
            if info.get("pinned") and info["pinned"] < info["cpus"]
            else ""
        )
        + f" Load average at the start: {info.get('load', '?')}."
        + {
            True: " The CPU has AVX-512.",
            False: " The CPU has no AVX-512 (NumPy's float32 tanh and exp are then not vectorised).",
            None: "",
        }[info.get("avx512")]
        + (
            " glibc malloc keeps freed memory for reuse (`rnnkit.train.heap.keep_freed_memory`, as "
            "rnnkit's trainers do), for every system in the process."
            if info.get("heap")
            else ""
        ),
        "",
        "Method: systems are interleaved (each repetition runs each system once, order rotated) and "
        "the median per step is reported. Shared machines are noisy: compare ratios within this "
        "file, not absolute numbers across runs. Model: one-hot (V=65) → L tanh RNN layers → Linear → "
        "softmax cross-entropy; step = forward, loss, backward, global-norm clip 5, Adam. PyTorch runs "
        "`nn.RNN` on one-hot floats (the same parameters as rnnkit), JAX one `jit` of "
        "`value_and_grad` over `lax.scan` plus clip and Adam. float32.",
        "",
    ]
    if train:
        L += ["## Training throughput", ""] + training_table(train)
        L += [
            "",
            "GEMM limit: the step's matrix products only (`bench/gemm.py`: per-step `(B,H)·(H,H)` "
            "forward and backward, `dW_hh`, the layer≥1 input products and the head), run with "
            "NumPy's SGEMM at their own shapes, timed interleaved with the systems; GFLOP/s is the "
            "model FLOPs (6·T·B·((2L−1)·H² + H·V)) over that time. % of limit = limit time / rnnkit time. "
            "PyTorch / limit is the largest speed-up over PyTorch that any engine doing these products "
            "with NumPy's SGEMM could reach (one at 100% of the limit). *rnnkit torch engine*: rnnkit's "
            "own `--engine torch` model (`nn.RNN` + autograd on views of rnnkit's flat buffers, then "
            "rnnkit's clip and Adam), the path that exists for GPUs: on a CPU its forward and "
            "backward run at PyTorch's speed" + torch_engine_note(train) + ".",
            "",
        ]
    if sampling:
        t = sampling["time"]
        L += [
            "## Sampling (one stream)",
            "",
            f"H={sampling['H']}, L={sampling['L']}, {sampling['n']} characters per call, each drawn from the "
            "softmax and fed back. rnnkit: `rnnkit.decode.lm.lm_sample` (the `rnnkit sample` path: fused "
            "`StreamStep` + Gumbel-max draw); PyTorch: `nn.RNN` + `Linear` "
            "step loop under `no_grad` with `torch.multinomial`; JAX: one jitted step (cell + "
            "`random.categorical`) called per character.",
            "",
            "| system | µs / char | chars/s | rnnkit speed-up |",
            "|---|---|---|---|",
        ]
        for k, v in t.items():
            per = v / sampling["n"]
            L.append(f"| {k} | {1e6 * per:.1f} | {fmt_rate(1 / per)} | {v / t['rnnkit']:.2f}× |")
        if "limit_s" in sampling:
            lim = sampling["limit_s"]
            L += [
                "",
                f"GEMV limit: the character's matrix-vector products alone (`bench/gemm.py`, "
                f"`make_gemv_step`, in `StreamStep`'s forms, timed interleaved with the systems): "
                f"{1e6 * lim / sampling['n']:.1f} µs/char. rnnkit runs at "
                f"{100 * lim / t['rnnkit']:.0f}% of it; the largest speed-up over PyTorch that any "
                f"sampler doing these products with NumPy's SGEMV could reach is "
                f"{t['torch'] / lim:.2f}×.",
            ]
        L.append("")
    if memory:
        L += [
            "## Peak memory of a training step",
            "",
            "Each cell is a fresh process (`python -m bench.memprobe`). *peak*: the process's peak RSS, "
            "read as VmHWM because `ru_maxrss` survives fork+exec and would report the parent's size "
            "(imports included: PyTorch's own libraries are most of its base); *step*: the steps' own "
            "peak above the resident size after building model, optimizer and data (high-water mark "
            "reset after the build).",
            "",
            "| H | L | B | T | chunk | rnnkit step MB | PyTorch step MB | rnnkit / PyTorch (step) | "
            "rnnkit peak MB | PyTorch peak MB | rnnkit / PyTorch (peak) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        by = {}
        for r in memory:
            by.setdefault((r["H"], r["L"], r["B"], r["T"], r["chunk"]), {})[r["system"]] = r
        for (H, Ll, B, T, ch), d in by.items():
            if "rnnkit" in d and "torch" in d:
                a, b = d["rnnkit"], d["torch"]
                L.append(
                    f"| {H} | {Ll} | {B} | {T} | {ch or 'full BPTT'} "
                    f"| {a['step_mb']:.0f} | {b['step_mb']:.0f} "
                    f"| **{a['step_mb'] / max(b['step_mb'], 1e-9):.2f}×** "
                    f"| {a['peak_mb']:.0f} | {b['peak_mb']:.0f} | "
                    f"{a['peak_mb'] / b['peak_mb']:.2f}× |"
                )
        L.append("")
    if tvT or memT:
        L += ["## Scaling", ""]
    if tvT:
        keys = list(tvT[0]["time"])
        r0 = tvT[0]
        L += [
            f"Time per step against T (H={r0['H']}, B={r0['B']}, L={r0['L']}; TBPTT in chunks of 64, "
            "state carried). Per character, full BPTT and TBPTT both stay flat: time is linear in T.",
            "",
            "| T | " + " | ".join(f"{k} ms (µs/char)" for k in keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        for r in tvT:
            chars = r["T"] * r["B"]
            L.append(
                f"| {r['T']} | "
                + " | ".join(f"{fmt_ms(r['time'][k])} ({1e6 * r['time'][k] / chars:.2f})" for k in keys)
                + " |"
            )
        L.append("")
    if memT:
        r0 = memT[0]
        L += [
            f"Step memory (MB above base; H={r0['H']}, B={r0['B']}, L={r0['L']}) against T: "
            "full BPTT keeps every state of the sequence, so it "
            "grows linearly; TBPTT (chunks of 64) only keeps one chunk's, so it stays flat.",
            "",
            "| system | T | full BPTT step MB | TBPTT step MB |",
            "|---|---|---|---|",
        ]
        by = {}
        for r in memT:
            by.setdefault((r["system"], r["T"]), {})[r["chunk"]] = r["step_mb"]
        for (s, T), d in sorted(by.items()):
            full = d.get(0)
            tb = next((v for k, v in d.items() if k), None)
            L.append(
                f"| {s} | {T} | {full:.0f} | {tb:.0f} |"
                if full is not None and tb is not None
                else f"| {s} | {T} | {full} | {tb} |"
            )
        L.append("")
    if plots:
        L += ["## Plots", ""] + [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in plots] + [""]
    return "\n".join(L)


def make_plots(outdir, train, tvT, memT, tag="bench") -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    Ls = sorted({r["L"] for r in train})
    fig, axes = plt.subplots(1, len(Ls), figsize=(5.5 * len(Ls), 4), squeeze=False)
    for ax, Ll in zip(axes[0], Ls):
        rows = [r for r in train if r["L"] == Ll]
        Hs = [r["H"] for r in rows]
        for k in rows[0]["time"]:
            ax.plot(Hs, [r["chars"] / r["time"][k] for r in rows], "o-", label=k)
        ax.plot(Hs, [r["chars"] / r["limit_s"] for r in rows], "k--", label="GEMM limit")
        ax.set(xscale="log", yscale="log", xlabel="H", ylabel="training chars/s", title=f"L={Ll}")
        ax.set_xticks(Hs, [str(h) for h in Hs])
        ax.legend()
    fig.tight_layout()
    p = os.path.join(outdir, f"{tag}_throughput.png")
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)
    if tvT or memT:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        if tvT:
            Ts = [r["T"] for r in tvT]
            for k in tvT[0]["time"]:
                axes[0].plot(Ts, [1e3 * r["time"][k] for r in tvT], "o-", label=k)
            axes[0].set(
                xscale="log",
                yscale="log",
                xlabel="T",
                ylabel="ms per step",
                title=f"time vs T (H={tvT[0]['H']}, B={tvT[0]['B']}, L={tvT[0]['L']})",
            )
            axes[0].legend()
        if memT:
            for s in sorted({r["system"] for r in memT}):
                for ch, style in ((0, "o-"), (1, "s--")):
                    rs = sorted(
                        [r for r in memT if r["system"] == s and bool(r["chunk"]) == bool(ch)],
                        key=lambda r: r["T"],
                    )
                    if rs:
                        axes[1].plot(
                            [r["T"] for r in rs],
                            [r["step_mb"] for r in rs],
                            style,
                            label=f"{s} {'TBPTT' if ch else 'full BPTT'}",
                        )
            r0 = memT[0]
            axes[1].set(
                xscale="log",
                xlabel="T (characters per step)",
                ylabel="step MB (peak above base)",
                title=f"memory vs T (H={r0['H']}, B={r0['B']}, L={r0['L']})",
            )
            axes[1].legend()
        fig.tight_layout()
        p = os.path.join(outdir, f"{tag}_scaling.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


# -------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="tiny shapes, one repetition: a smoke run (seconds)")
    ap.add_argument(
        "--out", default=None, help="output folder (default docs/latest/, or a temp dir with --quick)"
    )
    ap.add_argument("--reps", type=int, default=None, help="interleaved repetitions per shape (default 7)")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS and torch threads (default: every CPU this process may run on)",
    )
    ap.add_argument("--no-jax", action="store_true", help="skip JAX even if it is installed")
    ap.add_argument(
        "--sections",
        default="train,sample,memory,scaling",
        help="comma-separated subset of train,sample,memory,scaling",
    )
    args = ap.parse_args(argv)
    threads = limit_threads(args.threads)
    heap = keep_freed_memory()  # as rnnkit's trainers run (rnnkit/train/heap.py)
    if threads == 1 and "jax" not in sys.modules:  # XLA's CPU pool must be set before import
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
        ).strip()
    import torch

    torch.set_num_threads(threads)
    use_jax = S.jax_available() and not args.no_jax
    q = args.quick
    reps = args.reps or (1 if q else 7)
    budget = 0.02 if q else 0.25
    outdir = args.out or (
        tempfile.mkdtemp(prefix="rnnkit-bench-")
        if q
        else os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "latest")
    )
    os.makedirs(outdir, exist_ok=True)
    sections = set(args.sections.split(","))
    cmd = "python -m bench.run" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    info = machine_info(threads)
    info["heap"] = heap
    print(json.dumps(info), flush=True)

    train = sampling = memory = tvT = memT = None
    if "train" in sections:
        print("training:", flush=True)
        train = bench_training(
            QUICK_SHAPES if q else FULL_SHAPES, [1] if q else [1, 2], reps, budget, threads, use_jax
        )
    if "sample" in sections:
        print("sampling:", flush=True)
        sampling = bench_sampling(
            16 if q else 512, 1 if q else 2, 20 if q else 300, reps, budget, threads, use_jax
        )
        print(
            "  "
            + "  ".join(f"{k} {1e6 * v / sampling['n']:.1f} us/char" for k, v in sampling["time"].items())
            + f"  limit {1e6 * sampling['limit_s'] / sampling['n']:.1f} us/char",
            flush=True,
        )
    if "memory" in sections:
        print("memory:", flush=True)
        if q:
            memory = bench_memory(16, 1, 4, [(16, 0)], threads, systems=("rnnkit",))
        else:
            memory = bench_memory(512, 2, 32, [(256, 0), (2048, 0), (2048, 64)], threads)
        for r in memory:
            print("  ", r, flush=True)
    if "scaling" in sections:
        print("scaling:", flush=True)
        H, Ll, B = (16, 1, 4) if q else (256, 1, 32)
        Ts = [8, 16] if q else [32, 64, 128, 256, 512, 1024]
        tvT = bench_time_vs_T(H, Ll, B, Ts, max(1, reps // 2), budget, threads, chunk=8 if q else 64)
        for r in tvT:
            r.update(H=H, L=Ll, B=B)
        mTs = [8, 16] if q else [64, 256, 1024, 2048]
        memT = []
        for T in mTs:
            for s in ("rnnkit",) if q else ("rnnkit", "torch"):
                memT.append(memprobe(s, 512 if not q else 16, 1, 32 if not q else 4, T, 0, threads))
                memT.append(
                    memprobe(s, 512 if not q else 16, 1, 32 if not q else 4, T, 8 if q else 64, threads)
                )
    plots = make_plots(outdir, train, tvT, memT) if train else []
    md = render_markdown(cmd, info, train or [], sampling, memory, tvT, memT, plots)
    path = os.path.join(outdir, "benchmarks.md")
    with open(path, "w") as f:
        f.write(md + "\n")
    with open(os.path.join(outdir, "benchmarks.json"), "w") as f:
        json.dump(
            {
                "info": info,
                "train": [{k: v for k, v in r.items() if k != "all"} for r in train or []],
                "sampling": sampling,
                "memory": memory,
                "time_vs_T": tvT,
                "memory_vs_T": memT,
            },
            f,
            indent=1,
        )
    print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
