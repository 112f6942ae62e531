"""The one sampler: every decoder that emits one token at a time and feeds it back, for the
character LM (``rnnkit sample``, ``rnnkit serve``) and the forms (``generate sample``, greedy
seq2seq decoding). Three pieces, each written once:

- **The distribution** (``filter_logits``). Tokens that are never outputs (PAD, BOS) are
  banned, then

      p_t(v) ∝ exp(y_t(v) / τ)          temperature τ > 0

  optionally kept to the k most likely tokens (top-k) or to the smallest set whose
  probability reaches p (top-p, the nucleus). It is computed as softmax((y_t - max y_t) / τ),
  so that a tiny temperature tends to greedy instead of overflowing to NaN
  (``tempered_logits``).
- **The draw**, one token per stream. ``greedy_ids`` takes argmax_v y_t(v). A random draw is
  exact sampling from p_t, done one of two ways, each kept because its output for a seed is
  pinned: ``GumbelDraw`` (Gumbel-max, the LM's one stream, a few NumPy calls a character) and
  ``InverseCDFDraw`` (one uniform per stream and step, the forms' B streams).
- **The loop** (``sample_tokens``): draw, feed the token back through the model's
  ``step(ids, h) -> (logits, h)``, repeat; for a fixed number of tokens (the LM) or until
  every stream has emitted EOS (the forms).

Beam search, the decoder that keeps several continuations, is ``beam_search.py``.

**One rule for every verb** (``Sampling``): temperature 0 means greedy
decoding, as ``--greedy`` does; a negative or non-finite temperature, top-k < 0 and top-p
outside (0, 1] are refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.nn.softmax_cross_entropy import log_softmax, softmax

Step = Callable[[np.ndarray, np.ndarray], tuple]  # step(ids (B,), h) -> (logits (B, V), h)


# ---------------------------------------------------------------------------- the settings
@dataclass(frozen=True)
class Sampling:
    """How a decoder picks each token, for every verb and the Python API alike: drawn from
    softmax(y / ``temperature``) kept to the ``top_k`` most likely (0: all) and the smallest set
    holding ``top_p`` of the probability, with the draws seeded by ``seed``; or the argmax
    (``greedy``, or temperature 0); or, with ``beam`` > 0, a beam search of that width.

    Making one refuses (``RnnkitError``, naming the parameter) what no decoder can use: a
    temperature that is negative or not finite, top_k < 0, top_p outside (0, 1], beam < 0,
    greedy with a beam, a negative seed.
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    greedy: bool = False
    beam: int = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        t = self.temperature
        if not math.isfinite(t):
            raise RnnkitError(f"`temperature` must be a finite number (0 is greedy), got {t}")
        if t < 0:
            raise RnnkitError(f"`temperature` must be non-negative (0 is greedy), got {t}")
        if self.top_k < 0:
            raise RnnkitError(f"`top_k` must be non-negative (0: all), got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise RnnkitError(f"`top_p` must lie in (0, 1], got {self.top_p}")
        if self.beam < 0:
            raise RnnkitError(f"`beam` must be non-negative (0: no beam search), got {self.beam}")
        if self.greedy and self.beam:
            raise RnnkitError("`greedy` and `beam` are two different decoders; give one of them")
        if self.seed is not None and self.seed < 0:
            raise RnnkitError(f"`seed` must be non-negative, got {self.seed}")

    @property
    def is_greedy(self) -> bool:
        """Every verb's rule: ``greedy``, or temperature 0, decodes by argmax."""
        return self.greedy or self.temperature == 0


# ------------------------------------------------------------------------ the distribution
def tempered_logits(logits: np.ndarray, temperature: float) -> np.ndarray:
    """logits (..., V) -> (logits - max) / temperature in float64, over the last axis.

    The temperature step of every sampler. Softmax is unchanged by a shift, so subtracting
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


def step_logprobs(logits: np.ndarray, banned: Sequence[int] = ()) -> np.ndarray:
    """logits (k, V) -> log p (k, V) in float64, banned tokens at -inf (not renormalised).

    The model's own log-probabilities: what beam search and greedy decoding score with.
    """
    lp = log_softmax(np.asarray(logits, dtype=np.float64))
    if len(banned):
        lp[:, list(banned)] = -np.inf
    return lp


def filter_logits(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    banned: Sequence[int] = (),
) -> np.ndarray:
    """logits (..., V) -> log p_t (..., V) in float64: the distribution a random draw samples.

    In order: ``banned`` tokens to -inf, the temperature (``tempered_logits``), log-softmax,
    top-k (ties with the k-th are kept), top-p. What a filter removes is -inf; what it keeps
    is not renormalised (each draw normalises, or needs no normalising). Never NaN for a
    temperature > 0: too small a one gives the greedy one-hot.
    """
    z = np.array(logits, dtype=np.float64)  # a copy: the ban writes into it
    if len(banned):
        # Ban BEFORE tempering, so the max that tempered_logits shifts to 0 is an allowed
        # token's: with a tiny temperature every other entry goes to -inf, and banning the
        # only finite one afterwards would leave a row of -inf (NaN probabilities).
        z[..., list(banned)] = -np.inf
    lp = log_softmax(tempered_logits(z, temperature))
    if 0 < top_k < lp.shape[-1]:
        kth = np.sort(lp, axis=-1)[..., -top_k, None]  # (..., 1) the k-th largest
        lp = np.where(lp >= kth, lp, -np.inf)
    if top_p < 1.0:
        rows = lp.reshape(-1, lp.shape[-1])  # (N, V)
        for row, order in zip(rows, np.argsort(-rows, axis=-1)):  # most probable first
            cum = np.cumsum(np.exp(row[order]))
            row[order[np.searchsorted(cum, top_p * cum[-1]) + 1 :]] = -np.inf  # past the first to reach p
        lp = rows.reshape(lp.shape)
    return lp


def filter_probs(
    logits: np.ndarray, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
) -> np.ndarray:
    """logits (..., V) -> p_t (..., V), ``filter_logits`` normalised to probabilities."""
    return softmax(filter_logits(logits, temperature, top_k, top_p))


# ------------------------------------------------------------------------------- the draw
def greedy_ids(logits: np.ndarray, banned: Sequence[int] = ()) -> np.ndarray:
    """logits (..., V) -> the most likely token of each row (...,), among those not banned."""
    if len(banned):
        logits = np.array(logits, dtype=np.float64)  # a copy for the ban
        logits[..., list(banned)] = -np.inf
    return logits.argmax(axis=-1)


def gumbel_blocks(rng: np.random.Generator, V: int, n: int, block: int = 1024) -> Iterator[np.ndarray]:
    """Yield ``n`` rows of i.i.d. Gumbel(0, 1) noise (V,), drawn ``block`` rows at a time."""
    while n > 0:
        g = rng.gumbel(size=(min(block, n), V))  # (block, V) float64
        n -= len(g)
        yield from g


class GumbelDraw:
    """Draws one token from one stream's logits (V,) per call: the LM's draw, in ``rnnkit
    sample`` and ``rnnkit serve`` alike (so both give the same text for a seed).

    With g_i ~ Gumbel(0, 1) i.i.d.,

        argmax_i (log p_i + g_i)  is distributed exactly as  p,

    and log p_i = (y_i - max y) / temperature - log Z, where the constant log Z does not move
    the argmax. So one draw is: subtract the max, divide by the temperature, add noise, argmax
    (``tempered_logits``' computation, done in place in a float64 buffer): about five NumPy
    calls instead of a softmax, a cumulative sum and a search. With top-k / top-p, log p
    comes from ``filter_logits`` (-inf excludes the filtered tokens). The noise for
    ``length`` draws comes from one ``np.random.default_rng(seed)``, a block at a time; it is
    drawn for at most ``length`` calls (the next one raises ``StopIteration``).

    Call it inside ``np.errstate(over="ignore")``: the division may overflow to -inf for a
    tiny temperature (the intended greedy limit). The caller enters that state once for a
    whole loop, because entering it costs about a microsecond, a noticeable share of one
    character's step.
    """

    def __init__(
        self,
        V: int,
        length: int,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
    ):
        self.temperature, self.top_k, self.top_p = temperature, top_k, top_p
        self.filtered = 0 < top_k < V or top_p < 1.0
        self.z = np.empty(V, dtype=np.float64)  # (V,) draw buffer
        self.noise = gumbel_blocks(np.random.default_rng(seed), V, length)

    def __call__(self, logits: np.ndarray) -> int:
        """logits (V,) -> the drawn id."""
        z = self.z
        if self.filtered:
            np.copyto(z, filter_logits(logits, self.temperature, self.top_k, self.top_p))
        else:
            np.copyto(z, logits)
            z -= z[z.argmax()]  # argmax + index: a small array's max() is slower
            if self.temperature != 1.0:
                z /= self.temperature
        z += next(self.noise)
        return int(z.argmax())


@dataclass
class InverseCDFDraw:
    """Draws one token per row of logits (B, V): the forms' draw (``generate sample``).

    Row b's token is the first whose cumulative probability under p_t (``filter_logits``)
    exceeds u_b ~ U[0, 1): one ``rng.random(B)`` per step, for every row, ended or not.
    """

    rng: np.random.Generator
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    banned: Sequence[int] = ()

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        """logits (B, V) -> the drawn ids (B,)."""
        lp = filter_logits(logits, self.temperature, self.top_k, self.top_p, self.banned)  # (B, V)
        p = np.exp(lp - lp.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        u = self.rng.random(len(p))[:, None]  # (B, 1)
        return np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1)  # (B,)


# ------------------------------------------------------------------------------- the loop
def sample_tokens(
    step: Step,
    logits: np.ndarray,
    h: np.ndarray | None,
    max_len: int,
    draw: Callable[[np.ndarray], np.ndarray | int],
    eos_id: int | None = None,
) -> Iterator[tuple]:
    """Autoregressive sampling: draw a token from ``logits``, feed it back, repeat.

    ``logits`` are the first token's and ``h`` the state they came with; ``step(ids, h) ->
    (logits, h)`` is the model's step. Shapes are the caller's: B streams ((B, V) logits,
    (B,) ids, h with the batch on axis 1), or one stream with an int id and (V,) logits (the
    LM's fused ``StreamStep``, which keeps its own state: h is None).

    Yields (ids, the logits after feeding them back) at most ``max_len`` times. The last ids
    come with logits None: they are not fed, since no draw would use the result. That is
    after ``max_len`` tokens, or, with ``eos_id``, once every stream has emitted EOS (a
    stream ends at its first). Ended streams are still drawn and fed (the caller ignores
    their ids), so a stream's draws for a seed do not depend on when the others end.
    Generation also stops wherever the caller stops iterating. With a ``GumbelDraw``,
    iterate under its errstate.
    """
    ended = False
    for t in range(max_len):
        ids = draw(logits)
        last = t + 1 == max_len
        if eos_id is not None:
            ended = ended | (ids == eos_id)
            last = last or np.all(ended)
        if last:
            yield ids, None
            return
        logits, h = step(ids, h)
        yield ids, logits
