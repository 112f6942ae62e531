"""Training-step times of several model sizes, measured side by side in one process.

Each size is a real run of rnnkit's trainer on TEXT (embed 64, dropout 0.1, AdamW weight decay
0.1, B = 32, T = 64); the sizes take turns, 15 timed steps each, six rounds, so that a change
in the machine's speed falls on all of them alike. Prints each size's median ms per step: the
ratio converts a budget in minutes into equal budgets in steps (docs/shakespeare.md).

    python scripts/step_times.py TEXT OUT 512x2 384x3       # HIDDENxLAYERS ...
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from rnnkit.train import checkpoint as ckpt
from rnnkit.train import lm_trainer
from rnnkit.train.heap import keep_freed_memory
from rnnkit.train.lm_config import TrainConfig

ROUNDS, WARM, TIMED = 6, 3, 15


def main(text: str, out: str, sizes: list[str]) -> None:
    keep_freed_memory()
    trainers = {}
    for size in sizes:
        hidden, layers = (int(x) for x in size.split("x"))
        cfg = TrainConfig(
            files=[text], hidden=hidden, layers=layers, embed=64, dropout=0.1, batch=32, seq_len=64,
            optimizer="adamw", weight_decay=0.1, val_chars=0, seed=1337,
        )  # fmt: skip
        claim = ckpt.RunClaim()
        claim.__enter__()  # each run directory stays claimed for the whole script
        trainers[size] = lm_trainer.start_run(cfg, Path(out) / size, True, lambda line: None, claim)
    times: dict[str, list[float]] = {size: [] for size in sizes}
    for _ in range(ROUNDS):
        for size, trainer in trainers.items():
            for _ in range(WARM):
                trainer.train_step()
            t = time.perf_counter()
            for _ in range(TIMED):
                trainer.train_step()
            times[size].append((time.perf_counter() - t) / TIMED)
    for size, ts in times.items():
        rounds = ", ".join(f"{t * 1e3:.0f}" for t in ts)
        print(f"{size}: {statistics.median(ts) * 1e3:.1f} ms/step (rounds: {rounds})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
