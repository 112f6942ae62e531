"""Beam search: the most probable output, searched with ``beam`` hypotheses at once. One search
for the LM (``rnnkit sample --beam``: a fixed length) and seq2seq (``seq2seq predict
--beam``: up to EOS).

Scores are the model's own log-probabilities, log p(y_1..y_n) = sum_t log softmax(y_t)[y_t],
over the full vocabulary (the same numbers the training loss uses); tokens in ``banned``
(PAD, BOS: never targets) are never emitted.

The search keeps the ``beam`` most probable unfinished prefixes. Each step extends every
prefix by every token, ranks the candidates by total log-probability and walks down that
list: a candidate ending in EOS becomes a finished hypothesis, any other joins the next
beam, until the beam is full. Since adding a token never raises a score, the search stops
as soon as the best finished hypothesis scores at least as well as the best unfinished
one (with ``length_penalty`` = 0; otherwise when ``beam`` hypotheses have finished). Without
EOS (the LM) it runs ``max_len`` steps. With beam = 1 this is exactly greedy decoding. Beam
search is a heuristic: a wider beam usually, not provably always, finds a more probable
output; a beam as large as the number of possible outputs finds the most probable one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .sampler import Step, step_logprobs


def beam_search(
    step: Step,
    logits: np.ndarray,
    h: np.ndarray,
    max_len: int,
    beam: int = 5,
    eos_id: int | None = None,
    banned: Sequence[int] = (),
    length_penalty: float = 0.0,
) -> list[tuple[list[int], float]]:
    """Beam search for ONE sequence: ``logits`` (1, V) are its first token's and ``h`` the
    state they came with (batch 1 on axis 1); ``step(ids (k,), h) -> (logits (k, V), h)``.

    Returns the hypotheses found, best first, as (tokens without EOS, log-probability)
    pairs. They are ranked by score / n^length_penalty, n counting EOS when emitted.
    """
    if beam < 1:
        raise ValueError(f"beam must be at least 1, got {beam}")
    if len(logits) != 1:
        raise ValueError(f"beam_search decodes one sequence; got {len(logits)} rows of logits")
    seqs: list[list[int]] = [[]]
    scores = np.zeros(1)  # (k,)
    finished: list[tuple[list[int], float, bool]] = []
    for t in range(max_len):
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
        if finished:
            if length_penalty == 0.0:
                if max(f[1] for f in finished) >= scores.max():
                    break
            elif len(finished) >= beam:
                break
        if t + 1 < max_len:
            logits, h = step(np.array(toks, dtype=np.int64), h[:, rows])  # (k, V)
    else:
        finished.extend((s, float(sc), False) for s, sc in zip(seqs, scores))

    def key(f: tuple[list[int], float, bool]) -> float:
        n = len(f[0]) + (1 if f[2] else 0)
        return f[1] / max(n, 1) ** length_penalty

    finished.sort(key=key, reverse=True)
    return [(f[0], f[1]) for f in finished]
