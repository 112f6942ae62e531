"""Fused softmax cross-entropy: gradient checks (with a mask), stability, torch agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit import softmax_cross_entropy
from rnnkit.nn.softmax_cross_entropy import log_softmax, softmax

T, B, V = 4, 3, 5


def mixed_mask():
    m = np.ones((T, B))
    m[2:, 1] = 0
    m[1:, 2] = 0
    return m


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_gradcheck_softmax_ce(gradcheck, rng, masked):
    logits = rng.standard_normal((T, B, V))
    targets = rng.integers(0, V, size=(T, B))
    mask = mixed_mask() if masked else None

    def f():
        return softmax_cross_entropy(logits, targets, mask, need_grad=False)[0]

    loss, total, count, dlogits = softmax_cross_entropy(logits, targets, mask)
    assert dlogits.shape == logits.shape
    assert count == (mask.sum() if masked else T * B)
    assert math.isclose(loss, total / count)
    gradcheck(f, [("logits", logits, dlogits)])
    if masked:
        assert np.all(dlogits[mask == 0] == 0)


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_equals_torch_cross_entropy(rng, masked):
    torch = pytest.importorskip("torch")
    logits = rng.standard_normal((T, B, V))
    targets = rng.integers(0, V, size=(T, B))
    mask = mixed_mask() if masked else np.ones((T, B))
    loss, _, _, dlogits = softmax_cross_entropy(logits, targets, mask if masked else None)
    lt = torch.from_numpy(logits.copy()).requires_grad_()
    nll = torch.nn.functional.cross_entropy(
        lt.reshape(-1, V), torch.from_numpy(targets.reshape(-1)), reduction="none"
    )
    m = torch.from_numpy(mask.reshape(-1))
    ref = (nll * m).sum() / m.sum()
    ref.backward()
    assert abs(loss - ref.item()) < 1e-12
    np.testing.assert_allclose(dlogits, lt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_masked_positions_count_for_nothing(rng):
    logits = rng.standard_normal((T, B, V))
    targets = rng.integers(0, V, size=(T, B))
    mask = mixed_mask()
    a = softmax_cross_entropy(logits, targets, mask)
    logits2, targets2 = logits.copy(), targets.copy()
    logits2[mask == 0] = 50 * rng.standard_normal(((mask == 0).sum(), V))
    targets2[mask == 0] = (targets2[mask == 0] + 1) % V
    b = softmax_cross_entropy(logits2, targets2, mask)
    assert a[:3] == b[:3]
    np.testing.assert_array_equal(a[3], b[3])


def test_stable_for_huge_logits():
    """exp(1000) overflows; shifting by the max keeps the loss finite and exact."""
    logits = np.array([[1000.0, 1000.0 - math.log(3.0), -1000.0]])
    loss, _, _, d = softmax_cross_entropy(logits, np.array([1]))
    # p = [3/4, 1/4, ~0]: -log(1/4) = log 4
    assert math.isclose(loss, math.log(4.0), rel_tol=1e-12)
    np.testing.assert_allclose(d, [[0.75, 0.25 - 1.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(softmax(logits), [[0.75, 0.25, 0.0]], atol=1e-12)
    assert np.all(np.isfinite(log_softmax(np.array([[1e4, -1e4]]))))
    loss32 = softmax_cross_entropy(logits.astype(np.float32), np.array([1]))[0]
    assert math.isfinite(loss32)


def test_uniform_logits_give_log_v(rng):
    logits = np.zeros((T, B, V))
    loss = softmax_cross_entropy(logits, rng.integers(0, V, size=(T, B)))[0]
    assert math.isclose(loss, math.log(V), rel_tol=1e-14)


def test_everything_masked_gives_zero():
    logits = np.ones((2, 2, V))
    loss, total, count, d = softmax_cross_entropy(logits, np.zeros((2, 2), dtype=int), np.zeros((2, 2)))
    assert loss == 0 and total == 0 and count == 0
    assert np.all(d == 0)


def test_bad_targets_raise():
    with pytest.raises(ValueError):
        softmax_cross_entropy(np.zeros((2, V)), np.array([0, V]))
