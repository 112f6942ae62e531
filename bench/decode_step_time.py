"""The median time of one decoding step, ``CharRNN.step`` (the forward pass for T = 1), for A/B
runs of two trees:

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=TREE python bench/decode_step_time.py 512 3 4    # H, L, B

prints microseconds per step (one-hot V=65, B rows, as a beam search of width B steps): the
median of 7 timings of 500 steps each, after 200 warm-up steps, on one BLAS thread.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from rnnkit.models.char_rnn import CharRNN, ModelConfig


def main(argv: list[str] | None = None) -> None:
    H, L, B = (int(a) for a in (sys.argv[1:] if argv is None else argv))
    model = CharRNN(ModelConfig(vocab_size=65, hidden=H, layers=L), seed=0)
    ids, h = np.arange(B) % 65, model.zero_state(B)  # (B,), (L, B, H)
    with threadpool_limits(1):
        for _ in range(200):
            model.step(ids, h)
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(500):
                model.step(ids, h)
            times.append((time.perf_counter() - t0) / 500 * 1e6)
    print(f"{sorted(times)[3]:.1f}")


if __name__ == "__main__":
    main()
