"""``rnnkit serve`` and ``rnnkit sample`` draw with the same sampler (``GumbelDraw``), so one
seed, prime, temperature and top-k give the same text in the browser as on the command line.
Before, serve drew with ``rng.choice`` over ``filter_probs`` and gave other text."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.vocab import Vocab
from rnnkit.decode.lm import lm_sample
from rnnkit.decode.sampler import GumbelDraw, filter_probs
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.viz.serve import Generator


@pytest.mark.parametrize("temperature,top_k", [(1.0, 0), (0.7, 0), (1.3, 3)])
def test_serve_text_equals_sample_text_for_a_seed(temperature, top_k):
    vocab = Vocab(list("abcdefghij"))
    m = CharRNN(ModelConfig(vocab_size=len(vocab), hidden=12, layers=2), seed=4)
    gen = Generator(m, vocab)
    args = gen.parse({"prime": "abc", "temperature": temperature, "top_k": top_k, "length": 60, "seed": 9})
    events = [e for e in gen.stream(**args) if e["type"] == "char"]
    served = "".join(e["ch"] for e in events if not e["prime"])
    expected = vocab.decode(
        lm_sample(m, vocab.encode("abc"), 60, temperature=temperature, top_k=top_k, seed=9)
    )
    assert served == expected
    assert lm_sample(m, vocab.encode("abc"), 60, temperature=temperature, top_k=top_k, seed=10) != lm_sample(
        m, vocab.encode("abc"), 60, temperature=temperature, top_k=top_k, seed=9
    )  # the seed matters

    # each generated event's p is the probability the drawn character had
    ids = vocab.encode("abc")
    h = m.zero_state(1)
    for c in ids:
        logits, h = m.step(np.array([c]), h)
    for e, c in zip([e for e in events if not e["prime"]], vocab.encode(served)):
        p = filter_probs(logits[0], temperature, top_k)
        assert e["p"] == round(float(p[c]), 4) and p[c] > 0  # never a filtered-out character
        logits, h = m.step(np.array([c]), h)


def test_gumbel_draw_frequencies_follow_the_filtered_softmax():
    """GumbelDraw alone: 20000 draws from fixed logits match filter_probs (top-k 3) within
    5 standard errors, and never pick a filtered character."""
    logits = np.array([2.0, 1.0, 0.5, -1.0, 0.9])
    n = 20000
    draw = GumbelDraw(5, n, temperature=0.8, top_k=3, seed=0)
    with np.errstate(over="ignore", divide="ignore"):
        counts = np.bincount([draw(logits) for _ in range(n)], minlength=5)
    p = filter_probs(logits, 0.8, 3)
    assert counts[p == 0].sum() == 0
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(counts / n - p) <= 5 * se + 1e-12)


def test_serve_temperature_zero_is_greedy_as_sample():
    """Temperature 0 means greedy in every verb: serve streams ``rnnkit sample --greedy``'s text,
    each character with p = 1 (before, serve refused 0)."""
    vocab = Vocab(list("abcdefghij"))
    m = CharRNN(ModelConfig(vocab_size=len(vocab), hidden=12, layers=2), seed=4)
    gen = Generator(m, vocab)
    args = gen.parse({"prime": "abc", "temperature": 0, "top_k": 3, "length": 40, "seed": 9})
    events = [e for e in gen.stream(**args) if e["type"] == "char" and not e["prime"]]
    assert "".join(e["ch"] for e in events) == vocab.decode(
        lm_sample(m, vocab.encode("abc"), 40, greedy=True)
    )
    assert all(e["p"] == 1.0 for e in events)
