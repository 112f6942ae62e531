"""The module protocol of rnnkit's public layers (``rnnkit.Module``): ``Embedding``, ``Linear`` and
``CrossEntropyLoss`` against their torch namesakes (float64, 1e-6), accumulation, state dicts,
a user model composed of layers and trained with ``rnnkit.optim``, the optimizers over a model
against ``torch.optim``, and one-line errors for bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit import CrossEntropyLoss, Embedding, Linear, Module, RnnkitError

torch = pytest.importorskip("torch")

V, E, H, B, T = 7, 4, 5, 3, 6
TOL = {"rtol": 1e-6, "atol": 1e-9}


def _from_torch(ours, ref):
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})


def _torch_grads(ref):
    return {n: p.grad.numpy() for n, p in ref.named_parameters()}


def _assert_grads_equal(ours, ref):
    assert [n for n, _ in ours.named_grads()] == [n for n, _ in ref.named_parameters()]
    want = _torch_grads(ref)
    for name, g in ours.named_grads():
        np.testing.assert_allclose(g, want[name], **TOL, err_msg=name)


# ------------------------------------------------------------------ each layer against torch
def test_embedding_equals_torch():
    ref = torch.nn.Embedding(V, E).double()
    ours = Embedding(V, E, dtype=np.float64)
    _from_torch(ours, ref)
    ids = np.random.default_rng(0).integers(0, V, (B, T))
    y = ours(ids)
    y_t = ref(torch.tensor(ids))
    np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    (y_t * torch.tensor(dy)).sum().backward()
    assert ours.backward(dy) is None  # integer ids have no gradient
    _assert_grads_equal(ours, ref)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_equals_torch(bias):
    ref = torch.nn.Linear(H, V, bias=bias).double()
    ours = Linear(H, V, bias=bias, dtype=np.float64)
    _from_torch(ours, ref)
    assert [n for n, _ in ours.named_parameters()] == (["weight", "bias"] if bias else ["weight"])
    x = np.random.default_rng(2).standard_normal((T, B, H))
    x_t = torch.tensor(x, requires_grad=True)
    y, y_t = ours(x), ref(x_t)
    np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
    dy = np.random.default_rng(3).standard_normal(y.shape)
    (y_t * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(ours.backward(dy), x_t.grad.numpy(), **TOL)
    _assert_grads_equal(ours, ref)


@pytest.mark.parametrize("shape", [(B * T,), (B, T)])
def test_cross_entropy_equals_torch_with_ignore_index(shape):
    rng = np.random.default_rng(4)
    logits = rng.standard_normal(shape + (V,)) * 3
    targets = rng.integers(0, V, shape)
    targets.reshape(-1)[[0, 4, 5]] = -1  # ignored
    ours = CrossEntropyLoss(ignore_index=-1)
    loss = ours(logits, targets)
    lt = torch.tensor(logits, requires_grad=True)
    # torch keeps the classes on axis 1 for more than two axes; ours on the last
    lt_torch_layout = lt if len(shape) == 1 else lt.permute(0, 2, 1)
    ref = torch.nn.CrossEntropyLoss(ignore_index=-1)(lt_torch_layout, torch.tensor(targets))
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    (ref * 2.5).backward()
    np.testing.assert_allclose(ours.backward(2.5), lt.grad.numpy(), **TOL)
    assert ours.named_parameters() == []


def test_cross_entropy_default_ignore_index_is_torchs():
    logits = np.random.default_rng(5).standard_normal((4, V))
    targets = np.array([1, -100, 2, 3])
    loss = CrossEntropyLoss()(logits, targets)
    ref = torch.nn.CrossEntropyLoss()(torch.tensor(logits), torch.tensor(targets))
    assert loss == pytest.approx(ref.item(), rel=1e-12)


# ------------------------------------------------------------------ the protocol
@pytest.mark.parametrize(
    "make", [lambda: Embedding(V, E, dtype=np.float64, seed=0), lambda: Linear(H, V, seed=0)]
)
def test_gradients_accumulate_until_zero_grad(make):
    layer = make()
    x = np.arange(B * T).reshape(B, T) % V if isinstance(layer, Embedding) else np.ones((B, T, H))
    dy = np.random.default_rng(6).standard_normal(layer(x).shape)
    layer.backward(dy)
    once = [g.copy() for g in layer.grads()]
    assert all(g.any() for g in once)
    layer(x)
    layer.backward(dy)
    for a, b in zip(once, layer.grads()):
        np.testing.assert_allclose(b, 2 * a, rtol=1e-6)
    layer.zero_grad()
    assert not any(g.any() for g in layer.grads())


def test_state_dict_round_trip_is_a_copy():
    a, b = Linear(H, V, seed=1), Linear(H, V, seed=2)
    sd = a.state_dict()
    sd["weight"][...] = 0  # a copy: the layer keeps its weights
    assert a.parameters()[0].any()
    b.load_state_dict(a.state_dict())
    x = np.random.default_rng(7).standard_normal((2, H))
    np.testing.assert_array_equal(a(x), b(x))


def test_parameters_are_live_arrays():
    lin = Linear(H, V, seed=0)
    lin.parameters()[1][...] = 7.0  # bias
    np.testing.assert_array_equal(lin(np.zeros((1, H))), np.full((1, V), 7.0, np.float32))


class Tagger(Module):
    """A user's model: ids -> Embedding -> RNN -> Linear -> logits, with no bookkeeping code."""

    def __init__(self, dtype=np.float64):
        self.emb = Embedding(V, E, dtype=dtype, seed=0)
        self.rnn = rnnkit.RNN(E, H, batch_first=True, dropout=0.0, dtype=dtype, seed=1)
        self.head = Linear(H, V, dtype=dtype, seed=2)

    def forward(self, ids):
        out, _ = self.rnn(self.emb(ids))  # (B, T, H)
        return self.head(out)  # (B, T, V)

    def backward(self, dlogits):
        dx, _ = self.rnn.backward(self.head.backward(dlogits))
        self.emb.backward(dx)


class TorchTagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, E)
        self.rnn = torch.nn.RNN(E, H, batch_first=True)
        self.head = torch.nn.Linear(H, V)

    def forward(self, ids):
        return self.head(self.rnn(self.emb(ids))[0])


def test_a_user_model_gathers_dotted_names_and_equals_torch():
    ref = TorchTagger().double()
    ours = Tagger()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in ours.named_grads()] == [n for n, _ in ref.named_parameters()]
    _from_torch(ours, ref)
    ids = np.random.default_rng(8).integers(0, V, (B, T))
    targets = np.random.default_rng(9).integers(0, V, (B, T))
    ce = CrossEntropyLoss()
    loss = ce(ours(ids), targets)
    loss_t = torch.nn.functional.cross_entropy(
        ref(torch.tensor(ids)).reshape(-1, V), torch.tensor(targets).reshape(-1)
    )
    assert loss == pytest.approx(loss_t.item(), rel=1e-10)
    loss_t.backward()
    ours.backward(ce.backward())
    _assert_grads_equal(ours, ref)
    ours.eval()
    assert not ours.training and not ours.rnn.training and not ours.head.training
    ours.train()
    assert ours.rnn.training


def test_children_in_lists_are_found():
    class Deep(Module):
        def __init__(self):
            self.blocks = [Linear(2, 2, seed=0), Linear(2, 2, seed=1)]
            self.note = "not a module"

    assert [n for n, _ in Deep().named_parameters()] == [
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.weight",
        "blocks.1.bias",
    ]


def test_a_user_model_learns_a_toy_task_with_adam():
    """Tag each step with the id one step back: the RNN must carry it. Loss from ~ln V to near 0."""
    rng = np.random.default_rng(10)
    model = Tagger(dtype=np.float32)
    opt = rnnkit.optim.Adam(model, lr=0.02)
    ce = CrossEntropyLoss()
    losses = []
    for _ in range(300):
        ids = rng.integers(0, V, (16, 8))
        targets = np.concatenate([np.full((16, 1), -100), ids[:, :-1]], axis=1)  # step 0: nothing to recall
        losses.append(ce(model(ids), targets))
        model.zero_grad()
        model.backward(ce.backward())
        rnnkit.optim.clip_grad_norm(model, 5.0)
        opt.step()
    assert losses[0] > 0.8 * np.log(V)
    assert np.mean(losses[-20:]) < 0.1 * losses[0]


