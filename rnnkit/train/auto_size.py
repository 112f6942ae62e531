"""The model size for a time budget: what ``rnnkit train FILE --minutes M`` trains when no
size is given.

A language model learns most per minute when the characters it reads in the budget are a
steady multiple of its parameters (compute-optimal training): too big, and it sees too
little text to fit it; too small, and more steps stop helping. So, for each candidate size
from small to large, this machine's step time is measured (a few timed steps of the real
training step), and the budget's characters are counted:

    steps  = minutes * 60 * (1 - overhead) / step_seconds
    chars  = steps * batch * seq_len
    pick the largest candidate with  chars >= CHARS_PER_PARAM * parameters   (15)

Regularisation follows how often the run will see its text, since a model that sees each
character many times memorises it: none below ``EPOCHS_FOR_DROPOUT`` passes over the training
characters; from there dropout ``DROPOUT``; from ``EPOCHS_FOR_WEIGHT_DECAY`` passes also
AdamW's decoupled weight decay ``WEIGHT_DECAY`` (θ <- θ - lr λ θ each step, then Adam's
update). Weight decay costs progress early and pays once the text has been read many times:
on Tiny Shakespeare (18 passes in 15 minutes) it gained 0.010-0.015 nats, on Debian's
fortunes (4.2 passes in 5 minutes) it lost 0.013 (``docs/shakespeare.md``). A run of at
least ``STEPS_FOR_EMA`` steps also validates and saves a moving average of its weights
(``--ema EMA``, ``optim/average.py``): on Tiny Shakespeare's training text it gained 0.006
nats at the end of 9,000 steps of 2 x 512 and 0.003 on 3 x 384; shorter runs are untried, so
it is left off there.

The constants come from measured runs (``docs/shakespeare.md``): on Tiny Shakespeare
(1.0 M training characters, V = 65) in 15 minutes the best of the sweep, 2 x 512 with a
64-wide embedding and dropout 0.1, read 37 characters per parameter over about 30
epochs; 2 x 768 would have read 8, and trained worse. The 3-minute quickstart on the
standard library's source (12 M characters) reads about 22 per parameter at 2 x 256, and
2 x 384 would read 8. The bound, 15, lies between the sizes that won and those that lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.models.shapes import model_parts, param_count
from rnnkit.optim.optimizers import clip_gradients, make_optimizer

from .heap import keep_freed_memory

# (hidden, layers, embed), smallest first.
CANDIDATES = [(64, 1, 0), (128, 1, 0), (256, 2, 0), (384, 2, 64), (512, 2, 64), (768, 2, 64), (1024, 2, 96)]
CHARS_PER_PARAM = 15  # the least the budget must read per parameter
EPOCHS_FOR_DROPOUT = 4
DROPOUT = 0.1
EPOCHS_FOR_WEIGHT_DECAY = 10
WEIGHT_DECAY = 0.1  # with AdamW; docs/shakespeare.md has the runs that chose it
EMA = 0.999  # the weight average's decay: about the last 1,000 steps
STEPS_FOR_EMA = 5000  # the shortest run that takes it
OVERHEAD = 0.1  # the share of a run spent validating and saving
WARM_UP_STEPS, TIMED_STEPS = 2, 3  # per candidate


@dataclass
class SizeChoice:
    hidden: int
    layers: int
    embed: int
    dropout: float
    optimizer: str
    weight_decay: float
    ema: float
    step_seconds: float
    steps: int
    chars_per_param: float
    epochs: float

    def line(self, minutes: float, n_train: int) -> str:
        """One line: what was picked, and why."""
        emb = f", embed {self.embed}" if self.embed else ""
        wd = f", {self.optimizer} weight decay {self.weight_decay:g}" if self.weight_decay else ""
        wd += f", weight average {self.ema:g}" if self.ema else ""
        return (
            f"size: {self.layers} x {self.hidden}{emb}, dropout {self.dropout:g}{wd}, "
            f"picked for {minutes:g} min (no --hidden/--layers/--embed given): about {self.steps:,} steps at "
            f"{self.step_seconds * 1e3:.0f} ms measured here read {self.chars_per_param:.0f} characters "
            f"per parameter (the largest size with at least {CHARS_PER_PARAM}), "
            f"{self.epochs:.1f} passes over the {n_train:,} training characters"
        )


def measure_step(hidden: int, layers: int, embed: int, V: int, batch: int, seq_len: int) -> float:
    """Seconds per training step (forward, loss, backward, clip, Adam) of this size, here:
    the median of ``TIMED_STEPS`` steps after ``WARM_UP_STEPS`` (the first allocate)."""
    keep_freed_memory()  # as in training: later steps reuse the first one's memory
    model = CharRNN(ModelConfig(vocab_size=V, hidden=hidden, layers=layers, embed=embed), seed=0)
    opt = make_optimizer("adam", model.flat)
    ids = np.random.default_rng(0).integers(0, V, size=(seq_len + 1, batch))  # (T+1, B)
    h = model.zero_state(batch)
    times = []
    for _ in range(WARM_UP_STEPS + TIMED_STEPS):
        t = time.perf_counter()
        _, _, cache = model.forward(ids[:-1], ids[1:], h, train=True)
        model.backward(cache)
        clip_gradients(model.flat.grad, "norm", 5.0)
        opt.step(1e-3)
        times.append(time.perf_counter() - t)
    return float(np.median(times[WARM_UP_STEPS:]))


def pick_size(
    minutes: float,
    n_train: int,
    V: int,
    batch: int,
    seq_len: int,
    step_seconds: Callable[[int, int, int], float] | None = None,
) -> SizeChoice:
    """The largest candidate whose budget reads ``CHARS_PER_PARAM`` characters per parameter
    (the smallest candidate if none does). ``step_seconds(H, L, E)`` times a step (default:
    ``measure_step`` on this machine); candidates are timed from small to large and the
    search stops at the first that falls short, so a big one that cannot win is not built."""
    if step_seconds is None:
        step_seconds = partial(measure_step, V=V, batch=batch, seq_len=seq_len)
    best = None
    for H, L, E in CANDIDATES:
        params = param_count(model_parts(ModelConfig(vocab_size=V, hidden=H, layers=L, embed=E)))
        t = step_seconds(H, L, E)
        steps = int(minutes * 60 * (1 - OVERHEAD) / t)
        chars = steps * batch * seq_len
        epochs = chars / max(n_train, 1)
        decay = epochs >= EPOCHS_FOR_WEIGHT_DECAY
        choice = SizeChoice(
            H,
            L,
            E,
            DROPOUT if epochs >= EPOCHS_FOR_DROPOUT else 0.0,
            "adamw" if decay else "adam",
            WEIGHT_DECAY if decay else 0.0,
            EMA if steps >= STEPS_FOR_EMA else 0.0,
            t,
            steps,
            chars / params,
            epochs,
        )
        if best is None or choice.chars_per_param >= CHARS_PER_PARAM:
            best = choice  # the smallest is kept even when it falls short
        if choice.chars_per_param < CHARS_PER_PARAM:
            break
    return best
