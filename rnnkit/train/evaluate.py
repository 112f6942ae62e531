"""Evaluation of a language model, in nats, bits per character and perplexity.

The text c_1..c_N is read as ONE sequence from a zero state, the state carried
throughout (chunking only bounds memory; it does not reset anything):

    loss = -1/(N-1) sum_{t=1}^{N-1} log p(c_{t+1} | c_1..c_t)      nats per character
    bpc  = loss / ln 2,      perplexity = exp(loss)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from rnnkit.data.vocab import KnownIds, Vocab
from rnnkit.errors import RnnkitError
from rnnkit.models.char_rnn import CharRNN

if TYPE_CHECKING:  # it imports torch, which only the torch engine loads
    from rnnkit.torch.lm_engine import TorchCharRNN


def metrics_from_nats(loss_nats: float) -> dict:
    return {
        "loss_nats": loss_nats,
        "bpc": loss_nats / math.log(2),
        "perplexity": math.exp(min(loss_nats, 700.0)),
    }


def evaluate_ids(model: CharRNN | TorchCharRNN, ids: np.ndarray, chunk: int = 512) -> dict:
    """ids (N,) (array or memmap) -> {loss_nats, bpc, perplexity, chars: N, predictions: N-1}."""
    N = len(ids)
    if N < 2:
        raise ValueError("evaluation needs at least 2 characters")
    step = max(chunk, 1 << 16)  # a memmap is read 64 Ki ids at a time
    return evaluate_pieces(model, (ids[s : s + step] for s in range(0, N, step)), chunk, total=N - 1)


def evaluate_pieces(
    model: CharRNN | TorchCharRNN,
    pieces: Iterable[np.ndarray],
    chunk: int = 512,
    progress: bool = False,
    total: int | None = None,
    what: str = "the text",
) -> dict:
    """``evaluate_ids`` of the ids in ``pieces`` (id arrays of any sizes) joined, holding one
    piece at a time, so memory does not grow with the text.

    The model runs on the same blocks as over the joined array: ``chunk`` predictions
    each, counted from the first id, the state carried, so the result is the same number
    however the ids are cut into pieces. ``total``: predictions, for the progress bar
    (None: unknown). Fewer than 2 ids raise a ``RnnkitError`` naming ``what``.
    """
    h = model.zero_state(1)  # (L, 1, H)
    loss_sum, count, n = 0.0, 0, 0
    rest = np.zeros(0, dtype=np.int64)  # ids not yet scored as inputs (< chunk + 1 of them)
    bar = tqdm(total=total, desc="eval", unit="char", disable=not progress, leave=False)

    def run(block: np.ndarray) -> None:  # block (T+1,): T inputs and their next characters
        nonlocal h, loss_sum, count
        block = block[:, None]  # (T+1, 1)
        _, h, cache = model.forward(block[:-1], block[1:], h, need_grad=False)
        loss_sum += cache["total"]
        count += cache["count"]
        bar.update(len(block) - 1)

    for piece in pieces:
        n += len(piece)
        buf = np.concatenate([rest, np.asarray(piece, dtype=np.int64)])
        s = 0
        while len(buf) - s > chunk:  # a whole block; its last id starts the next one
            run(buf[s : s + chunk + 1])
            s += chunk
        rest = buf[s:]
    if n < 2:
        bar.close()
        raise RnnkitError(f"{what} has {n} characters; evaluation needs at least 2")
    if len(rest) >= 2:  # the last, shorter block
        run(rest)
    bar.close()
    out = metrics_from_nats(loss_sum / count)
    out.update(chars=int(n), predictions=int(count))
    return out


def evaluate_text(
    model: CharRNN | TorchCharRNN,
    vocab: Vocab,
    pieces: Iterable[str],
    what: str,
    unknown: str = "error",
    progress: bool = False,
    hint: str = "",
) -> dict:
    """``evaluate_pieces`` of a text given as string ``pieces`` (read one at a time), plus
    ``skipped``: the characters outside ``vocab``. ``unknown="error"`` refuses a text that has
    any (one line naming them, then ``hint``); ``"skip"`` scores the text as if they were
    absent and counts them. What ``rnnkit eval`` prints and ``CharLM.evaluate`` returns."""
    if unknown == "skip":
        ids = KnownIds(vocab, pieces)
        what = f"{what} without the characters outside the vocabulary"
    elif unknown == "error":
        ids = vocab.encode_pieces(pieces, what, hint=hint)
    else:
        raise RnnkitError(f"`unknown` must be 'error' or 'skip', got {unknown!r}")
    r = evaluate_pieces(model, ids, progress=progress, what=what)
    r["skipped"] = ids.skipped if unknown == "skip" else 0  # error: a text with any is refused
    return r
