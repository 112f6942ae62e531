"""Throughput of one training step, chars/s: the torch engine on the GPU vs the NumPy engine.

One step = forward + backward over a (T=64, B=64) chunk + gradient clipping + Adam, the
same work ``rnnkit train`` does per step (L=1, V=65 as tinyshakespeare). GPU times are
taken after warm-up with ``torch.cuda.synchronize``. NumPy runs on this machine's CPU
(its BLAS threads); it is skipped for H=2048 after a time budget is spent.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.optim.optimizers import clip_gradients, make_optimizer

T, B, L, V = 64, 64, 1, 65
HS = (256, 512, 1024, 2048)


def bench(step, sync, min_time=2.0, max_iters=200, warmup=3):
    for _ in range(warmup):
        step()
    sync()
    n, t0 = 0, time.perf_counter()
    while n < max_iters and (time.perf_counter() - t0 < min_time or n < 3):
        step()
        n += 1
    sync()
    return (time.perf_counter() - t0) / n


def train_step(m, opt, h, x, y, clip):
    """One step of ``rnnkit train``: forward and backward over (x, y) from state h, clip, Adam."""
    _, _, cache = m.forward(x, y, h, train=True)
    m.backward(cache)
    clip(m)
    opt.step(1e-3)


def clip_on_the_device(m):
    m.clip_gradients("norm", 5.0)


def clip_in_numpy(m):
    clip_gradients(m.flat.grad, "norm", 5.0)


def main():
    import torch

    from rnnkit.torch.lm_engine import TorchCharRNN

    cuda = torch.cuda.is_available()
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, (T + 1, B))
    x, y = ids[:-1], ids[1:]
    rows = []
    np_budget = 90.0  # seconds for the CPU side
    for H in HS:
        cfg = ModelConfig(vocab_size=V, hidden=H, layers=L)
        row = {"H": H}
        if cuda:
            m = TorchCharRNN(cfg, seed=0, device="cuda")
            opt = m.make_optimizer("adam")
            h = m.zero_state(B)
            gstep = functools.partial(train_step, m, opt, h, x, y, clip_on_the_device)
            row["gpu"] = T * B / bench(gstep, torch.cuda.synchronize)
        if np_budget > 0:
            t0 = time.perf_counter()
            m = CharRNN(cfg, seed=0)
            opt = make_optimizer("adam", m.flat)
            h = m.zero_state(B)
            cstep = functools.partial(train_step, m, opt, h, x, y, clip_in_numpy)
            row["numpy"] = T * B / bench(cstep, lambda: None, min_time=3.0, max_iters=50, warmup=1)
            np_budget -= time.perf_counter() - t0
        rows.append(row)
        print(
            f"  H={H}: " + ", ".join(f"{k} {v:,.0f} chars/s" for k, v in row.items() if k != "H"), flush=True
        )
    name = torch.cuda.get_device_name(0) if cuda else "no GPU"
    print(f"\n| H | torch on {name} (chars/s) | NumPy on CPU (chars/s) | speed-up |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        g, c = r.get("gpu"), r.get("numpy")
        print(
            f"| {r['H']} | {f'{g:,.0f}' if g else '-'} | {f'{c:,.0f}' if c else '-'} | "
            f"{f'{g / c:.1f}x' if g and c else '-'} |"
        )


if __name__ == "__main__":
    main()
