"""RNNStack: gradient checks (incl. the 2-layer bidirectional masked stack), composition,
torch's h0/h_n layout and dropout."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import Bidirectional, RNNLayer, RNNStack, lengths_to_mask

T, B, D, H = 4, 3, 3, 4
LENGTHS = [4, 2, 1]


def make_stack(L, bidirectional, dropout=0.0, seed=0):
    return RNNStack(D, H, L, bidirectional, dropout, rng=np.random.default_rng(seed), dtype=np.float64)


def run_gradcheck(gradcheck, rng, rnn, mask, train=False, seed=None):
    dirs = rnn.dirs
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((rnn.L * dirs, B, H))
    w = rng.standard_normal((T, B, dirs * H))
    v = rng.standard_normal((rnn.L * dirs, B, H))

    def fwd():
        r = None if seed is None else np.random.default_rng(seed)  # same dropout masks every call
        return rnn.forward(x, h0, mask, rng=r, train=train)

    def f():
        (y, h_n), _ = fwd()
        return float(np.sum(w * y) + np.sum(v * h_n))

    (y, h_n), cache = fwd()
    assert y.shape == (T, B, dirs * H) and h_n.shape == (rnn.L * dirs, B, H)
    dx, dh0, grads = rnn.backward(w, v, cache)
    grads = {k: g.copy() for k, g in grads.items()}
    assert len(grads) == 4 * rnn.L * dirs
    return gradcheck(f, [("x", x, dx), ("h0", h0, dh0)] + [(k, rnn.params[k], grads[k]) for k in rnn.params])


@pytest.mark.parametrize(
    "L,bidirectional,masked",
    [
        (1, False, False),
        (2, False, False),
        (3, False, True),
        (1, True, True),
        (2, True, False),
        (2, True, True),  # the case: 2-layer bidirectional, mask, mixed lengths
    ],
    ids=lambda p: str(p),
)
def test_gradcheck_stack(gradcheck, rng, L, bidirectional, masked):
    mask = lengths_to_mask(LENGTHS, T, dtype="float64") if masked else None
    run_gradcheck(gradcheck, rng, make_stack(L, bidirectional), mask)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_gradcheck_stack_with_dropout(gradcheck, rng, bidirectional):
    """With fixed dropout masks the stack is a plain differentiable function."""
    rnn = make_stack(2, bidirectional, dropout=0.4)
    run_gradcheck(gradcheck, rng, rnn, lengths_to_mask(LENGTHS, T, dtype="float64"), train=True, seed=7)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_stack_is_layers_composed(rng, bidirectional):
    """Layer l reads layer l-1's states; T is unchanged; h_n is (L*dirs, B, H), layer by
    layer, forward direction first (torch's layout)."""
    L = 3
    rnn = make_stack(L, bidirectional)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((L * rnn.dirs, B, H))
    (y, h_n), _ = rnn.forward(x, h0)
    h = x
    finals = []
    for k in range(L):
        d_in = D if k == 0 else rnn.out_size
        if bidirectional:
            layer = Bidirectional(d_in, H, layer=k, dtype=np.float64)
            layer.params.update({n: rnn.params[n] for n in layer.params})  # MergedDict writes through
            (h, hn), _ = layer.forward(h, h0[2 * k : 2 * k + 2])
            finals += [hn[0], hn[1]]
        else:
            layer = RNNLayer(d_in, H, suffix=f"_l{k}", dtype=np.float64)
            layer.params.update({n: rnn.params[n] for n in layer.params})
            (h, hn), _ = layer.forward(h, h0[k])
            finals.append(hn)
        assert h.shape[0] == T
    np.testing.assert_allclose(y, h, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_n, np.stack(finals), rtol=0, atol=1e-14)


def test_param_names_and_shapes():
    rnn = RNNStack(5, 4, L=2, bidirectional=True)
    assert rnn.params["weight_ih_l0"].shape == (4, 5)
    assert rnn.params["weight_ih_l1"].shape == (4, 8)  # reads [h→; h←] of layer 0
    assert rnn.params["weight_hh_l1_reverse"].shape == (4, 4)
    assert len(rnn.params) == 16


def test_dropout_only_in_training(rng):
    rnn = make_stack(2, False, dropout=0.5)
    x = rng.standard_normal((T, B, D))
    (y_eval, _), _ = rnn.forward(x)
    (y_eval2, _), _ = rnn.forward(x, train=False, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(y_eval, y_eval2)
    (y_train, _), cache = rnn.forward(x, train=True, rng=np.random.default_rng(0))
    assert not np.allclose(y_eval, y_train)
    drop = cache[1][1]
    assert cache[1][0] is None  # never before the first layer
    assert set(np.unique(drop)) <= {0.0, 2.0}  # inverted dropout: kept units scaled by 1/(1-p)


def test_bad_sizes_raise():
    with pytest.raises(ValueError):
        RNNStack(3, 4, L=0)
    with pytest.raises(ValueError):
        RNNStack(3, 4, dropout=1.0)


def test_merged_params_write_through_to_layers():
    """Assigning into a stack's (or a bidirectional layer's) params dict, by item or by
    ``update``, reaches the layer that computes with it."""
    rnn = RNNStack(D, H, L=2, bidirectional=True, dtype=np.float64)
    new = np.zeros((H, H))
    rnn.params.update({"weight_hh_l1_reverse": new})
    assert rnn.layers[1].bwd.params["weight_hh_l1_reverse"] is new
    b = np.ones(H)
    rnn.params["bias_ih_l0"] = b
    assert rnn.layers[0].fwd.params["bias_ih_l0"] is b
