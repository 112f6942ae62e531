"""Autoregressive sampling: the model's output character becomes its next input.

    p_t = softmax(y_t / temperature),   c_{t+1} ~ p_t   (after optional top-k / top-p filtering)

  computed as softmax((y_t - max y_t) / temperature), so that a tiny temperature tends to
  greedy instead of overflowing to NaN (``tempered_logits``)

- greedy: c_{t+1} = argmax y_t
- top-k: sample among the k most likely characters
- top-p (nucleus): sample among the smallest set whose probability reaches p
- beam search: keep the ``beam`` most likely continuations by total log-probability;
  returns the best one at the end (so it cannot stream)
"""

from __future__ import annotations

import numpy as np

from rnnkit.models.stream_step import stream_for
from rnnkit.nn.softmax_cross_entropy import log_softmax, softmax


def tempered_logits(logits: np.ndarray, temperature: float) -> np.ndarray:
    """logits (..., V) -> (logits - max) / temperature in float64, over the last axis.

    The shared temperature step of every sampler (``filter_probs`` here, ``rnnkit serve``,
    and ``rnnkit.decode.beam_search.sample``). Softmax is unchanged by a shift, so subtracting
    the row's max changes nothing mathematically; doing it BEFORE the division is what
    keeps a tiny positive temperature safe. ``logits / 1e-320`` overflows to +inf, and the
    softmax's own ``inf - inf`` is NaN. Here the max becomes exactly 0 and every other entry
    is <= 0, so the division can only drive entries to -inf (exp(-inf) = 0): the
    distribution tends to one-hot on the argmax (uniform over exact ties), i.e. greedy,
    which is the right limit.
    Entries already at -inf (banned tokens) stay at -inf. ``temperature`` must be > 0;
    callers treat 0 (greedy) and negative values before calling.
    """
    z = np.asarray(logits, dtype=np.float64)
    with np.errstate(over="ignore"):  # overflow to -inf is the intended greedy limit
        return (z - z.max(axis=-1, keepdims=True)) / temperature


def filter_probs(
    logits: np.ndarray, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
) -> np.ndarray:
    """logits (V,) -> a probability vector (V,) after temperature, top-k and top-p.

    Never NaN for any temperature > 0 (see ``tempered_logits``): a temperature too small
    to represent the scaled logits gives the one-hot greedy distribution.
    """
    p = softmax(tempered_logits(logits, temperature))
    if 0 < top_k < p.size:
        kth = np.partition(p, -top_k)[-top_k]
        p = np.where(p >= kth, p, 0.0)
    if top_p < 1.0:
        order = np.argsort(-p)
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p * cum[-1])) + 1]
        mask = np.zeros_like(p, dtype=bool)
        mask[keep] = True
        p = np.where(mask, p, 0.0)
    return p / p.sum()


def warm_up(model, prime_ids: np.ndarray):
    """Feed the prime through the model: returns (logits for the next char (V,), state (L, 1, H))."""
    h = model.zero_state(1)
    logits = None
    for c in prime_ids:
        logits, h = model.step(np.array([c]), h)
    return logits[0], h


def gumbel_blocks(rng: np.random.Generator, V: int, n: int, block: int = 1024):
    """Yield ``n`` rows of i.i.d. Gumbel(0, 1) noise (V,), drawn ``block`` rows at a time."""
    while n > 0:
        g = rng.gumbel(size=(min(block, n), V))  # (block, V) float64
        n -= len(g)
        yield from g


