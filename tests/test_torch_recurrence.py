"""The one torch adapter (``rnnkit/torch/recurrence.py``) and its two clients.

The character LM (``TorchCharRNN``) and the forms' stack (``TorchRNNStack``) both run their
recurrence through ``TorchRecurrence``. Given the same weights, h0, mask and numpy rng they must
reach the same states and leave the rng in the same place: the same DropConnect masks, then the
same torch seed for the dropout between layers. If one client grew its own recurrence again, or
drew in another order, this fails.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnkit.models.char_rnn import ModelConfig  # noqa: E402
from rnnkit.nn.mask import lengths_to_mask  # noqa: E402
from rnnkit.torch.lm_engine import TorchCharRNN  # noqa: E402
from rnnkit.torch.recurrence import TorchRecurrence  # noqa: E402
from rnnkit.torch.stack import TorchRNNStack  # noqa: E402

V, H, T, B = 6, 5, 7, 4


def test_both_clients_hold_the_shared_adapter():
    lm = TorchCharRNN(ModelConfig(vocab_size=V, hidden=H, layers=2), seed=0)
    stack = TorchRNNStack(V, H, 2, False, 0.0, np.random.default_rng(0))
    assert isinstance(lm.recurrence, TorchRecurrence) and lm.recurrence.rnn is lm.net.rnn
    assert isinstance(stack.recurrence, TorchRecurrence)


# (L, dropout): with one layer the LM still seeds torch for its head dropout and the stack does not,
# so the rng comparison holds for dropout with two layers, and without dropout for one.
@pytest.mark.parametrize("L,dropout", [(1, 0.0), (2, 0.0), (2, 0.3)])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_lm_engine_and_stack_reach_the_same_states(L, dropout, masked):
    cfg = ModelConfig(vocab_size=V, hidden=H, layers=L, dropout=dropout, weight_drop=0.4)
    lm = TorchCharRNN(cfg, seed=1, dtype=np.float64)
    stack = TorchRNNStack(
        V, H, L, False, dropout, np.random.default_rng(2), dtype=np.float64, weight_drop=0.4
    )
    for name in stack.params:  # the LM's weights into the stack ("rnn.weight_hh_l0" -> "weight_hh_l0")
        stack.params[name][...] = lm.flat.view("rnn." + name)
    r = np.random.default_rng(3)
    ids, targets = r.integers(0, V, (T, B)), r.integers(0, V, (T, B))
    h0 = r.standard_normal((L, B, H))
    mask = lengths_to_mask(np.array([T, 3, 0, 1]), T, np.float64) if masked else None

    rng_lm, rng_stack = np.random.default_rng(9), np.random.default_rng(9)
    _, h_lm, _ = lm.forward(ids, targets, h0, mask, train=True, rng=rng_lm)
    (_, h_stack), _ = stack.forward(ids, h0, mask, rng=rng_stack, train=True)  # ids: one-hot rows

    np.testing.assert_allclose(h_lm, h_stack, rtol=0, atol=1e-13)
    assert rng_lm.integers(1 << 62) == rng_stack.integers(1 << 62)  # the same number of draws
    if masked:
        np.testing.assert_array_equal(h_lm[:, 2], h0[:, 2])  # the empty stream keeps h0
    _, h_plain, _ = lm.forward(ids, targets, h0, mask, need_grad=False)
    assert not np.allclose(h_plain, h_lm)  # the training forward did drop something
