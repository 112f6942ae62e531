"""Which decay for ``--ema``: one training run, several weight averages scored side by side.

Trains the second-round recipe of docs/shakespeare.md (2 x 512, embed 64, dropout 0.1, AdamW
weight decay 0.1, cosine over 9,000 steps) on TRAIN's first 90% with rnnkit's own trainer,
and from step START keeps one average per decay, θ̄ <- d θ̄ + (1 - d) θ after every step (no
warm-up: each starts as a copy of θ at START). Every 1,000 steps (and at 7,500 and 8,500) it
prints one JSON line: the validation loss (TRAIN's last 10%) of θ and of each average.

    python scripts/ema_decays.py TRAIN OUT        # e.g. shk_train90.txt runs/ema
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rnnkit.train import checkpoint as ckpt
from rnnkit.train import lm_trainer
from rnnkit.train.evaluate import evaluate_ids
from rnnkit.train.heap import keep_freed_memory
from rnnkit.train.lm_config import TrainConfig

DECAYS = (0.999, 0.9995, 0.9998)
START, STEPS = 4500, 9000


def main(train: str, out: str) -> None:
    cfg = TrainConfig(
        files=[train], hidden=512, layers=2, embed=64, dropout=0.1, batch=32, seq_len=64,
        optimizer="adamw", weight_decay=0.1, lr=2e-3, schedule="cosine", warmup=200, min_lr=1e-4,
        clip=5.0, max_steps=STEPS, val_chars=0, seed=1337,
    )  # fmt: skip
    claim = ckpt.RunClaim()
    claim.__enter__()  # the run directory stays claimed for the whole script
    trainer = lm_trainer.start_run(cfg, Path(out), True, lambda line: None, claim)
    keep_freed_memory()
    flat = trainer.model.flat
    averages = {}

    def score(weights=None) -> float:
        held = flat.data.copy()
        if weights is not None:
            flat.data[:] = weights
        loss = evaluate_ids(trainer.model, trainer.data.val_ids())["loss_nats"]
        flat.data[:] = held
        return round(loss, 4)

    while trainer.step < STEPS:
        trainer.train_step()
        if trainer.step == START:
            averages = {d: flat.data.copy() for d in DECAYS}
        for d, avg in averages.items():
            if trainer.step > START:
                avg *= d
                avg += (1 - d) * flat.data
        if trainer.step % 1000 == 0 or trainer.step in (7500, 8500):
            row = {"step": trainer.step, "raw": score()}
            if trainer.step >= 6000:
                row.update({str(d): score(avg) for d, avg in averages.items()})
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