class GumbelDraw:
    """Draws one character per call from a stream of logits: the sampler of ``sample`` and
    of ``rnnkit serve`` (so both give the same text for the same seed and options).

    With g_i ~ Gumbel(0, 1) i.i.d.,

        argmax_i (log p_i + g_i)  is distributed exactly as  p,

    and log p_i = (y_i - max y) / temperature - log Z, where the constant log Z does not move
    the argmax. So one draw is: subtract the max, divide by the temperature, add noise, argmax
    (``tempered_logits``' computation, done in place in a float64 buffer): about five NumPy
    calls instead of a softmax, a cumulative sum and a search. With top-k / top-p, log p
    comes from ``filter_probs`` (log 0 = -inf excludes the filtered characters). ``greedy``
    takes the argmax and draws no noise. The noise for ``length`` draws comes from one
    ``np.random.default_rng(seed)``, a block at a time; it is drawn for at most ``length``
    calls (the next one raises ``StopIteration``). ``sample`` and ``serve`` give the same text
    for a seed when they step the same model the same way (the NumPy engine's ``StreamStep``).

    Call it inside ``np.errstate(over="ignore", divide="ignore")``: the division may overflow
    to -inf for a tiny temperature (the intended greedy limit), and log 0 = -inf marks what
    top-k / top-p filtered out. The caller enters that state once for a whole loop, because
    entering it costs about a microsecond, a noticeable share of one character's step.
    """

    def __init__(
        self,
        V: int,
        length: int,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        greedy: bool = False,
        seed: int | None = None,
    ):
        self.temperature, self.top_k, self.top_p, self.greedy = temperature, top_k, top_p, greedy
        self.filtered = 0 < top_k < V or top_p < 1.0
        self.z = np.empty(V, dtype=np.float64)  # (V,) draw buffer
        self.noise = gumbel_blocks(np.random.default_rng(seed), V, 0 if greedy else length)

    def __call__(self, logits: np.ndarray) -> int:
        """logits (V,) -> the drawn id."""
        if self.greedy:
            return int(logits.argmax())
        z = self.z
        if self.filtered:
            np.log(filter_probs(logits, self.temperature, self.top_k, self.top_p), out=z)
        else:
            np.copyto(z, logits)
            z -= z[z.argmax()]  # argmax + index: a small array's max() is slower
            if self.temperature != 1.0:
                z /= self.temperature
        z += next(self.noise)
        return int(z.argmax())


def sample(
    model,
    prime_ids: np.ndarray,
    length: int,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    greedy: bool = False,
    seed: int | None = None,
    emit=None,
) -> list[int]:
    """Generate ``length`` ids after ``prime_ids`` (non-empty). ``emit(id)`` is called per id.

    Each id is drawn by ``GumbelDraw`` (exact sampling from the tempered, filtered softmax);
    the model is stepped by ``stream_for(model)`` (``StreamStep`` for the NumPy engine).
    """
    stream = stream_for(model)
    for c in prime_ids:
        logits = stream.step(int(c))
    draw = GumbelDraw(len(logits), length, temperature, top_k, top_p, greedy, seed)
    out = []
    with np.errstate(over="ignore", divide="ignore"):  # see GumbelDraw
        for _ in range(length):
            c = draw(logits)
            out.append(c)
            if emit is not None:
                emit(c)
            logits = stream.step(c)
    return out


def beam_search(model, prime_ids: np.ndarray, length: int, beam: int) -> tuple[list[int], float]:
    """The most likely continuation found with ``beam`` hypotheses: (ids, total log-prob)."""
    logits, h = warm_up(model, prime_ids)
    seqs = [[]]
    scores = np.zeros(1)  # (K,)
    logp = log_softmax(logits[None].astype(np.float64))  # (K, V)
    for _ in range(length):
        V = logp.shape[1]
        cand = (scores[:, None] + logp).ravel()  # (K*V,)
        k = min(beam, cand.size)
        top = np.argpartition(-cand, k - 1)[:k]
        top = top[np.argsort(-cand[top], kind="stable")]
        src, c = top // V, top % V
        seqs = [seqs[s] + [int(ci)] for s, ci in zip(src, c)]
        scores = cand[top]
        h = h[:, src]  # (L, K, H)
        logits, h = model.step(c, h)
        logp = log_softmax(logits.astype(np.float64))
    return seqs[0], float(scores[0])
