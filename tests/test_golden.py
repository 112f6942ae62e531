"""Golden values: fixed small weights, expected numbers worked out by hand with math.tanh.

The cell is H=2, D=1, with
    W_ih = [[0.5], [-1.0]]      W_hh = [[0.1, 0.2], [-0.3, 0.4]]
    b_ih = [0.1, 0.0]           b_hh = [0.0, -0.1]       so b = b_ih + b_hh = [0.1, -0.1]
and the input sequence x = 1.0, -2.0, 0.5 (T=3, B=1), h_0 = 0.
"""

from __future__ import annotations

from math import log, tanh

import numpy as np
import pytest

from rnnkit import RNNLayer, lengths_to_mask, softmax_cross_entropy

X = [1.0, -2.0, 0.5]


def golden_layer(reverse=False):
    layer = RNNLayer(1, 2, reverse=reverse, dtype=np.float64)
    layer.params["weight_ih_l0"][...] = [[0.5], [-1.0]]
    layer.params["weight_hh_l0"][...] = [[0.1, 0.2], [-0.3, 0.4]]
    layer.params["bias_ih_l0"][...] = [0.1, 0.0]
    layer.params["bias_hh_l0"][...] = [0.0, -0.1]
    return layer


def x_array():
    return np.array(X).reshape(3, 1, 1)  # (T, B, D)


def test_golden_forward_left_to_right():
    # t=1: z = W_ih*1.0 + b + W_hh*0 = [0.5 + 0.1, -1.0 - 0.1] = [0.6, -1.1]
    h1 = [tanh(0.6), tanh(-1.1)]
    # t=2: z = W_ih*(-2.0) + b + W_hh h1
    #        = [-1.0 + 0.1 + 0.1*h1[0] + 0.2*h1[1],  2.0 - 0.1 - 0.3*h1[0] + 0.4*h1[1]]
    h2 = [tanh(-1.0 + 0.1 + 0.1 * h1[0] + 0.2 * h1[1]), tanh(2.0 - 0.1 - 0.3 * h1[0] + 0.4 * h1[1])]
    # t=3: z = W_ih*0.5 + b + W_hh h2
    #        = [0.25 + 0.1 + 0.1*h2[0] + 0.2*h2[1], -0.5 - 0.1 - 0.3*h2[0] + 0.4*h2[1]]
    h3 = [tanh(0.25 + 0.1 + 0.1 * h2[0] + 0.2 * h2[1]), tanh(-0.5 - 0.1 - 0.3 * h2[0] + 0.4 * h2[1])]
    # The same numbers written out, so the arithmetic above is pinned too.
    assert h1 == pytest.approx([0.5370495669980353, -0.8004990217606297], abs=1e-15)
    assert h2 == pytest.approx([-0.7642667750573234, 0.889324385200028], abs=1e-15)
    assert h3 == pytest.approx([0.4230804893257134, -0.014989090704250696], abs=1e-15)

    (states, h_last), _ = golden_layer().forward(x_array())
    np.testing.assert_allclose(states[:, 0], [h1, h2, h3], rtol=0, atol=1e-15)
    np.testing.assert_allclose(h_last[0], h3, rtol=0, atol=1e-15)


def test_golden_forward_right_to_left():
    # Reading from t=3 down to t=1, still from h = 0:
    # t=3: z = W_ih*0.5 + b = [0.25 + 0.1, -0.5 - 0.1] = [0.35, -0.6]
    r3 = [tanh(0.35), tanh(-0.6)]
    # t=2: z = W_ih*(-2.0) + b + W_hh r3 = [-0.9 + 0.1*r3[0] + 0.2*r3[1], 1.9 - 0.3*r3[0] + 0.4*r3[1]]
    r2 = [tanh(-0.9 + 0.1 * r3[0] + 0.2 * r3[1]), tanh(1.9 - 0.3 * r3[0] + 0.4 * r3[1])]
    # t=1: z = W_ih*1.0 + b + W_hh r2 = [0.6 + 0.1*r2[0] + 0.2*r2[1], -1.1 - 0.3*r2[0] + 0.4*r2[1]]
    r1 = [tanh(0.6 + 0.1 * r2[0] + 0.2 * r2[1]), tanh(-1.1 - 0.3 * r2[0] + 0.4 * r2[1])]
    assert r3 == pytest.approx([0.3363755443363322, -0.5370495669980353], abs=1e-15)
    assert r2 == pytest.approx([-0.750357342824154, 0.9192657458499569], abs=1e-15)
    assert r1 == pytest.approx([0.6099347290850957, -0.46775015876326326], abs=1e-15)

    (states, h_last), _ = golden_layer(reverse=True).forward(x_array())
    np.testing.assert_allclose(states[:, 0], [r1, r2, r3], rtol=0, atol=1e-15)  # stored in time order
    np.testing.assert_allclose(h_last[0], r1, rtol=0, atol=1e-15)  # final = state at t=1


