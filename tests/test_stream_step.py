"""The fused one-stream step (``StreamStep``) and the Gumbel-max draw used by ``sample``.

``StreamStep`` must compute ``CharRNN.step``'s recurrence to float tolerance (it regroups
the sums: ``[W_ih W_hh][x; h]`` in one GEMV, biases folded into layer 0's table), and the
draw must sample exactly from softmax(y / temperature), filtered by top-k / top-p.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import CharRNN, ModelConfig
from rnnkit.decode.lm import lm_sample
from rnnkit.decode.sampler import filter_probs
from rnnkit.models.stream_step import ModelStream, StreamStep, stream_for
from rnnkit.nn.softmax_cross_entropy import softmax


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("embed", [0, 6])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_stream_step_equals_char_rnn_step(layers, embed, dtype, tol):
    m = CharRNN(ModelConfig(vocab_size=11, hidden=16, layers=layers, embed=embed), seed=layers, dtype=dtype)
    s = StreamStep(m)
    h = m.zero_state(1)  # (L, 1, H)
    ids = np.random.default_rng(0).integers(0, 11, size=60)
    for c in ids:
        want, h = m.step(np.array([c]), h)
        got = s.step(int(c))
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want[0], rtol=tol, atol=tol)
        np.testing.assert_allclose(s.state, h, rtol=tol, atol=tol)
    s.reset()
    np.testing.assert_array_equal(s.state, m.zero_state(1))
    np.testing.assert_allclose(
        s.step(int(ids[0])), m.step(ids[:1], m.zero_state(1))[0][0], rtol=tol, atol=tol
    )


def test_stream_step_reads_the_weights_when_built():
    """It copies the weights into its own layout: a model trained further needs a new one."""
    m = CharRNN(ModelConfig(vocab_size=5, hidden=8, layers=2), seed=0, dtype=np.float64)
    s = StreamStep(m)
    before = s.step(1).copy()
    m.flat.data[:] += 0.1
    s.reset()
    np.testing.assert_array_equal(s.step(1), before)
    assert not np.allclose(StreamStep(m).step(1), before)


def test_stream_for_picks_the_fused_step_only_for_the_numpy_model():
    m = CharRNN(ModelConfig(vocab_size=5, hidden=8, layers=1), seed=0)
    assert isinstance(stream_for(m), StreamStep)
    assert isinstance(stream_for(_FixedLogits(np.zeros(3))), ModelStream)


class _FixedLogits:
    """A stand-in model whose next-character logits never change: draws are i.i.d."""

    def __init__(self, logits):
        self.logits = np.asarray(logits, dtype=np.float32)

    def zero_state(self, B):
        return np.zeros((1, B, 1), dtype=np.float32)

    def step(self, ids, h):
        return np.tile(self.logits, (len(ids), 1)), h


def _frequencies(draws, V):
    return np.bincount(draws, minlength=V) / len(draws)


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_gumbel_max_draws_follow_the_tempered_softmax(temperature):
    logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
    n = 40_000
    draws = lm_sample(_FixedLogits(logits), np.array([0]), n, temperature=temperature, seed=1)
    p = softmax(logits / temperature)
    # Each frequency is a mean of n Bernoulli(p_i): within 5 standard errors.
    assert np.all(np.abs(_frequencies(draws, 6) - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12)


@pytest.mark.parametrize("top_k,top_p", [(2, 1.0), (0, 0.8), (3, 0.9)])
def test_filtered_draws_follow_the_filtered_distribution(top_k, top_p):
    logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
    n = 30_000
    draws = lm_sample(
        _FixedLogits(logits), np.array([0]), n, temperature=0.8, top_k=top_k, top_p=top_p, seed=2
    )
    p = filter_probs(logits, 0.8, top_k, top_p)
    f = _frequencies(draws, 6)
    assert np.all(f[p == 0] == 0)  # never a filtered character
    assert np.all(np.abs(f - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12)


def test_sampling_the_real_model_equals_stepping_it_by_hand():
    """``lm_sample`` on the NumPy model = the plain ``CharRNN.step`` loop with the same noise."""
    m = CharRNN(ModelConfig(vocab_size=9, hidden=12, layers=2), seed=4, dtype=np.float64)
    prime = np.array([1, 2, 3])
    got = lm_sample(m, prime, 50, temperature=0.7, seed=5)
    rng = np.random.default_rng(5)
    g = rng.gumbel(size=(50, 9))
    h = m.zero_state(1)
    for c in prime:
        y, h = m.step(np.array([c]), h)
    want = []
    for i in range(50):
        c = int(np.argmax((y[0] - y[0].max()) / 0.7 + g[i]))
        want.append(c)
        y, h = m.step(np.array([c]), h)
    assert got == want
