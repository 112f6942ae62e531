"""``rnnkit.nn.RNN`` against ``torch.nn.RNN``: same weights in, same outputs and gradients out
(float64, 1e-6), for every combination of layers, direction, ``batch_first`` and ``h0``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rnnkit.nn.rnn import RNN

torch = pytest.importorskip("torch")

D, H, T, B = 3, 4, 5, 2


def _pair(L, bi, batch_first, bias=True):
    ref = torch.nn.RNN(D, H, L, bias=bias, batch_first=batch_first, bidirectional=bi).double()
    ours = RNN(D, H, L, bias=bias, batch_first=batch_first, bidirectional=bi, dtype=np.float64, seed=0)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ref, ours


@pytest.mark.parametrize(
    "L,bi,batch_first,with_h0", list(itertools.product([1, 2], [False, True], [False, True], [False, True]))
)
def test_rnn_equals_torch_forward_and_gradients(L, bi, batch_first, with_h0):
    rng = np.random.default_rng(L * 8 + bi * 4 + batch_first * 2 + with_h0)
    ref, ours = _pair(L, bi, batch_first)
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    h0 = rng.standard_normal((L * (1 + bi), B, H)) if with_h0 else None
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True) if with_h0 else None
    out_t, hn_t = ref(xt, h0t)
    out, h_n = ours(x, h0)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(h_n, hn_t.detach().numpy(), rtol=1e-6, atol=1e-9)
    dout, dhn = rng.standard_normal(out.shape), rng.standard_normal(h_n.shape)
    (out_t * torch.tensor(dout)).sum().add((hn_t * torch.tensor(dhn)).sum()).backward()
    dx, dh0 = ours.backward(dout, dhn)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-6, atol=1e-9)
    if with_h0:
        np.testing.assert_allclose(dh0, h0t.grad.numpy(), rtol=1e-6, atol=1e-9)
    grads = dict(ours.named_grads())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-6, atol=1e-9, err_msg=name)


def test_unbatched_input_and_no_bias_follow_torch():
    rng = np.random.default_rng(7)
    ref, ours = _pair(2, True, False, bias=False)
    assert sorted(ours.state_dict()) == sorted(ref.state_dict())  # no bias parameters
    x = rng.standard_normal((T, D))  # (T, D): no batch axis
    out_t, hn_t = ref(torch.tensor(x))
    out, h_n = ours(x)
    assert out.shape == tuple(out_t.shape) and h_n.shape == tuple(hn_t.shape)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-6, atol=1e-9)
    dx, _ = ours.backward(np.ones_like(out))
    assert dx.shape == x.shape


def test_gradients_accumulate_until_zero_grad():
    ours = RNN(D, H, dtype=np.float64, seed=1)
    x = np.random.default_rng(2).standard_normal((T, B, D))
    out, _ = ours(x)
    ours.backward(np.ones_like(out))
    once = [g.copy() for g in ours.grads()]
    out, _ = ours(x)
    ours.backward(np.ones_like(out))
    for a, b in zip(once, ours.grads()):
        np.testing.assert_allclose(b, 2 * a)
    ours.zero_grad()
    assert all(not g.any() for g in ours.grads())


def test_bad_shapes_name_what_was_expected():
    ours = RNN(D, H, num_layers=2, batch_first=True)
    with pytest.raises(ValueError, match=r"input must be \(B, T, D\) or \(T, D\) with D=3, got \(2, 5, 4\)"):
        ours(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"h0 must be \(2, 2, 4\), got \(1, 2, 4\)"):
        ours(np.zeros((2, 5, 3)), np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh'"):
        RNN(D, H, nonlinearity="relu")


def test_lengths_equal_torch_packed_sequences():
    """Variable lengths: each sequence's h_n is its state at its own last step, outputs past it
    are 0, as ``torch.nn.utils.rnn.pack_padded_sequence`` gives (bidirectional: the reverse
    direction starts at each sequence's last step)."""
    rng = np.random.default_rng(3)
    ref, ours = _pair(2, True, False)
    x, lengths = rng.standard_normal((T, 3, D)), np.array([5, 2, 3])
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(x), torch.tensor(lengths), enforce_sorted=False
    )
    out_p, hn_t = ref(packed)
    out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, total_length=T)
    out, h_n = ours(x, lengths=lengths)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(h_n, hn_t.detach().numpy(), rtol=1e-6, atol=1e-9)
