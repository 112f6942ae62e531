"""Decoding the forms that write text: the conditioned generator (``generate sample``) and
seq2seq (``seq2seq predict``, and its validation during training).

Each model supplies ``step(ids, h) -> (logits, h)`` and a starting state: seq2seq's is the
encoded source, the generator's is zero with the condition fed at the first step (and, for
an autoregressive generator, a prime's characters fed after it). Decoding starts from BOS
and ends at EOS or after ``max_len`` tokens; PAD, BOS and UNK (``model.banned``,
``BackboneConfig.never_emitted``) are never emitted. Greedy decoding and sampling run the one
sampler (``sampler.py``); beam search is ``beam_search.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.data.padding import resolve_mask
from rnnkit.errors import RnnkitError
from rnnkit.models.generator import ConditionedGenerator
from rnnkit.models.seq2seq import Seq2Seq

from .beam_search import beam_search
from .sampler import InverseCDFDraw, Sampling, greedy_ids, sample_tokens, step_logprobs


def _bos(model, B: int) -> np.ndarray:
    """The first input of every row: BOS (B,)."""
    return np.full(B, model.cfg.bos_id, dtype=np.int64)


def _decode(model, logits: np.ndarray, h: np.ndarray, max_len: int, draw, scored: bool = False):
    """B sequences from their first token's ``logits`` (B, V) and state ``h``, by ``draw``.

    Returns (B token lists without EOS, their log-probabilities (B,), EOS's included when
    emitted, or None unless ``scored``).
    """
    B, eos = len(logits), model.cfg.eos_id
    seqs: list[list[int]] = [[] for _ in range(B)]
    alive = np.ones(B, dtype=bool)
    scores = np.zeros(B) if scored else None
    lp = step_logprobs(logits, model.banned) if scored else None  # of the token drawn next
    for ids, next_logits in sample_tokens(model.step, logits, h, max_len, draw, eos):
        if scored:
            scores += np.where(alive, lp[np.arange(B), ids], 0.0)
            if next_logits is not None:
                lp = step_logprobs(next_logits, model.banned)
        for b in np.flatnonzero(alive & (ids != eos)):
            seqs[b].append(int(ids[b]))
        alive &= ids != eos
    return seqs, scores


# ------------------------------------------------------------------------------ generator
def generator_start(
    model: ConditionedGenerator, cond: ArrayLike, prime: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """A ``ConditionedGenerator``, conditions (B,) or (B, F) and the ids of a prime every row
    starts with -> (logits (B, V) of the first character after the prime, h).

    The prime is fed as teacher forcing feeds a text: BOS with the condition, then the
    prime's characters, the previous output being the autoregressive form's input. The
    plain form's inputs after t = 1 are zero vectors whatever was written, so it cannot be
    primed: a prime is refused for it."""
    c, _ = model.condition(cond)  # (B, D_c)
    B = c.shape[0]
    if len(prime) and not model.cfg.autoregressive:
        raise RnnkitError(
            "`prime` needs an autoregressive generator; this one reads zero vectors after the "
            "first step, so no prefix can be fed to it"
        )
    logits, h = model.step(_bos(model, B), model.zero_state(B), c)  # (B, V)
    for ch in prime:
        logits, h = model.step(np.full(B, ch, dtype=np.int64), h)
    return logits, h


def generator_sample(
    model: ConditionedGenerator,
    cond: ArrayLike,
    max_len: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    prime: Sequence[int] = (),
) -> list[list[int]]:
    """One draw per condition row: a list of B char-id lists (EOS not included), each the
    continuation of ``prime`` (ids; ``generator_start``), of at most ``max_len`` characters.

    Temperature 0 is greedy (``Sampling.is_greedy``); a positive one too small to scale the
    logits by tends to greedy too. PAD, BOS and UNK are never drawn (``model.banned``).
    """
    if Sampling(temperature, top_k, top_p).is_greedy:  # (making it refuses what no decoder can use)
        draw = partial(greedy_ids, banned=model.banned)
    else:
        draw = InverseCDFDraw(rng, temperature, top_k, top_p, model.banned)
    return _decode(model, *generator_start(model, cond, prime), max_len, draw)[0]


def generator_beam_search(
    model: ConditionedGenerator, cond: ArrayLike, beam: int, max_len: int, prime: Sequence[int] = ()
) -> list[tuple[list[int], float]]:
    """ONE condition (1,) or (1, F) -> the hypotheses found by a ``beam``-wide search, best
    first, as (char-id list without EOS, log-probability of it and its EOS given the prime)."""
    logits, h = generator_start(model, cond, prime)  # (1, V)
    if len(logits) != 1:
        raise ValueError(f"beam search decodes one condition, got {len(logits)}")
    return beam_search(model.step, logits, h, max_len, beam, model.cfg.eos_id, model.banned)


def generator_greedy(
    model: ConditionedGenerator, cond: ArrayLike, max_len: int
) -> tuple[list[list[int]], np.ndarray]:
    """The most probable char at each step -> (list of B id lists, log-probs (B,))."""
    draw = partial(greedy_ids, banned=model.banned)
    return _decode(model, *generator_start(model, cond), max_len, draw, scored=True)


# -------------------------------------------------------------------------------- seq2seq
def seq2seq_start(
    model: Seq2Seq, src: np.ndarray, src_mask: ArrayLike | None = None, src_lengths: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A ``Seq2Seq`` and sources (S, B) -> (first logits (B, V), h (L, B, Hd))."""
    h0, _ = model.encode(src, src_mask, src_lengths)  # (L, B, Hd)
    return model.step(_bos(model, h0.shape[1]), h0)


def seq2seq_beam_search(
    model: Seq2Seq, src: ArrayLike, beam: int = 5, max_len: int = 50, length_penalty: float = 0.0
) -> list[tuple[list[int], float]]:
    """ONE source (S, 1) -> hypotheses best first, as (id list without EOS, log-probability)."""
    src = np.asarray(src)
    if src.ndim != 2 or src.shape[1] != 1:
        raise ValueError(f"beam_search decodes one source of shape (S, 1), got {src.shape}")
    logits, h = seq2seq_start(model, src)
    return beam_search(model.step, logits, h, max_len, beam, model.cfg.eos_id, model.banned, length_penalty)


def seq2seq_decode(
    model: Seq2Seq,
    src: np.ndarray,
    src_mask: ArrayLike | None = None,
    src_lengths: ArrayLike | None = None,
    beam: int = 1,
    max_len: int = 50,
    length_penalty: float = 0.0,
) -> tuple[list[list[int]], np.ndarray]:
    """src (S, B) -> (B target id lists without EOS, their log-probabilities (B,)): greedy, all
    rows at once, or the best hypothesis of a beam search of each row, for ``beam`` > 1 or a
    ``length_penalty`` (which ranks the search's finished hypotheses)."""
    if beam == 1 and not length_penalty:  # the same as a width-1 beam search of each row (tested)
        draw = partial(greedy_ids, banned=model.banned)
        return _decode(model, *seq2seq_start(model, src, src_mask, src_lengths), max_len, draw, scored=True)
    S, B = src.shape
    m = resolve_mask(S, B, src_mask, src_lengths)
    lengths = np.full(B, S) if m is None else m.sum(axis=0).astype(np.int64)
    out, scores = [], np.zeros(B)
    for b in range(B):
        n = int(lengths[b])
        hyps = seq2seq_beam_search(model, src[:n, b : b + 1], beam, max_len, length_penalty)
        out.append(hyps[0][0])
        scores[b] = hyps[0][1]
    return out, scores
