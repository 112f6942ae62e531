"""Issue 19, item 2: the regularisers' mathematics (the flags themselves: test_regularisation_runs.py).

- DropConnect on W_hh (``weight_drop``): one mask per forward call, W~ = W ⊙ M, none at
  evaluation; dW_hh is the gradient with respect to the raw weights, (dL/dW~) ⊙ M.
- Locked (variational) dropout (``dropout_mode="locked"``): one mask per sequence, the same at
  every time step.
- Tied weights (``tie_weights``): the head is the embedding (or layer 0's W_ih, transposed);
  one stored matrix whose gradient is the sum of both uses.

Each is checked by float64 centered differences, and against a reference with the same masks:
PyTorch where it has the computation (tied weights; an nn.RNN run layer by layer with our
locked masks), a plain NumPy step loop otherwise (DropConnect).
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.nn.dropout import dropout, keep_mask
from rnnkit.nn.gradcheck import numeric_grad
from rnnkit.nn.params import FlatParams
from rnnkit.nn.rnn_layer import RNNLayer
from rnnkit.nn.stack import RNNStack, hh_masks

T, B, V, H = 5, 3, 6, 4


def lm(L=2, embed=0, dtype=np.float64, **kw) -> CharRNN:
    return CharRNN(ModelConfig(vocab_size=V, hidden=H, layers=L, embed=embed, **kw), seed=1, dtype=dtype)


def ids_and_targets(seed=0):
    r = np.random.default_rng(seed)
    return r.integers(0, V, size=(T, B)), r.integers(0, V, size=(T, B))


# ---------------------------------------------------------------------------- masks
def test_locked_mask_is_one_per_sequence_shared_by_every_step():
    x = np.ones((50, 4, 300), np.float32)  # (T, B, H)
    y, m = dropout(x, 0.3, True, np.random.default_rng(0), np.float32, locked=True)
    assert m.shape == (1, 4, 300)  # (1, B, H)
    assert set(np.unique(m)) == {0.0, np.float32(1 / 0.7)}
    assert abs((m > 0).mean() - 0.7) < 0.03
    for t in range(50):
        np.testing.assert_array_equal(y[t], m[0])  # the same units dropped at every step
    _, step = dropout(x, 0.3, True, np.random.default_rng(0), np.float32)
    assert step.shape == x.shape and not np.array_equal(step[0], step[1])  # the step mode differs per t


def test_locked_dropout_in_the_stack_and_before_the_head():
    m = lm(L=2, dropout=0.4, dropout_mode="locked")
    ids, tgt = ids_and_targets()
    _, _, cache = m.forward(ids, tgt, train=True, rng=np.random.default_rng(3))
    _, drops = cache["rcache"]
    assert drops[0] is None and drops[1].shape == (1, B, H)  # between layers
    assert cache["drop"].shape == (1, B, H)  # before the head


def test_classifier_readout_has_no_time_axis_so_locked_is_per_example():
    cfg = ClassifierConfig(vocab_size=V, num_classes=3, hidden=H, dropout=0.5, dropout_mode="locked")
    model = SequenceClassifier(cfg, seed=0, dtype=np.float64)
    ids, _ = ids_and_targets()
    _, cache = model.forward(ids, np.array([0, 1, 2]), train=True, rng=np.random.default_rng(0))
    assert cache["drop"].shape == (B, H)  # f (B, H): one mask per example, as in step mode


def test_dropconnect_mask_is_one_per_call_and_none_at_evaluation():
    stack = RNNStack(3, H, 2, weight_drop=0.5, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((T, B, 3))
    (y0, _), c0 = stack.forward(x)  # evaluation: the raw weights
    assert all(c[3] is None for c in c0[0])
    (y1, _), c1 = stack.forward(x, train=True, rng=np.random.default_rng(1))
    (y2, _), c2 = stack.forward(x, train=True, rng=np.random.default_rng(2))
    masks1 = [c[3] for c in c1[0]]
    assert [m.shape for m in masks1] == [(H, H), (H, H)]
    assert not np.array_equal(masks1[0], c2[0][0][3])  # a fresh mask each call
    assert not np.allclose(y1, y0) and not np.allclose(y1, y2)
    expected = hh_masks(2, 1, H, 0.5, np.random.default_rng(1), np.float64)  # drawn first, layer by layer
    for got, want in zip(masks1, expected):
        np.testing.assert_array_equal(got, want)
        assert set(np.unique(got)) <= {0.0, 2.0}
    bi = RNNStack(3, H, 2, bidirectional=True, weight_drop=0.5, dtype=np.float64)
    _, (caches, _) = bi.forward(x, train=True, rng=np.random.default_rng(1))
    assert caches[0][0][3].shape == caches[0][1][3].shape == (H, H)  # each direction its own mask
    assert not np.array_equal(caches[0][0][3], caches[0][1][3])


def test_flags_off_draw_nothing_and_change_nothing():
    """weight_drop 0 and step dropout: the same masks, numbers and RNG use as before the flags."""
    ids, tgt = ids_and_targets()
    a, b = lm(dropout=0.3), lm(dropout=0.3, weight_drop=0.0, dropout_mode="step")
    ra, rb = np.random.default_rng(4), np.random.default_rng(4)
    la, _, ca = a.forward(ids, tgt, train=True, rng=ra)
    lb, _, cb = b.forward(ids, tgt, train=True, rng=rb)
    assert la == lb and ra.random() == rb.random()
    # the draws are dropout()'s: layer 1's mask, then the head's
    r = np.random.default_rng(4)
    np.testing.assert_array_equal(ca["rcache"][1][1], keep_mask((T, B, H), 0.3, r, np.float64))
    np.testing.assert_array_equal(ca["drop"], keep_mask((T, B, H), 0.3, r, np.float64))


# ------------------------------------------------------------ DropConnect: reference
def reference_rnn(x, h0, W_ih, W_hh, b):
    """The recurrence as a plain float64 step loop: h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)."""
    h, out = h0, []
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ W_ih.T + h @ W_hh.T + b)
        out.append(h)
    return np.stack(out)


@pytest.mark.parametrize("reverse", [False, True], ids=["l2r", "r2l"])
def test_dropconnect_layer_equals_the_masked_recurrence(reverse):
    """Forward: the step loop with W_hh ⊙ M. Backward: the vanilla layer run on W_hh ⊙ M (itself
    equal to torch.nn.RNN, test_torch_reference.py) gives every gradient, and dW_hh ⊙ M the raw
    weight's."""
    r = np.random.default_rng(7)
    layer = RNNLayer(3, H, reverse=reverse, rng=np.random.default_rng(0), dtype=np.float64)
    M = keep_mask((H, H), 0.4, r, np.float64)
    x, h0, dy = r.standard_normal((T, B, 3)), r.standard_normal((B, H)), r.standard_normal((T, B, H))
    P = layer.params
    W_eff = P["weight_hh_l0"] * M
    (y, h_last), cache = layer.forward(x, h0, hh_mask=M)
    xs = x[::-1] if reverse else x
    ref = reference_rnn(xs, h0, P["weight_ih_l0"], W_eff, P["bias_ih_l0"] + P["bias_hh_l0"])
    np.testing.assert_allclose(y, ref[::-1] if reverse else ref, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_last, ref[-1], rtol=0, atol=1e-14)
    dx, dh0, grads = layer.backward(dy, None, cache)
    grads = {k: v.copy() for k, v in grads.items()}

    plain = RNNLayer(3, H, reverse=reverse, rng=np.random.default_rng(0), dtype=np.float64)
    plain.params["weight_hh_l0"] = W_eff
    _, pcache = plain.forward(x, h0)
    pdx, pdh0, pgrads = plain.backward(dy, None, pcache)
    np.testing.assert_allclose(dx, pdx, rtol=0, atol=1e-14)
    np.testing.assert_allclose(dh0, pdh0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(grads["weight_hh_l0"], pgrads["weight_hh_l0"] * M, rtol=0, atol=1e-14)
    for k in ("weight_ih_l0", "bias_ih_l0", "bias_hh_l0"):
        np.testing.assert_allclose(grads[k], pgrads[k], rtol=0, atol=1e-14)
    assert np.all(grads["weight_hh_l0"][M == 0] == 0)  # a dropped weight gets no gradient


def test_dropconnect_gradcheck_of_the_layer(gradcheck):
    """Gradients with respect to the raw weights, h0 and x, the mask held fixed."""
    r = np.random.default_rng(2)
    layer = RNNLayer(3, H, rng=np.random.default_rng(0), dtype=np.float64)
    M = keep_mask((H, H), 0.5, r, np.float64)
    x, h0, w = r.standard_normal((T, B, 3)), r.standard_normal((B, H)), r.standard_normal((T, B, H))

    def f():
        (y, _), _ = layer.forward(x, h0, hh_mask=M)
        return float(np.sum(y * w))

    _, cache = layer.forward(x, h0, hh_mask=M)
    dx, dh0, grads = layer.backward(w, None, cache)
    items = [(k, layer.params[k], grads[k].copy()) for k in layer.params] + [("x", x, dx), ("h0", h0, dh0)]
    gradcheck(f, items)


# ------------------------------------------------------------- whole-model gradchecks
CASES = {
    "weight_drop": dict(weight_drop=0.4),
    "locked": dict(dropout=0.3, dropout_mode="locked"),
    "all": dict(dropout=0.3, dropout_mode="locked", weight_drop=0.4, tie_weights=True),
    "tied_onehot": dict(tie_weights=True),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("embed", [0, H], ids=["onehot", "embedH"])
def test_gradcheck_lm_with_regularisers(gradcheck, case, embed):
    """The LM loss (+ a term on h_n) in training mode, the masks fixed by a seeded rng: every
    stored parameter (one flat buffer, a tied matrix once) and h0."""
    model = lm(L=2, embed=embed, **CASES[case])
    ids, tgt = ids_and_targets(1)
    r = np.random.default_rng(5)
    h0, v = 0.5 * r.standard_normal((2, B, H)), r.standard_normal((2, B, H))

    def run(need_grad):
        return model.forward(ids, tgt, h0, train=True, rng=np.random.default_rng(9), need_grad=need_grad)

    def f():
        loss, h_n, _ = run(False)
        return loss + float(np.sum(v * h_n))

    _, _, cache = run(True)
    dh0 = model.backward(cache, dh_n=v)
    gradcheck(f, [("params", model.flat.data, model.flat.grad.copy())])
    assert_close_to_numeric(f, h0, dh0)


def assert_close_to_numeric(f, arr, analytic):
    """Centered differences (``nn/gradcheck.py``, float64) against ``analytic``: relative 1e-6,
    or absolute 1e-9 for the tiny entries that masks leave (a unit dropped for a whole sequence
    passes ~1e-6 on, where the differences' ~1e-10 of rounding exceeds the relative bound)."""
    np.testing.assert_allclose(analytic, numeric_grad(f, arr, eps=1e-5), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_gradcheck_forms_with_weight_drop_and_locked_dropout(bidirectional):
    reg = dict(dropout=0.3, dropout_mode="locked", weight_drop=0.4, layers=2, hidden=H)
    r = np.random.default_rng(3)
    ids = r.integers(0, V, size=(T, B))
    lengths = np.array([5, 2, 4])
    tagger = SequenceTagger(TaggerConfig(V, 3, bidirectional=bidirectional, **reg), seed=0, dtype=np.float64)
    tags = r.integers(0, 3, size=(T, B))
    s2s = Seq2Seq(Seq2SeqConfig(V, V, bidirectional=bidirectional, **reg), seed=0, dtype=np.float64)
    dec = r.integers(0, V, size=(4, B))
    runs = [
        (tagger, lambda rng, g: tagger.forward(ids, tags, lengths=lengths, train=True, rng=rng, need_grad=g)),
        (
            s2s,
            lambda rng, g: s2s.forward(ids, dec, dec, src_lengths=lengths, train=True, rng=rng, need_grad=g),
        ),
    ]
    for model, run in runs:
        _, cache = run(np.random.default_rng(8), True)
        model.backward(cache)
        f = lambda run=run: run(np.random.default_rng(8), False)[0]  # noqa: E731
        assert_close_to_numeric(f, model.flat.data, model.flat.grad.copy())


# ----------------------------------------------------------------------- tied storage
@pytest.mark.parametrize("embed", [0, H], ids=["onehot", "embedH"])
def test_tied_weight_is_stored_once_and_saved_under_both_names(embed):
    model = lm(L=1, embed=embed, tie_weights=True)
    untied = lm(L=1, embed=embed)
    source = "embedding.weight" if embed else "rnn.weight_ih_l0"
    assert "head.weight" not in model.flat.names
    assert len(model.flat) == len(untied.flat) - V * H  # one (V, H) matrix less to train
    W = model.head.params["weight"]  # (V, H), a view of the source
    assert np.shares_memory(W, model.flat.data)
    state = model.flat.state_dict()
    assert set(state) == set(untied.flat.state_dict())  # the names torch.nn modules expect
    np.testing.assert_array_equal(state["head.weight"], state[source].T if not embed else state[source])
    np.testing.assert_array_equal(
        state["head.weight"], untied.flat.state_dict()["head.weight"]
    )  # the head's draw
    for name in model.flat.names:  # every other weight drawn as without the tie
        if name != source:
            np.testing.assert_array_equal(state[name], untied.flat.state_dict()[name])
    before = model.flat.data.copy()
    model.flat.data[:] += 1.0  # an update moves both uses
    np.testing.assert_array_equal(model.head.params["weight"], W)
    np.testing.assert_array_equal(model.flat.state_dict()["head.weight"], state["head.weight"] + 1.0)
    other = lm(L=1, embed=embed, tie_weights=True)
    other.flat.load_state_dict(state)  # both names, equal: loads
    np.testing.assert_array_equal(other.flat.data, before)
    state["head.weight"] = state["head.weight"] + 0.5
    with pytest.raises(ValueError, match="head.weight must equal .* tied"):
        other.flat.load_state_dict(state)


def test_flat_params_refuse_a_tie_of_two_shapes():
    from rnnkit.nn.linear import Linear

    a, b = Linear(3, 4), Linear(3, 5)
    with pytest.raises(ValueError, match="cannot tie b.weight"):
        FlatParams({"a.": a, "b.": b}, tied={"b.weight": ("a.weight", False)})


def test_tie_refuses_an_embedding_of_another_width():
    with pytest.raises(ValueError) as e:
        ModelConfig(vocab_size=V, hidden=8, embed=5, tie_weights=True).validate()
    assert "(V, E) = (6, 5)" in str(e.value) and "(V, H) = (6, 8)" in str(e.value)


def test_model_config_of_before_the_flags_takes_the_old_behaviour():
    old = {"vocab_size": V, "hidden": H, "layers": 1, "embed": 0, "dropout": 0.1, "init": "uniform"}
    cfg = ModelConfig(**old)
    assert (cfg.weight_drop, cfg.dropout_mode, cfg.tie_weights) == (0.0, "step", False)


# -------------------------------------------------------------------- torch references
torch = pytest.importorskip("torch")
F = torch.nn.functional


def _lm_in_torch(model: CharRNN, embed: int):
    """torch modules holding ``model``'s weights (from its state dict, both names of a tie), with
    the head tied as PyTorch ties: the same Parameter (embedding), or W_ih^(1) transposed (one-hot)."""
    state = {k: torch.from_numpy(v) for k, v in model.flat.state_dict().items()}
    L = model.cfg.layers
    layers = []
    for k in range(L):
        d_in = (embed or V) if k == 0 else H
        rnn = torch.nn.RNN(d_in, H, nonlinearity="tanh", dtype=torch.float64)
        rnn.load_state_dict(
            {f"{n}_l0": state[f"rnn.{n}_l{k}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        )
        layers.append(rnn)
    emb = torch.nn.Embedding(V, embed, dtype=torch.float64) if embed else None
    head = torch.nn.Linear(H, V, dtype=torch.float64)
    head.load_state_dict({"weight": state["head.weight"], "bias": state["head.bias"]})
    if emb is not None:
        emb.load_state_dict({"weight": state["embedding.weight"]})
        head.weight = emb.weight  # tied: one Parameter, autograd sums its two uses
    return emb, layers, head


def _torch_lm_loss(emb, layers, head, ids, tgt, drops, tied_onehot: bool):
    """Mean CE of the stack run layer by layer, the given dropout masks applied in front of layer
    k > 0 (drops[k]) and before the head (drops[-1])."""
    x = emb(torch.from_numpy(ids)) if emb is not None else F.one_hot(torch.from_numpy(ids), V).double()
    h = x
    for k, rnn in enumerate(layers):
        if k > 0 and drops[k] is not None:
            h = h * torch.from_numpy(drops[k])
        h, _ = rnn(h)
    if drops[-1] is not None:
        h = h * torch.from_numpy(drops[-1])
    W = layers[0].weight_ih_l0.t() if tied_onehot else head.weight
    logits = F.linear(h, W, head.bias)
    return F.cross_entropy(logits.reshape(-1, V), torch.from_numpy(tgt).reshape(-1))


@pytest.mark.parametrize("locked", [False, True], ids=["no-dropout", "locked"])
@pytest.mark.parametrize("embed", [0, H], ids=["onehot", "embedH"])
def test_tied_and_locked_lm_equals_torch(embed, locked):
    """Loss and every gradient equal PyTorch's (float64) for a tied LM, with our locked masks fed
    to the torch computation: dL/dW of the tied matrix is the sum of its two uses there too."""
    kw = dict(dropout=0.4, dropout_mode="locked") if locked else {}
    model = lm(L=2, embed=embed, tie_weights=True, **kw)
    ids, tgt = ids_and_targets(2)
    loss, _, cache = model.forward(ids, tgt, train=True, rng=np.random.default_rng(6))
    model.backward(cache)
    drops = [None, cache["rcache"][1][1], cache["drop"]]
    if locked:
        assert drops[1].shape == drops[2].shape == (1, B, H)

    emb, layers, head = _lm_in_torch(model, embed)
    ref = _torch_lm_loss(emb, layers, head, ids, tgt, drops, tied_onehot=not embed)
    ref.backward()
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-12)
    got = {n: model.flat.view(n, grad=True) for n in model.flat.names}
    source = "embedding.weight" if embed else "rnn.weight_ih_l0"
    want = {source: (emb.weight if embed else layers[0].weight_ih_l0).grad.numpy()}
    for k, rnn in enumerate(layers):
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            want.setdefault(f"rnn.{n}_l{k}", getattr(rnn, f"{n}_l0").grad.numpy())
    want["head.bias"] = head.bias.grad.numpy()
    assert set(want) == set(got)
    for n in got:
        np.testing.assert_allclose(got[n], want[n], rtol=1e-10, atol=1e-12, err_msg=n)


def test_weight_drop_lm_engines_agree():
    """The torch engine draws DropConnect's masks as the NumPy engine does: same loss, same gradients."""
    from rnnkit.torch.lm_engine import TorchCharRNN

    cfg = ModelConfig(vocab_size=V, hidden=H, layers=2, weight_drop=0.4)
    a, b = CharRNN(cfg, seed=1, dtype=np.float64), TorchCharRNN(cfg, seed=1, dtype=np.float64)
    ids, tgt = ids_and_targets(3)
    la, _, ca = a.forward(ids, tgt, train=True, rng=np.random.default_rng(5))
    lb, _, cb = b.forward(ids, tgt, train=True, rng=np.random.default_rng(5))
    a.backward(ca)
    b.backward(cb)
    np.testing.assert_allclose(la, lb, rtol=1e-12)
    np.testing.assert_allclose(a.flat.grad, b.flat.grad, rtol=1e-10, atol=1e-13)
    le, _, _ = a.forward(ids, tgt, need_grad=False)
    assert le != la  # evaluation runs the raw weights


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_weight_drop_task_stacks_agree(bidirectional):
    from rnnkit.torch.stack import TorchRNNStack

    args = (3, H, 2, bidirectional, 0.0, None, "uniform", np.float64)
    a = RNNStack(*args[:5], np.random.default_rng(1), *args[6:], weight_drop=0.3)
    b = TorchRNNStack(*args[:5], np.random.default_rng(1), *args[6:], weight_drop=0.3)
    r = np.random.default_rng(0)
    x, dy = r.standard_normal((T, B, 3)), r.standard_normal((T, B, a.out_size))
    (ya, _), ca = a.forward(x, train=True, rng=np.random.default_rng(2))
    (yb, _), cb = b.forward(x, train=True, rng=np.random.default_rng(2))
    dxa, _, ga = a.backward(dy, None, ca)
    ga = {k: v.copy() for k, v in ga.items()}
    dxb, _, gb = b.backward(dy, None, cb)
    np.testing.assert_allclose(ya, yb, rtol=0, atol=1e-13)
    np.testing.assert_allclose(dxa, dxb, rtol=0, atol=1e-13)
    for k in ga:
        np.testing.assert_allclose(ga[k], gb[k], rtol=0, atol=1e-13, err_msg=k)
