"""Shared helpers for the engine tests.

``gradcheck`` compares hand-written gradients with centered differences (float64):
the test fails if any tensor's relative error reaches 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.nn.gradcheck import numeric_grad, rel_error

GRAD_TOL = 1e-6
# Step for the centered differences. The error is ~eps^2 (truncation) + 1e-16/eps
# (rounding); eps = 1e-5 keeps both near 1e-11, so even gradient entries of size ~1e-4
# meet the 1e-6 relative bound (eps = 1e-6 leaves ~3e-10 of rounding noise).
EPS = 1e-5


def _gradcheck(f, items, tol: float = GRAD_TOL) -> dict[str, float]:
    """f() -> float reads every array in items; items: [(name, array, analytic_grad)].

    Each array is perturbed in place (and restored) by ``numeric_grad``. Returns the
    errors by name so a test can print them; asserts every one is below ``tol``.
    """
    errors = {}
    for name, arr, analytic in items:
        assert arr.dtype == np.float64, f"{name}: gradient checks run in float64"
        assert analytic is not None, f"{name}: no analytic gradient"
        assert np.shape(analytic) == arr.shape, f"{name}: shape {np.shape(analytic)} vs {arr.shape}"
        num = numeric_grad(f, arr, eps=EPS)
        errors[name] = rel_error(analytic, num)
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"relative errors above {tol}: {bad} (all: {errors})"
    return errors


@pytest.fixture
def gradcheck():
    return _gradcheck


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def no_tf32():
    """cuDNN and cuBLAS may round through TF32 on Ampere and newer; equivalence tests want float32.

    The flags are saved and restored by hand, not with ``monkeypatch``: torch's backend
    modules refuse ``delattr``, which pytest >= 9.2 uses to undo a setattr.
    """
    torch = pytest.importorskip("torch")
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
