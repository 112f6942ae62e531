"""Optimizers against torch.optim on the same gradients, resume via state_dict, clipping."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnkit import FlatParams  # noqa: E402
from rnnkit.nn.linear import Linear  # noqa: E402
from rnnkit.optim.optimizers import OPTIMIZERS, clip_gradients, make_optimizer  # noqa: E402

STEPS = 6
LR = 0.05

# (our name, our hyper-parameters, torch class, torch kwargs)
CASES = {
    "sgd": ({"momentum": 0.9}, torch.optim.SGD, {"momentum": 0.9}),
    "sgd_plain": ({"momentum": 0.0}, torch.optim.SGD, {"momentum": 0.0}),
    "adagrad": ({"eps": 1e-8}, torch.optim.Adagrad, {"initial_accumulator_value": 0.0, "eps": 1e-8}),
    "rmsprop": ({"alpha": 0.95, "eps": 1e-8}, torch.optim.RMSprop, {"alpha": 0.95, "eps": 1e-8}),
    "adam": ({"betas": (0.9, 0.999), "eps": 1e-8}, torch.optim.Adam, {"betas": (0.9, 0.999), "eps": 1e-8}),
    "adamw": (
        {"betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 0.1},
        torch.optim.AdamW,
        {"betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 0.1},
    ),
}


def make_flat(seed=0):
    return FlatParams(
        {"head.": Linear(4, 3, rng=np.random.default_rng(seed), dtype=np.float64)}, dtype=np.float64
    )


def grads_sequence(n, P, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(P) * (0.1 + i) for i in range(n)]  # growing scale, varying sign


def step_beside_torch(opt, flat, torch_cls, **torch_kw):
    """``opt`` over ``flat`` and ``torch_cls`` over a copy, STEPS steps on the same gradients;
    -> (ours, torch's) weights after each step."""
    p = torch.nn.Parameter(torch.from_numpy(flat.data.copy()))
    ref = torch_cls([p], lr=LR, **torch_kw)
    for g in grads_sequence(STEPS, len(flat)):
        flat.grad[...] = g
        opt.step(LR)
        p.grad = torch.from_numpy(g.copy())
        ref.step()
        yield flat.data, p.detach().numpy()


@pytest.mark.parametrize("case", list(CASES))
def test_optimizer_equals_torch(case):
    hp, cls, kw = CASES[case]
    name = case.split("_")[0]
    flat = make_flat()
    opt = make_optimizer(name, flat, **hp)
    start = flat.data.copy()
    for ours, theirs in step_beside_torch(opt, flat, cls, **kw):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
    assert opt.t == STEPS
    assert np.max(np.abs(flat.data - start)) > 1e-3  # it did move


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_resume_from_state_dict_is_exact(name):
    """Three steps, save, rebuild, load, three more == six steps without a break."""
    gs = grads_sequence(6, len(make_flat()))
    hp = {"weight_decay": 0.01} if name == "adamw" else {}
    a = make_flat()
    opt_a = make_optimizer(name, a, **hp)
    for g in gs:
        a.grad[...] = g
        opt_a.step(LR)

    b = make_flat()
    opt_b = make_optimizer(name, b, **hp)
    for g in gs[:3]:
        b.grad[...] = g
        opt_b.step(LR)
    saved_params = b.state_dict()
    saved_opt = {k: v.copy() for k, v in opt_b.state_dict().items()}
    c = make_flat(seed=99)  # different weights, overwritten by the load
    c.load_state_dict(saved_params)
    opt_c = make_optimizer(name, c, **hp)
    opt_c.load_state_dict(saved_opt)
    for g in gs[3:]:
        c.grad[...] = g
        opt_c.step(LR)
    np.testing.assert_array_equal(c.data, a.data)
    assert opt_c.t == 6


def test_load_state_dict_rejects_wrong_shape():
    opt = make_optimizer("adam", make_flat())
    bad = opt.state_dict()
    bad["optim.exp_avg"] = np.zeros(3)
    with pytest.raises(ValueError):
        opt.load_state_dict(bad)


def test_unknown_optimizer_raises():
    with pytest.raises(ValueError):
        make_optimizer("lbfgs", make_flat())


# ------------------------------------------------------------------ clipping
def test_clip_norm_equals_torch():
    g = np.random.default_rng(0).standard_normal(50) * 3
    ours = g.copy()
    norm = clip_gradients(ours, "norm", 1.5)
    t = torch.nn.Parameter(torch.zeros(50, dtype=torch.float64))
    t.grad = torch.from_numpy(g.copy())
    tnorm = torch.nn.utils.clip_grad_norm_([t], 1.5)
    assert norm == pytest.approx(tnorm.item(), rel=1e-14)
    assert norm == pytest.approx(np.linalg.norm(g), rel=1e-14)
    # torch divides by (norm + 1e-6); ours by norm exactly
    np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-6)
    assert np.linalg.norm(ours) == pytest.approx(1.5, rel=1e-12)


def test_clip_norm_leaves_small_gradients_alone():
    g = np.array([0.3, -0.4])  # norm 0.5
    norm = clip_gradients(g, "norm", 1.0)
    assert norm == pytest.approx(0.5)
    np.testing.assert_array_equal(g, [0.3, -0.4])


def test_clip_value_equals_torch():
    g = np.random.default_rng(1).standard_normal(50) * 3
    ours = g.copy()
    norm = clip_gradients(ours, "value", 0.7)
    t = torch.nn.Parameter(torch.zeros(50, dtype=torch.float64))
    t.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_value_([t], 0.7)
    np.testing.assert_array_equal(ours, t.grad.numpy())
    assert norm == pytest.approx(np.linalg.norm(g))
    assert np.abs(ours).max() == pytest.approx(0.7)


@pytest.mark.parametrize("mode,value", [("none", 1.0), ("norm", 0.0), ("value", -1.0)])
def test_clip_disabled(mode, value):
    g = np.array([3.0, 4.0])
    assert clip_gradients(g, mode, value) == pytest.approx(5.0)
    np.testing.assert_array_equal(g, [3.0, 4.0])


def test_clip_unknown_mode_raises():
    with pytest.raises(ValueError):
        clip_gradients(np.ones(2), "max", 1.0)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_beta2_setting_reaches_the_update(name):
    """``--beta2`` is the β2 the update uses: each run equals torch.optim with that β2, and
    two runs that differ only in it end apart."""
    from types import SimpleNamespace

    from rnnkit.train.lm_config import TrainConfig
    from rnnkit.train.trainer import build_optimizer

    ends = []
    for beta2 in (0.999, 0.9):
        flat = make_flat()
        opt = build_optimizer(TrainConfig(optimizer=name, beta2=beta2), SimpleNamespace(flat=flat))
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
        for ours, theirs in step_beside_torch(opt, flat, cls, betas=(0.9, beta2), weight_decay=0.0):
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
        ends.append(flat.data.copy())
    assert np.max(np.abs(ends[0] - ends[1])) > 1e-4
