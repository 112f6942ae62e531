"""Evaluation of a language model, in nats, bits per character and perplexity.

The text c_1..c_N is read as ONE sequence from a zero state, the state carried
throughout (chunking only bounds memory; it does not reset anything):

    loss = -1/(N-1) sum_{t=1}^{N-1} log p(c_{t+1} | c_1..c_t)      nats per character
    bpc  = loss / ln 2,      perplexity = exp(loss)
"""
from __future__ import annotations

import math

import numpy as np
from tqdm import tqdm


def metrics_from_nats(loss_nats: float) -> dict:
    return {"loss_nats": loss_nats, "bpc": loss_nats / math.log(2),
            "perplexity": math.exp(min(loss_nats, 700.0))}


def evaluate_ids(model, ids, chunk: int = 512, progress: bool = False, desc: str = "eval") -> dict:
    """ids (N,) (array or memmap) -> {loss_nats, bpc, perplexity, chars: N, predictions: N-1}."""
    N = len(ids)
    if N < 2:
        raise ValueError("evaluation needs at least 2 characters")
    h = model.zero_state(1)                                                 # (L, 1, H)
    total, count = 0.0, 0
    bar = tqdm(total=N - 1, desc=desc, unit="char", disable=not progress, leave=False)
    for s in range(0, N - 1, chunk):
        e = min(s + chunk, N - 1)
        block = np.asarray(ids[s:e + 1], dtype=np.int64)[:, None]         # (T+1, 1)
        _, h, cache = model.forward(block[:-1], block[1:], h, need_grad=False)
        total += cache["total"]
        count += cache["count"]
        bar.update(e - s)
    bar.close()
    out = metrics_from_nats(total / count)
    out.update(chars=int(N), predictions=int(count))
    return out
