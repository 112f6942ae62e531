"""The median time of rnnkit's NumPy training step at one shape, for A/B runs of two trees.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \\
        PYTHONPATH=TREE taskset -c 1 python bench/step_time.py 128 2      # H, L

prints milliseconds per step (forward, loss, backward, global-norm clip 5, Adam; one-hot
V=65, 32 streams x 64 steps): the median of 15 timings of 20 steps each, after 20 warm-up
steps. Run it alternately for two trees (say, before and after a change) to compare them
on a noisy machine. It imports the layered package, or the flat one of before the
restructuring (commit 7ec723e), so both trees can be timed with the same script.
"""

from __future__ import annotations

import sys
import time

import numpy as np

try:
    from rnnkit.models.char_rnn import CharRNN, ModelConfig
    from rnnkit.optim.optimizers import clip_gradients, make_optimizer
except ImportError:  # the flat layout of before the restructuring
    from rnnkit.char_rnn import CharRNN, ModelConfig
    from rnnkit.optim import clip_gradients, make_optimizer


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    H, L = int(argv[0]), int(argv[1])
    m = CharRNN(ModelConfig(vocab_size=65, hidden=H, layers=L), seed=0)
    opt = make_optimizer("adam", m.flat)
    ids = np.random.default_rng(0).integers(0, 65, size=(65, 32))  # (T+1, B)
    h = m.zero_state(32)

    def step():
        _, _, cache = m.forward(ids[:-1], ids[1:], h, train=True)
        m.backward(cache)
        clip_gradients(m.flat.grad, "norm", 5.0)
        opt.step(1e-3)

    for _ in range(20):
        step()
    times = []
    for _ in range(15):
        t = time.perf_counter()
        for _ in range(20):
            step()
        times.append((time.perf_counter() - t) / 20)
    print(f"{np.median(times) * 1e3:.3f}")


if __name__ == "__main__":
    main()
