"""One-hot input: the embedding lookup is the one-hot product, forward and backward, and
so is the RNN layer's id input (W_ih @ onehot(x) is a column gather)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import RNNLayer, lengths_to_mask
from rnnkit.nn.embedding import Embedding, check_ids, gather_rows, onehot, scatter_add_rows

T, B, V, E, H = 4, 3, 6, 3, 4


def ids_with_repeats(rng):
    ids = rng.integers(0, V, size=(T, B))
    ids[1, :] = 3  # one id used several times: the scatter must accumulate
    ids[2, 0] = 3
    return ids


def test_onehot_matmul_equals_lookup(rng):
    """onehot(x) @ E == E[x] (forward) and onehot(x)^T @ dY == scatter-add (backward)."""
    emb = Embedding(V, E, rng=np.random.default_rng(0), dtype=np.float64)
    ids = ids_with_repeats(rng)
    X = onehot(ids, V, dtype=np.float64)  # (T, B, V)
    assert X.shape == (T, B, V) and np.all(X.sum(-1) == 1)
    y, cache = emb.forward(ids)
    np.testing.assert_array_equal(y, X @ emb.params["weight"])  # exact: one 1.0 per row
    dy = rng.standard_normal((T, B, E))
    _, grads = emb.backward(dy, cache)
    dW_matmul = X.reshape(-1, V).T @ dy.reshape(-1, E)  # (V, E)
    np.testing.assert_allclose(grads["weight"], dW_matmul, rtol=0, atol=1e-14)
    assert not np.any(grads["weight"][np.setdiff1d(np.arange(V), ids)])  # unused rows get 0


def test_scatter_add_accumulates_repeats():
    d = np.full((3, 2), 9.0)  # old contents are overwritten, not added to
    scatter_add_rows(d, np.array([1, 1, 2, 1]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]))
    np.testing.assert_array_equal(d, [[0, 0], [11, 14], [5, 6]])
    np.testing.assert_array_equal(
        gather_rows(np.arange(6.0).reshape(3, 2), np.array([2, 0])), [[4, 5], [0, 1]]
    )


def test_gradcheck_embedding(gradcheck, rng):
    emb = Embedding(V, E, rng=np.random.default_rng(0), dtype=np.float64)
    ids = ids_with_repeats(rng)
    w = rng.standard_normal((T, B, E))

    def f():
        return float(np.sum(w * emb.forward(ids)[0]))

    _, cache = emb.forward(ids)
    _, grads = emb.backward(w, cache)
    gradcheck(f, [("weight", emb.params["weight"], grads["weight"].copy())])


@pytest.mark.parametrize("reverse", [False, True], ids=["l2r", "r2l"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_rnn_id_input_equals_onehot_matmul(rng, reverse, masked):
    """The layer fed ids (gather W_ih[:, x_t]) equals the layer fed one-hot vectors
    (W_ih @ onehot(x_t)): same states, final state, dh0 and weight gradients."""
    layer = RNNLayer(V, H, reverse=reverse, rng=np.random.default_rng(0), dtype=np.float64)
    ids = ids_with_repeats(rng)
    X = onehot(ids, V, dtype=np.float64)
    h0 = rng.standard_normal((B, H))
    w = rng.standard_normal((T, B, H))
    v = rng.standard_normal((B, H))
    mask = lengths_to_mask([4, 2, 1], T, dtype="float64") if masked else None
    (s_id, h_id), c_id = layer.forward(ids, h0, mask)
    dx_id, dh0_id, g = layer.backward(w, v, c_id)
    g_id = {k: a.copy() for k, a in g.items()}
    (s_oh, h_oh), c_oh = layer.forward(X, h0, mask)
    dx_oh, dh0_oh, g_oh = layer.backward(w, v, c_oh)
    np.testing.assert_allclose(s_id, s_oh, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_id, h_oh, rtol=0, atol=1e-14)
    np.testing.assert_allclose(dh0_id, dh0_oh, rtol=0, atol=1e-14)
    for k in g_id:
        np.testing.assert_allclose(g_id[k], g_oh[k], rtol=0, atol=1e-13)
    assert dx_id is None and dx_oh.shape == (T, B, V)


def test_bad_ids_raise():
    with pytest.raises(ValueError):
        check_ids(np.array([0, V]), V)
    with pytest.raises(ValueError):
        check_ids(np.array([-1]), V)
    with pytest.raises(TypeError):
        check_ids(np.array([0.5]), V)
    with pytest.raises(ValueError):
        Embedding(V, E).forward(np.array([[V]]))


@pytest.mark.parametrize("vocab", [6, 300], ids=["gemm-path", "sorted-segment-path"])
def test_scatter_add_equals_onehot_matmul_any_vocab(rng, vocab):
    """Both scatter-add strategies (one-hot GEMM for small V, sorted segments for large V)
    give onehot(ids)^T @ dY, for rows and for the transposed (W_ih-shaped) table."""
    from rnnkit.nn.embedding import scatter_add_cols

    ids = rng.integers(0, vocab, size=(5, 4))
    ids[0] = ids[1]  # repeats
    dy = rng.standard_normal((5, 4, 3))
    X = onehot(ids, vocab, dtype=np.float64).reshape(-1, vocab)
    expected = X.T @ dy.reshape(-1, 3)  # (V, 3)
    rows = np.full((vocab, 3), 7.0)
    scatter_add_rows(rows, ids, dy)
    np.testing.assert_allclose(rows, expected, rtol=0, atol=1e-13)
    cols = np.full((3, vocab), 7.0)
    scatter_add_cols(cols, ids, dy)
    np.testing.assert_allclose(cols, expected.T, rtol=0, atol=1e-13)
