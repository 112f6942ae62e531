"""Truncated BPTT: chunks with carried state, and the gradient stop at chunk edges.

TBPTT over a stream x_1..x_N with chunk length k runs chunk c from the previous chunk's
final state h0_c, taken as a constant: the state carries forward, the gradient does not
flow back. ``tbptt`` below is that loop, written with the engine's public calls.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import CharRNN, ModelConfig, RNNLayer, RNNStack

N, B, D, H, L = 7, 2, 3, 4, 2


def make_stack(seed=0):
    return RNNStack(D, H, L, rng=np.random.default_rng(seed), dtype=np.float64)


def setup(rng):
    x = rng.standard_normal((N, B, D))
    h0 = 0.5 * rng.standard_normal((L, B, H))
    w = rng.standard_normal((N, B, H))  # loss = sum(w * y) over the whole stream
    return x, h0, w


def full_bptt(rnn, x, h0, w):
    (y, h_n), cache = rnn.forward(x, h0)
    dx, dh0, grads = rnn.backward(w, None, cache)
    return y, h_n, dx, {k: g.copy() for k, g in grads.items()}


def tbptt(rnn, x, h0, w, k):
    """Returns (y, h_n, dx, grads summed over chunks, [dh0 of each chunk], [h0 of each chunk])."""
    grads = {n: np.zeros_like(p) for n, p in rnn.params.items()}
    ys, dx, dh0s, h0s = [], np.zeros_like(x), [], []
    h = h0
    for s in range(0, x.shape[0], k):
        h0s.append(h)
        (y, h_n), cache = rnn.forward(x[s : s + k], h)
        dxc, dh0c, g = rnn.backward(w[s : s + k], None, cache)
        for n in grads:
            grads[n] += g[n]
        ys.append(y)
        dx[s : s + k] = dxc
        dh0s.append(dh0c)  # dropped: it would flow into the previous chunk
        h = h_n.copy()  # carried forward as a constant
    return np.concatenate(ys), h, dx, grads, dh0s, h0s


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_chunked_forward_equals_one_pass(rng, k):
    rnn = make_stack()
    x, h0, w = setup(rng)
    y, h_n, *_ = full_bptt(rnn, x, h0, w)
    yc, hc, *_ = tbptt(rnn, x, h0, w, k)
    np.testing.assert_allclose(yc, y, rtol=0, atol=1e-14)
    np.testing.assert_allclose(hc, h_n, rtol=0, atol=1e-14)


def test_tbptt_with_chunk_T_equals_full_bptt(rng):
    rnn = make_stack()
    x, h0, w = setup(rng)
    _, _, dx, g_full = full_bptt(rnn, x, h0, w)
    _, _, dxc, g_tb, _, _ = tbptt(rnn, x, h0, w, N)
    np.testing.assert_array_equal(dxc, dx)
    for n in g_full:
        np.testing.assert_array_equal(g_tb[n], g_full[n])


@pytest.mark.parametrize("k", [2, 3])
def test_tbptt_differs_from_full_bptt_when_chunked(rng, k):
    """For T > k the truncated gradient is a different number: the stop is real."""
    rnn = make_stack()
    x, h0, w = setup(rng)
    _, _, dx, g_full = full_bptt(rnn, x, h0, w)
    _, _, dxc, g_tb, _, _ = tbptt(rnn, x, h0, w, k)
    for n in g_full:
        assert np.max(np.abs(g_tb[n] - g_full[n])) > 1e-6, n
    # the last chunk's inputs see only gradient from inside it, in both; earlier ones differ
    last = (N - 1) // k * k
    np.testing.assert_allclose(dxc[last:], dx[last:], rtol=0, atol=1e-14)
    assert np.max(np.abs(dxc[:last] - dx[:last])) > 1e-6


def test_tbptt_gradient_is_sum_of_chunk_gradients_with_h0_held(gradcheck, rng):
    """What TBPTT computes, checked numerically: sum over chunks of d L_c / d theta with
    each chunk's h0 held at its carried value (centered differences, float64)."""
    rnn, k = make_stack(), 3
    x, h0, w = setup(rng)
    _, _, dxc, g_tb, _, h0s = tbptt(rnn, x, h0, w, k)
    h0s = [h.copy() for h in h0s]  # constants

    def f():
        total = 0.0
        for c, s in enumerate(range(0, N, k)):
            (y, _), _ = rnn.forward(x[s : s + k], h0s[c])
            total += float(np.sum(w[s : s + k] * y))
        return total

    gradcheck(f, [("x", x, dxc)] + [(n, rnn.params[n], g_tb[n]) for n in rnn.params])


