"""Linear head: gradient check, all steps at once equals step by step, equals torch."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.nn.linear import Linear

T, B, H, V = 4, 3, 4, 5


def test_gradcheck_linear(gradcheck, rng):
    head = Linear(H, V, rng=np.random.default_rng(0), dtype=np.float64)
    x = rng.standard_normal((T, B, H))
    w = rng.standard_normal((T, B, V))

    def f():
        return float(np.sum(w * head.forward(x)[0]))

    y, cache = head.forward(x)
    assert y.shape == (T, B, V)
    dx, grads = head.backward(w, cache)
    grads = {k: g.copy() for k, g in grads.items()}
    gradcheck(
        f,
        [
            ("x", x, dx),
            ("weight", head.params["weight"], grads["weight"]),
            ("bias", head.params["bias"], grads["bias"]),
        ],
    )


def test_all_steps_at_once_equals_per_step(rng):
    head = Linear(H, V, rng=np.random.default_rng(0), dtype=np.float64)
    x = rng.standard_normal((T, B, H))
    y, _ = head.forward(x)
    for t in range(T):
        expected = head.params["weight"] @ x[t].T + head.params["bias"][:, None]  # (V, B): W h + b
        np.testing.assert_allclose(y[t], expected.T, rtol=0, atol=1e-14)


def test_linear_equals_torch(rng):
    torch = pytest.importorskip("torch")
    head = Linear(H, V, rng=np.random.default_rng(0), dtype=np.float64)
    ref = torch.nn.Linear(H, V, dtype=torch.float64)
    ref.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in head.params.items()})
    x = rng.standard_normal((T, B, H))
    w = rng.standard_normal((T, B, V))
    xt = torch.from_numpy(x.copy()).requires_grad_()
    (ref(xt) * torch.from_numpy(w)).sum().backward()
    y, cache = head.forward(x)
    dx, grads = head.backward(w, cache)
    np.testing.assert_allclose(y, ref(xt).detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    for k, p in ref.named_parameters():
        np.testing.assert_allclose(grads[k], p.grad.numpy(), rtol=1e-12, atol=1e-12)
