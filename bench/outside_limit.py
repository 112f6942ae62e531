"""What the GEMM limit leaves out: the work of one training step that is not among its
matrix products (``bench/gemm.py``), timed at one shape next to the limit and the whole
rnnkit step, interleaved.

The GEMM limit counts the products a step cannot avoid. A one-hot model's step also does:

    dW_ih (H, V) = sum over the T*B rows of dz_t into the column of x_t    (scatter-add)
    softmax + cross-entropy and its gradient over the (T*B, V) logits
    tanh over the (T, B, H) states, and 1 - h^2 for the backward
    global-norm clip and Adam over every parameter

Each is timed here with NumPy as rnnkit runs it (the scatter-add also as a sort and
``np.add.reduceat``, the other way NumPy can do it). Their sum plus the limit is a floor
for a NumPy engine at that shape, and PyTorch's step (same threads) over that floor is the
largest speed-up such an engine could show; ``python -m bench.outside_limit --H 128 --threads 1``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rnnkit.train.heap import keep_freed_memory

from .gemm import make_gemm_step
from .run import interleaved, limit_threads, med
from .systems import make_batch, rnnkit_train, torch_train


def parts(H, L, B, T, V=65, seed=0, threads=None) -> dict:
    """{name: zero-argument callable} for each piece of non-product work, plus the limit and
    the whole rnnkit and PyTorch steps."""
    from rnnkit import CharRNN, ModelConfig
    from rnnkit.nn.embedding import _sorted_segments, scatter_add_cols
    from rnnkit.nn.softmax_cross_entropy import softmax_cross_entropy
    from rnnkit.optim.optimizers import clip_gradients, make_optimizer

    rng = np.random.default_rng(seed)
    N = T * B
    ids, tgt = make_batch(V, T, B, seed)
    dz = rng.standard_normal((N, H)).astype(np.float32)  # (T*B, H)
    dW = np.empty((H, V), np.float32)  # (H, V)
    logits = rng.standard_normal((N, V)).astype(np.float32)  # (T*B, V), left unchanged
    S = np.tanh(rng.standard_normal((L, N, H))).astype(np.float32)  # (L, T*B, H)
    Sw = np.empty_like(S)
    model = CharRNN(ModelConfig(vocab_size=V, hidden=H, layers=L), seed=seed)
    opt = make_optimizer("adam", model.flat)
    flat_ids = ids.reshape(-1)

    def dW_ih_sorted():  # scatter_add_cols' path for a large V, here at V = 65
        order, u, starts = _sorted_segments(flat_ids)
        dW[...] = 0
        dW[:, u] = np.add.reduceat(dz[order], starts, axis=0).T

    def tanh_and_derivative():
        np.tanh(S, out=Sw)
        np.multiply(Sw, Sw, out=Sw)
        np.subtract(1.0, Sw, out=Sw)

    def clip_adam():
        clip_gradients(model.flat.grad, "norm", 5.0)
        opt.step(2e-3)

    return {
        "dW_ih (product, as rnnkit)": lambda: scatter_add_cols(dW, ids, dz),
        "dW_ih (sort + reduceat)": dW_ih_sorted,
        "softmax + cross-entropy + gradient": lambda: softmax_cross_entropy(logits, tgt),
        "tanh and 1 - h^2 (all layers)": tanh_and_derivative,
        "clip + Adam": clip_adam,
        "GEMM limit": make_gemm_step(H, L, B, T, V),
        "rnnkit step": rnnkit_train(H, L, B, T, V, seed),
        "PyTorch step": torch_train(H, L, B, T, V, seed, threads),
    }


def measure(H, L, B, T, reps=7, threads=None, budget_s=0.05) -> dict:
    """{name: median ms per step} for every entry of ``parts``, plus ``floor``: the GEMM
    limit + the faster of the two dW_ih ways + the rest of the non-product work."""
    t = {k: med(v) * 1e3 for k, v in interleaved(parts(H, L, B, T, threads=threads), reps, budget_s).items()}
    dW = min(v for k, v in t.items() if k.startswith("dW_ih"))
    rest = sum(v for k, v in t.items() if not k.startswith("dW_ih") and not k.endswith(("step", "limit")))
    t["floor"] = t["GEMM limit"] + dW + rest
    return t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.outside_limit", description=__doc__.split("\n\n")[0])
    ap.add_argument("--H", type=int, default=128)
    ap.add_argument("--L", type=int, default=1)
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--T", type=int, default=64)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS threads (default: every usable CPU; fewer pins the process)",
    )
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args(argv)
    threads = limit_threads(args.threads)
    keep_freed_memory()  # as rnnkit's trainers run (rnnkit/train/heap.py)

    t = measure(args.H, args.L, args.B, args.T, args.reps, threads)
    step, torch_step, limit, floor = (
        t.pop(k) for k in ("rnnkit step", "PyTorch step", "GEMM limit", "floor")
    )
    print(
        f"`python -m bench.outside_limit --H {args.H} --L {args.L} --B {args.B} --T {args.T} "
        f"--threads {threads}` (medians of {args.reps} interleaved repetitions)\n"
    )
    print("| work | ms per step |\n|---|---|")
    for k, v in t.items():
        print(f"| {k} | {v:.3f} |")
    print(f"| GEMM limit | {limit:.3f} |")
    print(f"| **floor**: limit + the faster dW_ih + the rest | **{floor:.3f}** |")
    print(f"| rnnkit step | {step:.3f} |")
    print(f"| PyTorch step | {torch_step:.3f} |")
    print(
        f"\nrnnkit / PyTorch: {torch_step / step:.2f}×; PyTorch / floor (the most a NumPy engine "
        f"doing this work at these speeds could gain): {torch_step / floor:.2f}×; rnnkit at "
        f"{100 * floor / step:.0f}% of the floor."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