def test_no_gradient_crosses_chunk_boundary(rng):
    """Loss only on the second chunk: under TBPTT the first chunk's inputs get exactly 0,
    although the gradient reaching the second chunk's h0 is not 0 (it is dropped there).
    Full BPTT on the same loss does send gradient into the first chunk."""
    rnn, k = make_stack(), 3
    x, h0, w = setup(rng)
    w[:k] = 0.0
    _, _, dx_full, _ = full_bptt(rnn, x, h0, w)
    _, _, dx_tb, _, dh0s, _ = tbptt(rnn, x, h0, w, k)
    assert np.all(dx_tb[:k] == 0)
    assert np.max(np.abs(dh0s[1])) > 1e-3  # there was gradient to pass back ...
    assert np.max(np.abs(dx_full[:k])) > 1e-3  # ... and full BPTT passes it


def test_carried_state_differs_from_reset(rng):
    """Carrying the state matters; resetting it (h0=None) equals starting a fresh stream."""
    rnn = make_stack()
    x, h0, w = setup(rng)
    (_, h1), _ = rnn.forward(x[:3], h0)
    (y_carry, _), _ = rnn.forward(x[3:], h1)
    (y_reset, _), _ = rnn.forward(x[3:])
    (y_fresh, _), _ = rnn.forward(x[3:], np.zeros((L, B, H)))
    (y_whole, _), _ = rnn.forward(x, h0)
    np.testing.assert_allclose(y_carry, y_whole[3:], rtol=0, atol=1e-14)
    np.testing.assert_array_equal(y_reset, y_fresh)
    assert np.max(np.abs(y_carry - y_reset)) > 1e-3


def test_cache_memory_grows_with_T_and_is_bounded_by_chunk(rng):
    """Full BPTT keeps all T+1 states; a TBPTT chunk keeps k+1, whatever the stream length."""
    layer = RNNLayer(D, H, dtype=np.float64)

    def nbytes(cache):
        return sum(a.nbytes for a in cache if isinstance(a, np.ndarray))

    def peak_tbptt_bytes(T, k):
        x, h, peak = rng.standard_normal((T, B, D)), None, 0
        for s in range(0, T, k):
            (_, h), cache = layer.forward(x[s : s + k], h)
            peak = max(peak, nbytes(cache))  # only one chunk's cache is alive at a time
        return peak

    full = {T: nbytes(layer.forward(rng.standard_normal((T, B, D)))[1]) for T in (16, 64)}
    assert full[64] > 3.5 * full[16]  # grows linearly with T
    assert peak_tbptt_bytes(16, 8) == peak_tbptt_bytes(64, 8)  # bounded by the chunk
    assert peak_tbptt_bytes(64, 8) < full[64] / 6


# ------------------------------------------------------------------ the language model
@pytest.mark.parametrize("embed", [0, 3], ids=["onehot", "embed3"])
def test_char_rnn_chunked_loss_equals_one_pass_and_chunk_T_grads(embed):
    V, T_stream = 5, 8
    model = CharRNN(ModelConfig(vocab_size=V, hidden=H, layers=2, embed=embed), seed=0, dtype=np.float64)
    rng = np.random.default_rng(5)
    stream = rng.integers(0, V, size=(T_stream + 1, B))
    ids, tgt = stream[:-1], stream[1:]
    loss, h_full, cache = model.forward(ids, tgt)
    model.backward(cache)
    g_full = model.flat.grad.copy()
    total, h = 0.0, None
    for s in range(0, T_stream, 3):  # chunks of 3, 3, 2 with state carried
        _, h, c = model.forward(ids[s : s + 3], tgt[s : s + 3], h)
        total += c["total"]
    np.testing.assert_allclose(total, cache["total"], rtol=1e-13)
    np.testing.assert_allclose(h, h_full, rtol=0, atol=1e-14)
    # one chunk of length T is full BPTT
    model.flat.grad[...] = 0
    _, _, c = model.forward(ids[:T_stream], tgt[:T_stream], None)
    model.backward(c)
    np.testing.assert_array_equal(model.flat.grad, g_full)