def test_golden_masked_holds_state():
    """Length 2 of 3: the final state is h2 and the padded output is 0."""
    h1 = [tanh(0.6), tanh(-1.1)]
    h2 = [tanh(-0.9 + 0.1 * h1[0] + 0.2 * h1[1]), tanh(1.9 - 0.3 * h1[0] + 0.4 * h1[1])]
    (states, h_last), _ = golden_layer().forward(x_array(), mask=lengths_to_mask([2], 3, "float64"))
    np.testing.assert_allclose(h_last[0], h2, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(states[2, 0], [0.0, 0.0])


def test_golden_backward_two_steps():
    """T=2 (x = 1.0, -2.0), loss L = h2[0]. BPTT by hand:

    dL/dh2  = [1, 0]
    dz2     = dL/dh2 * (1 - h2^2)       = [1 - h2[0]^2, 0]
    dW_hh  += dz2^T h1                   (row 0: dz2[0] * h1)
    dL/dh1  = W_hh^T dz2                 = dz2[0] * [0.1, 0.2]
    dz1     = dL/dh1 * (1 - h1^2)
    dW_hh  += dz1^T h0 = 0
    dW_ih   = dz1 * x1 + dz2 * x2        db = dz1 + dz2      dh0 = W_hh^T dz1
    """
    h1 = [tanh(0.6), tanh(-1.1)]
    h2a = tanh(-0.9 + 0.1 * h1[0] + 0.2 * h1[1])
    dz2 = [1 - h2a**2, 0.0]
    dh1 = [0.1 * dz2[0], 0.2 * dz2[0]]
    dz1 = [dh1[0] * (1 - h1[0] ** 2), dh1[1] * (1 - h1[1] ** 2)]
    dW_hh = [[dz2[0] * h1[0], dz2[0] * h1[1]], [0.0, 0.0]]
    dW_ih = [[dz1[0] * 1.0 + dz2[0] * -2.0], [dz1[1] * 1.0 + dz2[1] * -2.0]]
    db = [dz1[0] + dz2[0], dz1[1] + dz2[1]]
    dh0 = [0.1 * dz1[0] - 0.3 * dz1[1], 0.2 * dz1[0] + 0.4 * dz1[1]]
    dx = [0.5 * dz1[0] - 1.0 * dz1[1], 0.5 * dz2[0] - 1.0 * dz2[1]]

    layer = golden_layer()
    (_, _), cache = layer.forward(x_array()[:2], np.zeros((1, 2)))
    dstates = np.zeros((2, 1, 2))
    dstates[1, 0, 0] = 1.0
    dxa, dh0a, g = layer.backward(dstates, None, cache)
    np.testing.assert_allclose(g["weight_hh_l0"], dW_hh, rtol=0, atol=1e-15)
    np.testing.assert_allclose(g["weight_ih_l0"], dW_ih, rtol=0, atol=1e-15)
    np.testing.assert_allclose(g["bias_ih_l0"], db, rtol=0, atol=1e-15)
    np.testing.assert_allclose(g["bias_hh_l0"], db, rtol=0, atol=1e-15)
    np.testing.assert_allclose(dh0a[0], dh0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(dxa[:, 0, 0], dx, rtol=0, atol=1e-15)


def test_golden_cross_entropy():
    """logits = [log 1, log 2, log 3] -> softmax = [1/6, 2/6, 3/6]. Target 1: loss = -log(1/3)
    = log 3; gradient = softmax - onehot = [1/6, 1/3 - 1, 1/2]."""
    logits = np.array([[log(1.0), log(2.0), log(3.0)]])
    loss, total, count, d = softmax_cross_entropy(logits, np.array([1]))
    assert loss == pytest.approx(log(3.0), abs=1e-15)
    assert count == 1 and total == pytest.approx(log(3.0), abs=1e-15)
    np.testing.assert_allclose(d, [[1 / 6, 1 / 3 - 1, 1 / 2]], rtol=0, atol=1e-15)
    # two positions, the second masked out: same loss, gradient only on the first
    loss2, _, count2, d2 = softmax_cross_entropy(
        np.concatenate([logits, logits]), np.array([1, 0]), np.array([1.0, 0.0])
    )
    assert count2 == 1 and loss2 == pytest.approx(log(3.0), abs=1e-15)
    np.testing.assert_array_equal(d2[1], 0)
