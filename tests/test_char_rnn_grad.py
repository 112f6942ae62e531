"""The whole language-model loss: gradient checks over every parameter and h0 (with a
gradient on h_n too), and CharRNN.step (sampling) equal to forward."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import CharRNN, ModelConfig, lengths_to_mask, softmax_cross_entropy

T, B, V, H = 4, 3, 5, 4
LENGTHS = [4, 2, 3]


def make_model(embed, L, dropout=0.0):
    cfg = ModelConfig(vocab_size=V, hidden=H, layers=L, embed=embed, dropout=dropout)
    return CharRNN(cfg, seed=1, dtype=np.float64)


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("embed", [0, 3], ids=["onehot", "embed3"])
def test_gradcheck_lm_loss(gradcheck, rng, embed, L, masked):
    """L = mean CE + sum(v * h_n): every parameter (one flat buffer) and h0."""
    model = make_model(embed, L)
    ids = rng.integers(0, V, size=(T, B))
    tgt = rng.integers(0, V, size=(T, B))
    h0 = 0.5 * rng.standard_normal((L, B, H))
    v = rng.standard_normal((L, B, H))
    mask = lengths_to_mask(LENGTHS, T, dtype="float64") if masked else None

    def f():
        loss, h_n, _ = model.forward(ids, tgt, h0, mask, need_grad=False)
        return loss + float(np.sum(v * h_n))

    _, _, cache = model.forward(ids, tgt, h0, mask)
    dh0 = model.backward(cache, dh_n=v)
    grad = model.flat.grad.copy()
    errs = gradcheck(f, [("params", model.flat.data, grad), ("h0", h0, dh0)])
    assert errs["params"] < 1e-6
    # and per named tensor, so the views and names line up with the buffer
    for name in model.flat.names:
        off, n = model.flat.offsets[name]
        np.testing.assert_array_equal(model.flat.view(name, grad=True).ravel(), grad[off : off + n])
        assert np.any(grad[off : off + n] != 0), f"{name} got no gradient"


@pytest.mark.parametrize("embed", [0, 3], ids=["onehot", "embed3"])
def test_gradcheck_lm_loss_with_dropout(gradcheck, rng, embed):
    """Training mode with fixed dropout masks (same seed each call) is differentiable too."""
    model = make_model(embed, 2, dropout=0.3)
    ids = rng.integers(0, V, size=(T, B))
    tgt = rng.integers(0, V, size=(T, B))

    def run(need_grad):
        return model.forward(
            ids, tgt, None, None, train=True, rng=np.random.default_rng(11), need_grad=need_grad
        )

    _, _, cache = run(True)
    assert cache["drop"] is not None
    model.backward(cache)
    gradcheck(lambda: run(False)[0], [("params", model.flat.data, model.flat.grad.copy())])


@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("embed", [0, 3], ids=["onehot", "embed3"])
def test_step_equals_forward(rng, embed, L):
    """Sampling's one-step function runs the same equations as forward."""
    model = make_model(embed, L)
    ids = rng.integers(0, V, size=(T, B))
    tgt = rng.integers(0, V, size=(T, B))
    h0 = rng.standard_normal((L, B, H))
    h0_before = h0.copy()
    loss, h_n, cache = model.forward(ids, tgt, h0)
    h, logits = h0, []
    for t in range(T):
        lg, h = model.step(ids[t], h)
        logits.append(lg)
    logits = np.stack(logits)  # (T, B, V)
    np.testing.assert_allclose(h, h_n, rtol=0, atol=1e-14)
    expected, _ = model.head.forward(cache["hcache"].reshape(T, B, H))
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-13)
    np.testing.assert_allclose(softmax_cross_entropy(logits, tgt)[0], loss, rtol=1e-14)
    np.testing.assert_array_equal(h0, h0_before)  # step returns a new state, h0 is untouched


def test_need_grad_false_same_loss(rng):
    model = make_model(0, 2)
    ids = rng.integers(0, V, size=(T, B))
    a = model.forward(ids, ids, need_grad=False)
    b = model.forward(ids, ids)
    assert a[0] == b[0]
    assert a[2]["dlogits"] is None and b[2]["dlogits"] is not None


def test_param_names_follow_torch():
    assert make_model(0, 2).flat.names == [
        "rnn.weight_ih_l0",
        "rnn.weight_hh_l0",
        "rnn.bias_ih_l0",
        "rnn.bias_hh_l0",
        "rnn.weight_ih_l1",
        "rnn.weight_hh_l1",
        "rnn.bias_ih_l1",
        "rnn.bias_hh_l1",
        "head.weight",
        "head.bias",
    ]
    m = make_model(3, 1)
    assert m.flat.names[0] == "embedding.weight" and m.flat.shapes["embedding.weight"] == (V, 3)
    assert make_model(0, 1).flat.shapes["rnn.weight_ih_l0"] == (H, V)  # one-hot: W_ih is the embedding


def test_bad_config_raises():
    with pytest.raises(ValueError):
        ModelConfig(vocab_size=5, embed=-1).validate()
    with pytest.raises(ValueError):
        ModelConfig(vocab_size=0).validate()
