"""Bidirectional: gradient checks, and the definition (two layers, one over reversed time)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import Bidirectional, RNNLayer, lengths_to_mask

T, B, D, H = 4, 3, 3, 4
LENGTHS = [4, 2, 1]


def make_bi(seed=0):
    return Bidirectional(D, H, rng=np.random.default_rng(seed), dtype=np.float64)


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_gradcheck_bidirectional(gradcheck, rng, masked):
    """dx, dh0 (2, B, H) and all eight parameters of both directions."""
    bi = make_bi()
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((2, B, H))
    w = rng.standard_normal((T, B, 2 * H))
    v = rng.standard_normal((2, B, H))
    mask = lengths_to_mask(LENGTHS, T, dtype="float64") if masked else None

    def f():
        (y, h_last), _ = bi.forward(x, h0, mask)
        return float(np.sum(w * y) + np.sum(v * h_last))

    (y, h_last), cache = bi.forward(x, h0, mask)
    assert y.shape == (T, B, 2 * H) and h_last.shape == (2, B, H)
    dx, dh0, grads = bi.backward(w, v, cache)
    grads = {k: g.copy() for k, g in grads.items()}
    assert len(grads) == 8
    gradcheck(f, [("x", x, dx), ("h0", h0, dh0)] + [(k, bi.params[k], grads[k]) for k in bi.params])


def test_param_names():
    bi = Bidirectional(D, H, layer=1)
    assert set(bi.params) == {
        f"{w}_l1{s}" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") for s in ("", "_reverse")
    }


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_bidirectional_is_forward_and_time_reversed_layer(rng, masked):
    """y_t = [h→_t ; h←_t], where h← is an ordinary left-to-right layer run over each
    sequence reversed in time (its own real steps only), its states flipped back."""
    bi = make_bi()
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((2, B, H))
    lengths = LENGTHS if masked else [T] * B
    mask = lengths_to_mask(lengths, T, dtype="float64") if masked else None
    (y, h_last), _ = bi.forward(x, h0, mask)

    fwd = RNNLayer(D, H, dtype=np.float64)
    bwd = RNNLayer(D, H, dtype=np.float64)  # plain left-to-right layer ...
    fwd.params.update({k: bi.params[k + ""] for k in fwd.params})
    bwd.params.update({k: bi.params[k + "_reverse"] for k in bwd.params})  # ... with the reverse weights
    for b, n in enumerate(lengths):
        (sf, hf), _ = fwd.forward(x[:n, b : b + 1], h0[0, b : b + 1])
        (sb, hb), _ = bwd.forward(x[:n, b : b + 1][::-1].copy(), h0[1, b : b + 1])
        np.testing.assert_allclose(y[:n, b, :H], sf[:, 0], atol=1e-14, rtol=0)
        np.testing.assert_allclose(y[:n, b, H:], sb[::-1, 0], atol=1e-14, rtol=0)
        np.testing.assert_allclose(h_last[0, b], hf[0], atol=1e-14, rtol=0)
        np.testing.assert_allclose(h_last[1, b], hb[0], atol=1e-14, rtol=0)
        # the backward direction's final state is its state at t = 0
        np.testing.assert_allclose(h_last[1, b], y[0, b, H:], atol=1e-14, rtol=0)
        np.testing.assert_array_equal(y[n:, b], 0)


def test_backward_direction_sees_the_future(rng):
    """Changing the last input changes the reverse half of y at t=0 but not the forward half."""
    bi = make_bi()
    x = rng.standard_normal((T, B, D))
    (y1, _), _ = bi.forward(x)
    x[-1] += 1.0
    (y2, _), _ = bi.forward(x)
    np.testing.assert_array_equal(y1[0, :, :H], y2[0, :, :H])
    assert np.all(np.abs(y1[0, :, H:] - y2[0, :, H:]) > 0)
