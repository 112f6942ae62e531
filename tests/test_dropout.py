"""rnnkit.nn.dropout: inverted dropout, the one mask function every model uses."""

from __future__ import annotations

import numpy as np

from rnnkit.nn.dropout import dropout


def test_mask_keeps_1_minus_p_scaled_and_keeps_the_mean():
    x = np.ones((200, 300), np.float32)
    y, m = dropout(x, 0.25, True, np.random.default_rng(0), np.float32)
    assert m.dtype == np.float32 and set(np.unique(m)) == {0.0, np.float32(1 / 0.75)}
    assert abs((m > 0).mean() - 0.75) < 0.01 and abs(y.mean() - 1.0) < 0.02
    assert np.array_equal(y, x * m)


def test_no_mask_in_evaluation_or_at_p_0():
    x = np.arange(6.0).reshape(2, 3)
    for train, p in ((False, 0.5), (True, 0.0)):
        y, m = dropout(x, p, train, np.random.default_rng(0), np.float64)
        assert y is x and m is None


def test_same_rng_same_mask():
    x = np.ones((4, 5))
    a = dropout(x, 0.5, True, np.random.default_rng(3), np.float64)[1]
    b = dropout(x, 0.5, True, np.random.default_rng(3), np.float64)[1]
    assert np.array_equal(a, b)
