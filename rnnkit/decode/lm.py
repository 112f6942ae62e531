"""Decoding the character LM: ``rnnkit sample`` (and ``rnnkit serve``, which shows the same
draws one character at a time).

The prime is fed through the model, then each character drawn becomes the next input,
c_{t+1} ~ p_t (``sampler.GumbelDraw``) or c_{t+1} = argmax y_t (greedy), for ``length``
characters. Sampling steps the model through ``stream_for(model)``, the fastest one-stream
step (the fused ``StreamStep`` for the NumPy engine), since generating is one matrix-vector
chain per character. Beam search (``beam_search.py``) keeps ``beam`` continuations and needs
``CharRNN.step``'s batched form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from rnnkit.data.vocab import Vocab
from rnnkit.errors import RnnkitError
from rnnkit.models.stream_step import ModelStream, StreamStep, stream_for

from .beam_search import beam_search
from .sampler import GumbelDraw, Sampling, greedy_ids, sample_tokens


def greedy_char(logits: np.ndarray) -> int:
    """logits (V,) -> the most likely character: the LM's greedy draw."""
    return int(greedy_ids(logits))


def stream_tokens(
    stream: StreamStep | ModelStream, logits: np.ndarray, length: int, draw: Callable[[np.ndarray], int]
) -> Iterator[tuple]:
    """``sample_tokens`` over a one-stream stepper (``stream_for``): int ids, (V,) logits, and
    the state kept in the stream (``stream.state``). Iterate it under ``GumbelDraw``'s
    errstate."""
    return sample_tokens(lambda c, _: (stream.step(c), None), logits, None, length, draw)


# ``model`` below: a ``CharRNN``, or the torch engine's ``TorchCharRNN`` (rnnkit/torch, a later
# layer, so not named here): anything with ``zero_state(B)`` and ``step(ids, h)``.
def lm_sample(
    model: Any,
    prime_ids: np.ndarray,
    length: int,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    greedy: bool = False,
    seed: int | None = None,
    emit: Callable[[int], None] | None = None,
) -> list[int]:
    """``lm_draw`` with the settings as keywords (beam search is ``lm_beam_search``)."""
    return lm_draw(model, prime_ids, length, Sampling(temperature, top_k, top_p, greedy, seed=seed), emit)


def lm_draw(
    model: Any,
    prime_ids: np.ndarray,
    length: int,
    sampling: Sampling,
    emit: Callable[[int], None] | None = None,
) -> list[int]:
    """Generate ``length`` ids after ``prime_ids`` (non-empty), each drawn as ``sampling`` says
    (``sampling.is_greedy``: the argmax at each step). ``emit(id)`` is called per id."""
    stream = stream_for(model)
    for c in prime_ids:
        logits = stream.step(int(c))  # (V,)
    s = sampling
    if s.is_greedy:
        draw = greedy_char
    else:
        draw = GumbelDraw(len(logits), length, s.temperature, s.top_k, s.top_p, s.seed)
    out = []
    with np.errstate(over="ignore"):  # see GumbelDraw
        for c, _ in stream_tokens(stream, logits, length, draw):
            out.append(c)
            if emit is not None:
                emit(c)
    return out


def lm_beam_search(model: Any, prime_ids: np.ndarray, length: int, beam: int) -> tuple[list[int], float]:
    """The most likely continuation found with ``beam`` hypotheses: (ids, total log-prob)."""
    if len(prime_ids) == 0:  # the first logits come from the prime's last character
        raise RnnkitError("`prime` must hold at least one character")
    h = model.zero_state(1)  # (L, 1, H)
    for c in prime_ids:  # the prime, fed through the model
        logits, h = model.step(np.array([c]), h)  # (1, V): the next character's
    return beam_search(model.step, logits, h, length, beam)[0]


def default_prime(vocab: Vocab) -> str:
    """The prime when none is given: a newline (the start of a line), else the first character."""
    return "\n" if "\n" in vocab.index else vocab.chars[0]


def sample_text(
    model: Any,
    vocab: Vocab,
    prime: str,
    length: int,
    sampling: Sampling,
    emit: Callable[[str], None] | None = None,
) -> str:
    """The ``length`` characters generated after ``prime`` (non-empty) as ``sampling`` says:
    drawn (``lm_draw``) or, with a beam, the most likely continuation found
    (``lm_beam_search``). ``emit(ch)`` is called per character as it is drawn (at the end, for
    a beam). What ``rnnkit sample`` prints after the prime, and ``CharLM.sample`` returns after it."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise RnnkitError(f"`length` must be a non-negative integer, got {length!r}")
    if prime == "":
        raise RnnkitError("`prime` must hold at least one character")
    prime_ids = vocab.encode(prime, what="`prime`")
    emit = emit or (lambda ch: None)
    if sampling.beam:
        ids, _ = lm_beam_search(model, prime_ids, length, sampling.beam)
        text = vocab.decode(ids)
        emit(text)
        return text
    ids = lm_draw(model, prime_ids, length, sampling, lambda c: emit(vocab.chars[c]))
    return vocab.decode(ids)
