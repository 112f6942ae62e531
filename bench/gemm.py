"""The GEMM limit: the time a training step would take if it did nothing but its matrix
products, each at the SGEMM speed NumPy's BLAS reaches at that product's shape.

For L layers, T steps, batch B, hidden H, vocabulary V (one-hot input, so layer 0's input
projection is a gather, not a product), the products of one step are:

    per layer, per step t:   h_{t-1} W_hh^T            (B, H) x (H, H)   forward
                             dz_t W_hh                 (B, H) x (H, H)   backward
    per layer, once:         dW_hh = dz^T S_prev       (H, TB) x (TB, H)
    per layer l > 0, once:   x W_ih^T, dz W_ih, dz^T x (TB, H) x (H, H) three times
    head, once:              h W_hy^T (TB,H)x(H,V);  dW_hy (V,TB)x(TB,H);  dh (TB,V)x(V,H)

Model FLOPs = 2 M N K summed over them, i.e. 6 T B (L H^2 + (L-1) H^2 + H V): the issue's
6 T B (H^2 + H V) L "-ish" formula made exact. The limit is the sum of the measured
times, so small per-step products count at their (lower) small-shape speed.
``bench.run`` times ``make_gemm_step`` (all of one step's products, in a row) interleaved
with the systems, so the limit sees the same machine load as they do.
"""

from __future__ import annotations

import time

import numpy as np


def step_gemms(H, L, B, T, V):
    """[(M, K, N, count)] for C (M, N) = A (M, K) @ B (K, N)."""
    TB = T * B
    g = [
        (B, H, H, 2 * T * L),  # forward and backward recurrence
        (H, TB, H, L),  # dW_hh
        (TB, H, V, 1),
        (V, TB, H, 1),
        (TB, V, H, 1),
    ]  # head forward, dW, dh
    if L > 1:
        g += [(TB, H, H, 3 * (L - 1))]  # input projection, its dW and dx, layers 1..L-1
    return g


def model_flops(H, L, B, T, V) -> float:
    return float(sum(2.0 * M * K * N * c for M, K, N, c in step_gemms(H, L, B, T, V)))


def time_gemm(M, K, N, reps=5, min_time=0.02) -> float:
    """Median seconds for one (M, K) x (K, N) float32 matmul with a preallocated output."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = np.empty((M, N), np.float32)
    np.matmul(a, b, out=c)
    n = 1
    while True:  # calibrate: enough calls for min_time
        t0 = time.perf_counter()
        for _ in range(n):
            np.matmul(a, b, out=c)
        dt = time.perf_counter() - t0
        if dt >= min_time or n >= 1 << 16:
            break
        n *= 2
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            np.matmul(a, b, out=c)
        ts.append((time.perf_counter() - t0) / n)
    return float(np.median(ts))


def gemm_limit(H, L, B, T, V, reps=5, min_time=0.02) -> dict:
    """{'flops', 'limit_s', 'gflops'} for one training step at this shape."""
    total = 0.0
    for M, K, N, count in step_gemms(H, L, B, T, V):
        total += count * time_gemm(M, K, N, reps, min_time)
    flops = model_flops(H, L, B, T, V)
    return {"flops": flops, "limit_s": total, "gflops": flops / total / 1e9}


def make_gemm_step(H, L, B, T, V):
    """A closure that runs every matrix product of one training step once (count times
    each, at its shape, into preallocated outputs): timed interleaved with the systems, its
    time is the GEMM limit measured under the same conditions."""
    rng = np.random.default_rng(0)
    jobs = []
    for M, K, N, count in step_gemms(H, L, B, T, V):
        a = rng.standard_normal((M, K)).astype(np.float32)
        b = rng.standard_normal((K, N)).astype(np.float32)
        jobs.append((a, b, np.empty((M, N), np.float32), count))

    def run():
        for a, b, c, count in jobs:
            for _ in range(count):
                np.matmul(a, b, out=c)

    return run


def make_gemv_step(H, L, V):
    """The sampling counterpart of ``make_gemm_step``: a closure that runs the matrix-vector
    products of one generated character, in the forms ``rnnkit.models.stream_step.StreamStep`` uses:

        layer 0:    h_0 @ W_hh0^T              (H,) x (H, H)
        layer k>0:  [W_ih_k W_hh_k] [h_{k-1}; h_k]   (H, 2H) x (2H,)
        head:       W_hy h_{L-1}               (V, H) x (H,)

    Each reads its whole weight matrix (3 MB at H=512, L=2), so a character cannot take
    less than these products at NumPy's SGEMV speed: the sampling limit."""
    rng = np.random.default_rng(0)
    W0T = rng.standard_normal((H, H)).astype(np.float32)
    Wcat = [rng.standard_normal((H, 2 * H)).astype(np.float32) for _ in range(L - 1)]
    W_hy = rng.standard_normal((V, H)).astype(np.float32)
    S = rng.standard_normal(L * H).astype(np.float32)  # (L*H,) all layers' states
    out = np.empty(H, np.float32)
    y = np.empty(V, np.float32)

    def run():
        np.matmul(S[:H], W0T, out=out)
        for k, W in enumerate(Wcat, start=1):
            np.matmul(W, S[(k - 1) * H : (k + 1) * H], out=out)
        np.matmul(W_hy, S[(L - 1) * H :], out=y)

    return run
