"""RNNLayer: gradient checks, the concatenated form, a manual step loop, and masking.

Sizes are tiny (T=4, B=3, D=3, H=4) so that the centered-difference checks stay fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import RNNLayer, lengths_to_mask

T, B, D, H = 4, 3, 3, 4
LENGTHS = [4, 2, 1]  # mixed: one full, one half, one single-step sequence


def make_layer(reverse=False, seed=0, dtype=np.float64, D=D, H=H):
    layer = RNNLayer(D, H, reverse=reverse, rng=np.random.default_rng(seed), dtype=dtype)
    # Make the biases differ, so a swapped or shared bias gradient would show up.
    layer.params[layer.k_bhh] += 0.3
    return layer


def scalar_loss_setup(rng, masked, T=T, B=B, H=H):
    """Random fixed weights w (T, B, H), v (B, H): L = sum(w * states) + sum(v * h_last)."""
    w = rng.standard_normal((T, B, H))
    v = rng.standard_normal((B, H))
    mask = lengths_to_mask(LENGTHS, T, dtype="float64") if masked else None
    return w, v, mask


# ------------------------------------------------------------------ gradient checks
@pytest.mark.parametrize("reverse", [False, True], ids=["l2r", "r2l"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_gradcheck_layer(gradcheck, rng, reverse, masked):
    """dx, dh0 and all four parameter gradients match centered differences."""
    layer = make_layer(reverse)
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    w, v, mask = scalar_loss_setup(rng, masked)

    def f():
        (states, h_last), _ = layer.forward(x, h0, mask)
        return float(np.sum(w * states) + np.sum(v * h_last))

    (states, h_last), cache = layer.forward(x, h0, mask)
    dx, dh0, grads = layer.backward(w, v, cache)
    grads = {k: g.copy() for k, g in grads.items()}
    items = [("x", x, dx), ("h0", h0, dh0)] + [(k, layer.params[k], grads[k]) for k in layer.params]
    assert len(items) == 6
    gradcheck(f, items)


@pytest.mark.parametrize("reverse", [False, True], ids=["l2r", "r2l"])
def test_gradcheck_layer_only_dh_last(gradcheck, rng, reverse):
    """The many-to-one case: gradient only on the final state (dstates=None)."""
    layer = make_layer(reverse)
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    v = rng.standard_normal((B, H))

    def f():
        return float(np.sum(v * layer.forward(x, h0)[0][1]))

    _, cache = layer.forward(x, h0)
    dx, dh0, grads = layer.backward(None, v, cache)
    grads = {k: g.copy() for k, g in grads.items()}
    gradcheck(f, [("x", x, dx), ("h0", h0, dh0)] + [(k, layer.params[k], grads[k]) for k in layer.params])


@pytest.mark.parametrize("reverse", [False, True], ids=["l2r", "r2l"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_gradcheck_layer_id_input(gradcheck, rng, reverse, masked):
    """Integer ids (one-hot input): dh0 and every parameter; dx is None."""
    V = 5
    layer = make_layer(reverse, D=V)
    ids = rng.integers(0, V, size=(T, B))
    ids[0, :] = 2  # a repeated id, so the scatter-add must accumulate
    h0 = 0.5 * rng.standard_normal((B, H))
    w, v, mask = scalar_loss_setup(rng, masked)

    def f():
        (states, h_last), _ = layer.forward(ids, h0, mask)
        return float(np.sum(w * states) + np.sum(v * h_last))

    _, cache = layer.forward(ids, h0, mask)
    dx, dh0, grads = layer.backward(w, v, cache)
    assert dx is None
    grads = {k: g.copy() for k, g in grads.items()}
    gradcheck(f, [("h0", h0, dh0)] + [(k, layer.params[k], grads[k]) for k in layer.params])


# ------------------------------------------------------------------ forms of the cell
def test_concat_form_equals_split_form(rng):
    """The lecture's cell h_t = tanh(W_h [h_{t-1}; x_t] + b) is the layer's split form.

    With W_h = [W_hh | W_ih] of shape (H, H+D) and the stacked vector [h; x] of length
    H+D, the block product is W_h [h; x] = W_hh h + W_ih x: each output row is a dot
    product over H+D entries, and splitting that sum at column H gives the two terms.
    The bias b is b_ih + b_hh (torch keeps two; only their sum matters).
    """
    layer = make_layer()
    P = layer.params
    W_h = np.concatenate([P["weight_hh_l0"], P["weight_ih_l0"]], axis=1)  # (H, H+D)
    assert W_h.shape == (H, H + D)
    b = P["bias_ih_l0"] + P["bias_hh_l0"]
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    (states, h_last), _ = layer.forward(x, h0)
    h = h0
    for t in range(T):
        hx = np.concatenate([h, x[t]], axis=1)  # (B, H+D): [h; x]
        h = np.tanh(hx @ W_h.T + b)
        np.testing.assert_allclose(states[t], h, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_last, h, rtol=0, atol=1e-14)


@pytest.mark.parametrize("reverse", [False, True], ids=["l2r", "r2l"])
def test_manual_step_loop_equals_layer(rng, reverse):
    """Rolled (a loop of single steps, plain numpy tanh) equals unrolled (the layer)."""
    layer = make_layer(reverse)
    P = layer.params
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    (states, h_last), _ = layer.forward(x, h0)

    def step(h, xt):  # h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
        sfx = "_l0"
        return np.tanh(
            xt @ P["weight_ih" + sfx].T + P["bias_ih" + sfx] + h @ P["weight_hh" + sfx].T + P["bias_hh" + sfx]
        )

    order = range(T - 1, -1, -1) if reverse else range(T)
    h = h0
    expected = np.zeros((T, B, H))
    for t in order:
        h = step(h, x[t])
        expected[t] = h  # stored at its own time index in both directions
    np.testing.assert_allclose(states, expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_last, h, rtol=0, atol=1e-14)
    # right to left really is different from left to right on the same weights
    other = make_layer(not reverse)
    other.params.update({k: v.copy() for k, v in P.items()})
    assert not np.allclose(other.forward(x, h0)[0][0], states)


def test_h0_defaults_to_zeros(rng):
    layer = make_layer()
    x = rng.standard_normal((T, B, D))
    (s1, h1), _ = layer.forward(x)
    (s2, h2), _ = layer.forward(x, np.zeros((B, H)))
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(h1, h2)
    (s3, _), _ = layer.forward(x, np.ones((B, H)))
    assert not np.allclose(s1, s3)


def test_float32_default_and_float64_option(rng):
    x = rng.standard_normal((T, B, D))
    lay32 = RNNLayer(D, H, rng=np.random.default_rng(0))
    lay64 = RNNLayer(D, H, rng=np.random.default_rng(0), dtype=np.float64)
    (s32, _), c32 = lay32.forward(x.astype(np.float32))
    (s64, _), c64 = lay64.forward(x)
    assert s32.dtype == np.float32 and s64.dtype == np.float64
    assert all(p.dtype == np.float32 for p in lay32.params.values())
    np.testing.assert_allclose(s32, s64, atol=1e-6)
    dx, dh0, grads = lay32.backward(np.ones_like(s32), None, c32)
    assert dx.dtype == np.float32 and dh0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_shape_errors(rng):
    layer = make_layer()
    with pytest.raises(ValueError):
        layer.forward(rng.standard_normal((T, B, D + 1)))
    with pytest.raises(ValueError):
        layer.forward(rng.standard_normal((T, B, D)), np.zeros((B, H + 1)))
    with pytest.raises(ValueError):
        layer.forward(np.array([[0, D]]))  # id out of range


def test_param_names_follow_torch():
    fwd = RNNLayer(D, H, suffix="_l1")
    bwd = RNNLayer(D, H, suffix="_l1_reverse", reverse=True)
    assert set(fwd.params) == {"weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"}
    assert set(bwd.params) == {
        "weight_ih_l1_reverse",
        "weight_hh_l1_reverse",
        "bias_ih_l1_reverse",
        "bias_hh_l1_reverse",
    }
    assert fwd.params["weight_ih_l1"].shape == (H, D)
    assert fwd.params["weight_hh_l1"].shape == (H, H)


# ------------------------------------------------------------------ masking
@pytest.mark.parametrize("reverse", [False, True], ids=["l2r", "r2l"])
def test_padded_steps_change_nothing(rng, reverse):
    """New values at padded positions (in x and in the upstream gradient) change no
    output, final state or gradient; the gradient reaching padded inputs is zero."""
    layer = make_layer(reverse)
    mask = lengths_to_mask(LENGTHS, T, dtype="float64")
    pad = mask == 0
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    w = rng.standard_normal((T, B, H))
    v = rng.standard_normal((B, H))

    def run(x, w):
        (s, hl), cache = layer.forward(x, h0, mask)
        dx, dh0, grads = layer.backward(w, v, cache)
        return s.copy(), hl.copy(), dx.copy(), dh0.copy(), {k: g.copy() for k, g in grads.items()}

    a = run(x, w)
    x2, w2 = x.copy(), w.copy()
    x2[pad] = 100.0 * rng.standard_normal((pad.sum(), D))
    w2[pad] = rng.standard_normal((pad.sum(), H))
    b = run(x2, w2)
    for u, v_ in zip(a[:4], b[:4]):
        np.testing.assert_array_equal(u, v_)
    for k in a[4]:
        np.testing.assert_array_equal(a[4][k], b[4][k])
    assert np.all(a[0][pad] == 0), "outputs at padded steps are 0, as pad_packed_sequence gives"
    assert np.all(a[2][pad] == 0), "no gradient reaches a padded input"
    assert np.any(a[2][~pad] != 0)


@pytest.mark.parametrize("reverse", [False, True], ids=["l2r", "r2l"])
def test_masked_batch_equals_each_sequence_alone(rng, reverse):
    """Each sequence in a padded batch gets exactly what it gets when run alone at its own
    length: states, final state (= state at its last real step), and every gradient."""
    layer = make_layer(reverse)
    mask = lengths_to_mask(LENGTHS, T, dtype="float64")
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    w = rng.standard_normal((T, B, H)) * mask[:, :, None]
    v = rng.standard_normal((B, H))
    (states, h_last), cache = layer.forward(x, h0, mask)
    dx, dh0, grads = layer.backward(w, v, cache)
    grads = {k: g.copy() for k, g in grads.items()}
    summed = {k: np.zeros_like(g) for k, g in grads.items()}
    for b, n in enumerate(LENGTHS):
        (s_b, hl_b), c_b = layer.forward(x[:n, b : b + 1], h0[b : b + 1])
        np.testing.assert_allclose(states[:n, b], s_b[:, 0], rtol=0, atol=1e-14)
        np.testing.assert_allclose(h_last[b], hl_b[0], rtol=0, atol=1e-14)
        last = 0 if reverse else n - 1  # the direction's last real step
        np.testing.assert_allclose(h_last[b], states[last, b], rtol=0, atol=1e-14)
        dx_b, dh0_b, g_b = layer.backward(w[:n, b : b + 1], v[b : b + 1], c_b)
        np.testing.assert_allclose(dx[:n, b], dx_b[:, 0], rtol=0, atol=1e-13)
        np.testing.assert_allclose(dh0[b], dh0_b[0], rtol=0, atol=1e-13)
        for k in summed:
            summed[k] += g_b[k]
    for k in grads:  # weight gradients are sums over the batch
        np.testing.assert_allclose(grads[k], summed[k], rtol=0, atol=1e-12)


def test_zero_length_sequence_keeps_h0(rng):
    layer = make_layer()
    mask = lengths_to_mask([T, 0, 2], T, dtype="float64")
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    v = rng.standard_normal((B, H))
    (states, h_last), cache = layer.forward(x, h0, mask)
    np.testing.assert_array_equal(h_last[1], h0[1])
    np.testing.assert_array_equal(states[:, 1], 0)
    _, dh0, _ = layer.backward(None, v, cache)
    np.testing.assert_array_equal(dh0[1], v[1])  # the state passed straight through
