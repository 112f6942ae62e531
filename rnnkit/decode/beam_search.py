"""Autoregressive decoding: greedy, sampling with temperature, and beam search.

A model supplies one step, ``step(prev (k,), h, t) -> (logits (k, V), h')``: the token
emitted at step t-1 (BOS at t = 0) and the state go in; logits for the token at t come
out. ``h`` keeps the batch (or beam) on axis 1, as the engine's (L, B, H) states do.

Scores are the model's own log-probabilities, log p(y_1..y_n) = sum_t log softmax(y_t)[y_t],
over the full vocabulary (the same numbers the training loss uses). Tokens in ``banned``
(PAD, BOS: never targets) are never emitted. Sampling draws from

    p_t(v) ∝ exp(logit_t(v) / τ)     over the tokens not banned,

τ → 0 being greedy and τ = 1 the model's distribution. The division is done after
subtracting the max logit (``rnnkit.decode.sampler.tempered_logits``), so a τ as small as 1e-320
gives greedy's tokens rather than overflowing to NaN.

Beam search keeps the ``beam`` most probable unfinished prefixes. Each step extends every
prefix by every token, ranks the candidates by total log-probability and walks down that
list: a candidate ending in EOS becomes a finished hypothesis, any other joins the next
beam, until the beam is full. Since adding a token never raises a score, the search stops
as soon as the best finished hypothesis scores at least as well as the best unfinished
one (with ``length_penalty`` = 0; otherwise when ``beam`` hypotheses have finished). With
beam = 1 this is exactly greedy decoding. Beam search is a heuristic: a wider beam usually,
not provably always, finds a more probable output; a beam as large as the number of
possible outputs finds the most probable one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rnnkit.errors import UserError
from rnnkit.nn.softmax_cross_entropy import log_softmax

from .sampler import tempered_logits

Step = Callable[[np.ndarray, np.ndarray, int], tuple]


def step_logprobs(logits: np.ndarray, banned: Sequence[int] = ()) -> np.ndarray:
    """logits (k, V) -> log p (k, V) in float64, banned tokens at -inf (not renormalised)."""
    lp = log_softmax(np.asarray(logits, dtype=np.float64))
    if len(banned):
        lp[:, list(banned)] = -np.inf
    return lp


def greedy_decode(
    step: Step, h0: np.ndarray, bos_id: int, eos_id: int, max_len: int, banned: Sequence[int] = ()
):
    """Most probable token at each step, for B sequences at once.

    h0 (…, B, …) with the batch on axis 1 -> (seqs, scores): ``seqs`` a list of B token
    lists without EOS, ``scores`` (B,) their log-probabilities (including EOS's, when
    emitted before ``max_len``).
    """
    B = h0.shape[1]
    prev = np.full(B, bos_id, dtype=np.int64)  # (B,)
    alive = np.ones(B, dtype=bool)
    scores = np.zeros(B)
    seqs = [[] for _ in range(B)]
    h = h0
    for t in range(max_len):
        logits, h = step(prev, h, t)  # (B, V)
        lp = step_logprobs(logits, banned)
        tok = lp.argmax(axis=1)  # (B,)
        scores += np.where(alive, lp[np.arange(B), tok], 0.0)
        for b in np.flatnonzero(alive & (tok != eos_id)):
            seqs[b].append(int(tok[b]))
        alive &= tok != eos_id
        if not alive.any():
            break
        prev = tok
    return seqs, scores


def sample(
    step: Step,
    h0: np.ndarray,
    bos_id: int,
    eos_id: int,
    max_len: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int = 0,
    banned: Sequence[int] = (),
):
    """Draw B sequences; returns a list of B token lists without EOS.

    ``temperature`` <= 0 is greedy (callers refuse negative values); a positive one too
    small to scale the logits by tends to greedy too. ``top_k`` > 0 keeps only the k most
    probable tokens.
    """
    if temperature != temperature:  # NaN passes every comparison below
        raise UserError("the sampling temperature must be a number, got nan")
    if temperature <= 0:
        return greedy_decode(step, h0, bos_id, eos_id, max_len, banned)[0]
    B = h0.shape[1]
    prev = np.full(B, bos_id, dtype=np.int64)
    alive = np.ones(B, dtype=bool)
    seqs = [[] for _ in range(B)]
    h = h0
    for t in range(max_len):
        logits, h = step(prev, h, t)  # (B, V)
        # Ban BEFORE tempering, so the max that tempered_logits shifts to 0 is an allowed
        # token's: with a tiny temperature every other entry goes to -inf, and banning the
        # only finite one afterwards would leave a row of -inf (NaN probabilities).
        z = np.array(logits, dtype=np.float64)
        if len(banned):
            z[:, list(banned)] = -np.inf
        lp = step_logprobs(tempered_logits(z, temperature))  # banned: already -inf
        if top_k > 0 and top_k < lp.shape[1]:
            kth = np.sort(lp, axis=1)[:, -top_k][:, None]
            lp = np.where(lp >= kth, lp, -np.inf)
        p = np.exp(lp - lp.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        u = rng.random(B)[:, None]
        tok = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1)  # inverse CDF
        for b in np.flatnonzero(alive & (tok != eos_id)):
            seqs[b].append(int(tok[b]))
        alive &= tok != eos_id
        if not alive.any():
            break
        prev = tok
    return seqs


def beam_search(
    step: Step,
    h0: np.ndarray,
    bos_id: int,
    eos_id: int,
    max_len: int,
    beam: int = 5,
    banned: Sequence[int] = (),
    length_penalty: float = 0.0,
):
    """Beam search for ONE sequence: h0 has batch size 1 on axis 1.

    Returns the hypotheses found, best first, as (tokens without EOS, log-probability)
    pairs. They are ranked by score / n^length_penalty, n counting EOS when emitted.
    """
    if beam < 1:
        raise ValueError(f"beam must be at least 1, got {beam}")
    if h0.shape[1] != 1:
        raise ValueError(f"beam_search decodes one sequence; h0 has batch size {h0.shape[1]}")
    seqs: list[list[int]] = [[]]
    scores = np.zeros(1)  # (k,)
    h = h0
    prev = np.array([bos_id], dtype=np.int64)
    finished: list[tuple[list[int], float, bool]] = []
    for t in range(max_len):
        logits, h = step(prev, h, t)  # (k, V)
        cand = scores[:, None] + step_logprobs(logits, banned)  # (k, V)
        V = cand.shape[1]
        flat = cand.ravel()
        order = np.argsort(-flat, kind="stable")[: 2 * beam]
        rows, toks, new_scores = [], [], []
        for j in order:
            s = flat[j]
            if not np.isfinite(s):
                break
            r, tok = divmod(int(j), V)
            if tok == eos_id:
                finished.append((seqs[r], float(s), True))
            else:
                rows.append(r)
                toks.append(tok)
                new_scores.append(s)
                if len(rows) == beam:
                    break
        if not rows:
            break
        seqs = [seqs[r] + [tok] for r, tok in zip(rows, toks)]
        scores = np.array(new_scores)
        h = h[:, rows]
        prev = np.array(toks, dtype=np.int64)
        if finished:
            if length_penalty == 0.0:
                if max(f[1] for f in finished) >= scores.max():
                    break
            elif len(finished) >= beam:
                break
    else:
        finished.extend((s, float(sc), False) for s, sc in zip(seqs, scores))

    def key(f):
        n = len(f[0]) + (1 if f[2] else 0)
        return f[1] / max(n, 1) ** length_penalty

    finished.sort(key=key, reverse=True)
    return [(f[0], f[1]) for f in finished]
