"""PyTorch as the reference oracle.

The same weights are copied into ``torch.nn.RNN`` (tanh) with ``load_state_dict`` under
our names, which proves the naming and layout. Outputs, final states and every gradient
(parameters, input, h0) must agree: 1e-10 in float64, 1e-5 in float32. Variable lengths
are compared against ``pack_padded_sequence(..., enforce_sorted=False)``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

from rnnkit import CharRNN, ModelConfig, RNNStack, lengths_to_mask  # noqa: E402

T, B, D, H = 5, 4, 3, 4
LENGTHS = [5, 2, 4, 1]  # unsorted, so enforce_sorted=False is exercised

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])


def to_torch(a):
    return torch.from_numpy(np.array(a))


def torch_rnn_like(rnn: RNNStack, dtype) -> torch.nn.RNN:
    ref = torch.nn.RNN(
        rnn.D,
        rnn.H,
        num_layers=rnn.L,
        nonlinearity="tanh",
        bidirectional=rnn.dirs == 2,
        dtype=TORCH_DTYPE[dtype],
    )
    ref.load_state_dict({k: to_torch(v) for k, v in rnn.params.items()}, strict=True)
    return ref


@DTYPES
@pytest.mark.parametrize("packed", [False, True], ids=["dense", "packed"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("L", [1, 2, 3])
def test_stack_equals_torch_rnn(L, bidirectional, packed, dtype):
    rng = np.random.default_rng(L * 10 + bidirectional)
    rnn = RNNStack(D, H, L, bidirectional, rng=rng, dtype=dtype)
    ref = torch_rnn_like(rnn, dtype)
    LD = L * rnn.dirs
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.standard_normal((LD, B, H)).astype(dtype)
    w = rng.standard_normal((T, B, rnn.out_size)).astype(dtype)
    v = rng.standard_normal((LD, B, H)).astype(dtype)
    mask = lengths_to_mask(LENGTHS, T, dtype=dtype) if packed else None

    # ours
    (y, h_n), cache = rnn.forward(x, h0, mask)
    dx, dh0, grads = rnn.backward(w, v, cache)

    # torch
    xt, h0t = to_torch(x).requires_grad_(), to_torch(h0).requires_grad_()
    if packed:
        seq = pack_padded_sequence(xt, torch.tensor(LENGTHS), enforce_sorted=False)
        out, hn = ref(seq, h0t)
        out, _ = pad_packed_sequence(out, total_length=T)
    else:
        out, hn = ref(xt, h0t)
    ((out * to_torch(w)).sum() + (hn * to_torch(v)).sum()).backward()

    tol = TOL[dtype]
    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_allclose(y, out.detach().numpy(), **tol)
    np.testing.assert_allclose(h_n, hn.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(dh0, h0t.grad.numpy(), **tol)
    names = [n for n, _ in ref.named_parameters()]
    assert sorted(names) == sorted(grads) and len(names) == 4 * LD
    for n, p in ref.named_parameters():
        np.testing.assert_allclose(grads[n], p.grad.numpy(), err_msg=n, **tol)


def test_torch_weights_load_into_ours():
    """The other direction: torch's own random init, copied in by name, runs the same."""
    ref = torch.nn.RNN(D, H, num_layers=2, bidirectional=True, dtype=torch.float64)
    rnn = RNNStack(D, H, 2, True, dtype=np.float64)
    for name, p in ref.state_dict().items():
        assert rnn.params[name].shape == tuple(p.shape)
        rnn.params[name][...] = p.numpy()
    x = np.random.default_rng(0).standard_normal((T, B, D))
    (y, h_n), _ = rnn.forward(x)
    out, hn = ref(torch.from_numpy(x))
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(h_n, hn.detach().numpy(), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ language model
class TorchCharLM(torch.nn.Module):
    """Embedding (or one-hot) -> nn.RNN -> nn.Linear -> cross-entropy, with our names."""

    def __init__(self, V, H, L, embed, dtype):
        super().__init__()
        self.V, self.embed = V, embed
        if embed:
            self.embedding = torch.nn.Embedding(V, embed, dtype=dtype)
        self.rnn = torch.nn.RNN(embed or V, H, num_layers=L, nonlinearity="tanh", dtype=dtype)
        self.head = torch.nn.Linear(H, V, dtype=dtype)

    def forward(self, ids, targets, h0, mask, lengths=None):
        if self.embed:
            x = self.embedding(ids)
        else:
            x = torch.nn.functional.one_hot(ids, self.V).to(self.head.weight.dtype)
        if lengths is not None:
            out, hn = self.rnn(pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False), h0)
            out, _ = pad_packed_sequence(out, total_length=ids.shape[0])
        else:
            out, hn = self.rnn(x, h0)
        logits = self.head(out)  # (T, B, V)
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, self.V), targets.reshape(-1), reduction="none"
        )
        m = mask.reshape(-1)
        return (nll * m).sum() / m.sum(), hn


@DTYPES
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "packed"])
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("embed", [0, 3], ids=["onehot", "embed3"])
def test_char_rnn_equals_torch(embed, L, masked, dtype):
    V, H_ = 6, 5
    model = CharRNN(ModelConfig(vocab_size=V, hidden=H_, layers=L, embed=embed), seed=3, dtype=dtype)
    ref = TorchCharLM(V, H_, L, embed, TORCH_DTYPE[dtype])
    ref.load_state_dict({k: to_torch(v) for k, v in model.flat.state_dict().items()}, strict=True)
    rng = np.random.default_rng(embed + L)
    ids = rng.integers(0, V, size=(T, B))
    targets = rng.integers(0, V, size=(T, B))
    h0 = rng.standard_normal((L, B, H_)).astype(dtype)
    v = rng.standard_normal((L, B, H_)).astype(dtype)
    mask = lengths_to_mask(LENGTHS, T, dtype=dtype) if masked else None

    loss, h_n, cache = model.forward(ids, targets, h0, mask)
    dh0 = model.backward(cache, dh_n=v)

    h0t = to_torch(h0).requires_grad_()
    mt = to_torch(mask if masked else np.ones((T, B), dtype=dtype))
    loss_t, hn_t = ref(torch.from_numpy(ids), torch.from_numpy(targets), h0t, mt, LENGTHS if masked else None)
    (loss_t + (hn_t * to_torch(v)).sum()).backward()

    tol = TOL[dtype]
    np.testing.assert_allclose(loss, loss_t.item(), **tol)
    np.testing.assert_allclose(h_n, hn_t.detach().numpy(), **tol)
    np.testing.assert_allclose(dh0, h0t.grad.numpy(), **tol)
    names = [n for n, _ in ref.named_parameters()]
    assert sorted(names) == sorted(model.flat.names)
    for n, p in ref.named_parameters():
        np.testing.assert_allclose(model.flat.view(n, grad=True), p.grad.numpy(), err_msg=n, **tol)