# ------------------------------------------------------------------ optimizers over a model
STEPS, LR = 4, 0.05
CASES = {
    "SGD": ({"momentum": 0.9}, torch.optim.SGD, {"momentum": 0.9}),
    "Adagrad": ({"eps": 1e-8}, torch.optim.Adagrad, {"eps": 1e-8}),
    "RMSprop": ({"alpha": 0.95}, torch.optim.RMSprop, {"alpha": 0.95, "eps": 1e-8}),
    "Adam": ({"weight_decay": 0.01}, torch.optim.Adam, {"weight_decay": 0.01}),
    "AdamW": ({"weight_decay": 0.1}, torch.optim.AdamW, {"weight_decay": 0.1}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_optimizer_over_a_model_equals_torch(name):
    hp, cls, kw = CASES[name]
    ref = TorchTagger().double()
    ours = Tagger()
    _from_torch(ours, ref)
    opt = getattr(rnnkit.optim, name)(ours, lr=LR, **hp)
    ref_opt = cls(ref.parameters(), lr=LR, **kw)
    rng = np.random.default_rng(11)
    for _ in range(STEPS):
        for (_, g), p in zip(ours.named_grads(), ref.parameters()):
            g[...] = rng.standard_normal(g.shape)
            p.grad = torch.tensor(g.copy())
        opt.step()
        ref_opt.step()
    for n, p in ref.named_parameters():
        np.testing.assert_allclose(
            dict(ours.named_parameters())[n], p.detach().numpy(), rtol=1e-12, atol=1e-14
        )
    assert opt.t == STEPS


def test_step_lr_overrides_and_state_dict_keys_stay():
    model = Linear(3, 2, dtype=np.float64, seed=0)
    a = rnnkit.optim.SGD(model, momentum=0.0)
    with pytest.raises(RnnkitError, match="lr is not set"):
        a.step()
    model.grads()[0][...] = 1.0
    w = model.parameters()[0].copy()
    a.step(0.5)  # the trainer's call: lr given to step
    np.testing.assert_allclose(model.parameters()[0], w - 0.5)
    assert sorted(rnnkit.optim.Adam(model).state_dict()) == ["optim.exp_avg", "optim.exp_avg_sq", "optim.t"]


def test_clip_grad_norm_equals_torch():
    ref = TorchTagger().double()
    ours = Tagger()
    rng = np.random.default_rng(12)
    for (_, g), p in zip(ours.named_grads(), ref.parameters()):
        g[...] = rng.standard_normal(g.shape)
        p.grad = torch.tensor(g.copy())
    norm = rnnkit.optim.clip_grad_norm(ours, 1.0)
    assert norm == pytest.approx(torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0).item(), rel=1e-12)
    for g, p in zip(ours.grads(), ref.parameters()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5)  # torch divides by norm + 1e-6


# ------------------------------------------------------------------ bad arguments: one line
@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: Linear(H, V)(np.zeros((2, H + 1))),
            r"x must have shape \(\.\.\., 5\) \(in_features\), got \(2, 6\)",
        ),
        (lambda: Embedding(V, E)(np.array([[0, V]])), r"ids must lie in \[0, 7\), got range \[0, 7\]"),
        (lambda: Embedding(V, E)(np.array([0.5])), "ids must be integers"),
        (lambda: Embedding(0, E), "num_embeddings must be a positive integer, got 0"),
        (
            lambda: CrossEntropyLoss()(np.zeros((2, 3, V)), np.zeros((3, 2), int)),
            r"targets must have shape logits.shape\[:-1\] = \(2, 3\), got \(3, 2\)",
        ),
        (lambda: CrossEntropyLoss()(np.zeros((2, V)), np.array([0, V])), r"targets must lie in \[0, 7\)"),
        (lambda: Linear(H, V).backward(np.zeros((1, V))), "backward needs a forward call first"),
        (lambda: Linear(H, V).load_state_dict({"weight": np.zeros((V, H))}), r"missing \['bias'\]"),
        (
            lambda: Linear(H, V).load_state_dict({"weight": np.zeros((H, V)), "bias": np.zeros(V)}),
            r"parameter weight has shape \(5, 7\), expected \(7, 5\)",
        ),
        (lambda: rnnkit.optim.Adam(object(), lr=0.1), "named_parameters"),
        (lambda: rnnkit.optim.Adam(Linear(H, V), lr=-1.0), "lr must be positive"),
        (lambda: rnnkit.RNN(3, 4)(np.zeros((5, 2, 2))), r"input must be \(T, B, D\) or \(T, D\) with D=3"),
    ],
)
def test_bad_arguments_raise_one_line(call, message):
    with pytest.raises(RnnkitError, match=message) as e:
        call()
    assert "\n" not in str(e.value)


def test_backward_checks_the_gradient_shape():
    lin = Linear(H, V)
    lin(np.zeros((2, 3, H)))
    with pytest.raises(
        RnnkitError, match=r"dy must have shape \(\.\.\., out_features\) = \(2, 3, 7\), got \(2, 7\)"
    ):
        lin.backward(np.zeros((2, V)))
