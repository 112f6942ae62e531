"""The task models on the torch engine (``TorchRNNStack``) against the NumPy engine.

Same weights, same batch (a mask with mixed lengths, an empty stream in the stack test):
the loss and every gradient agree to float32 rounding in float32 and to 1e-9 in float64.
CUDA variants skip cleanly without a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_tasks_cli import SMALL, make_tsv, ok  # noqa: E402

from rnnkit.data.padding import pad_batch, teacher_forcing  # noqa: E402
from rnnkit.errors import RnnkitError  # noqa: E402
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier  # noqa: E402
from rnnkit.models.generator import ConditionedGenerator, GeneratorConfig  # noqa: E402
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig  # noqa: E402
from rnnkit.models.tagger import SequenceTagger, TaggerConfig  # noqa: E402
from rnnkit.nn.mask import lengths_to_mask  # noqa: E402
from rnnkit.nn.stack import RNNStack  # noqa: E402
from rnnkit.torch.stack import TorchRNNStack  # noqa: E402
from rnnkit.torch.task_engines import use_engine  # noqa: E402

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]
DTYPES = [np.float32, np.float64]


pytestmark = pytest.mark.usefixtures("no_tf32")  # conftest.py: float32 products, not TF32


def tol(dtype):
    return (1e-4, 1e-5) if np.dtype(dtype) == np.float32 else (1e-9, 1e-9)


def assert_close(a, b, dtype, what):
    rtol, atol = tol(dtype)
    scale = max(float(np.abs(a).max()), 1.0) if np.size(a) else 1.0
    np.testing.assert_allclose(b, a, rtol=rtol, atol=atol * scale, err_msg=what)


def seqs(rng, V, lengths, lo=1):
    return [list(rng.integers(lo, V, size=n)) for n in lengths]


def _classifier(bi, dtype):
    rng = np.random.default_rng(1)
    m = SequenceClassifier(
        ClassifierConfig(vocab_size=7, num_classes=3, hidden=5, layers=2, embed=3, bidirectional=bi),
        seed=2,
        dtype=dtype,
    )
    ids, lengths, mask = pad_batch(seqs(rng, 7, [5, 2, 3, 1]), dtype=dtype)
    return m, lambda mm: mm.forward(ids, np.array([0, 2, 1, 1]), mask=mask)


def _classifier_onehot(bi, dtype):
    rng = np.random.default_rng(11)
    m = SequenceClassifier(
        ClassifierConfig(vocab_size=6, num_classes=2, hidden=4, bidirectional=bi), seed=3, dtype=dtype
    )
    ids, lengths, _ = pad_batch(seqs(rng, 6, [4, 1, 3]))
    return m, lambda mm: mm.forward(ids, np.array([0, 1, 1]), lengths=lengths)


def _tagger(bi, dtype):
    rng = np.random.default_rng(3)
    m = SequenceTagger(
        TaggerConfig(vocab_size=6, num_tags=3, hidden=4, layers=2, bidirectional=bi), seed=4, dtype=dtype
    )
    ids, lengths, _ = pad_batch(seqs(rng, 6, [4, 1, 3]))
    tags = rng.integers(0, 3, size=ids.shape)
    return m, lambda mm: mm.forward(ids, tags, lengths=lengths)


def _generator(bi, dtype):
    rng = np.random.default_rng(5)
    m = ConditionedGenerator(
        GeneratorConfig(
            vocab_size=7, hidden=4, num_labels=3, cond_embed=2, autoregressive=True, embed=3, layers=2
        ),
        seed=6,
        dtype=dtype,
    )
    dec_in, dec_out, mask = teacher_forcing(seqs(rng, 7, [3, 1, 2]), dtype=dtype)
    return m, lambda mm: mm.forward(np.array([2, 0, 1]), dec_out, mask, dec_in=dec_in)


def _generator_features(bi, dtype):
    rng = np.random.default_rng(7)
    m = ConditionedGenerator(GeneratorConfig(vocab_size=6, feature_dim=3, hidden=4), seed=0, dtype=dtype)
    dec_in, dec_out, mask = teacher_forcing(seqs(rng, 6, [2, 4]), dtype=dtype)
    feats = rng.standard_normal((2, 3)).astype(dtype)
    return m, lambda mm: mm.forward(feats, dec_out, mask, dec_in=dec_in)


def _seq2seq(bi, dtype):
    rng = np.random.default_rng(8)
    m = Seq2Seq(
        Seq2SeqConfig(src_vocab_size=6, tgt_vocab_size=7, hidden=3, layers=2, embed=3, bidirectional=bi),
        seed=9,
        dtype=dtype,
    )
    src, src_len, _ = pad_batch(seqs(rng, 6, [4, 2, 3]))
    dec_in, dec_out, dmask = teacher_forcing(seqs(rng, 7, [2, 3, 1]), dtype=dtype)
    return m, lambda mm: mm.forward(src, dec_in, dec_out, src_lengths=src_len, dec_mask=dmask)


CASES = {
    "classifier": (_classifier, [False, True]),
    "classifier_onehot": (_classifier_onehot, [False, True]),
    "tagger": (_tagger, [False, True]),
    "generator": (_generator, [False]),
    "generator_features": (_generator_features, [False]),
    "seq2seq": (_seq2seq, [False, True]),
}
PARAMS = [(name, bi) for name, (_, bis) in CASES.items() for bi in bis]


def _compare(name, bi, dtype, device):
    build, bis = CASES[name]
    ref, run = build(bi, dtype)
    loss_np, cache = run(ref)
    ret_np = ref.backward(cache)
    g_np = ref.flat.grad.copy()

    m, run = build(bi, dtype)  # the same seed: the same weights
    use_engine(m, "torch", device)
    assert np.array_equal(m.flat.data, ref.flat.data)
    loss_t, cache = run(m)
    ret_t = m.backward(cache)
    assert np.abs(g_np).max() > 1e-3
    assert_close(np.array(loss_np), np.array(loss_t), dtype, "loss")
    for n in ref.flat.names:
        assert_close(ref.flat.view(n, grad=True), m.flat.view(n, grad=True), dtype, n)
    if ret_np is not None:  # the generator returns d(loss)/d(features)
        assert_close(np.asarray(ret_np), np.asarray(ret_t), dtype, "condition gradient")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name,bi", PARAMS)
def test_task_model_torch_matches_numpy(name, bi, dtype):
    _compare(name, bi, dtype, "cpu")


@CUDA
@pytest.mark.parametrize("name,bi", PARAMS)
def test_task_model_torch_matches_numpy_cuda(name, bi):
    _compare(name, bi, np.float32, "cuda")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bi,ids", [(False, False), (True, False), (False, True), (True, True)])
def test_stack_contract(bi, ids, device):
    """forward/backward of the stack itself, h0 and dx included, with an empty stream."""
    dt = np.float64 if device == "cpu" else np.float32
    D, H, L, T, B = 5, 4, 2, 6, 4
    a = RNNStack(D, H, L, bi, 0.0, np.random.default_rng(1), "uniform", dt)
    b = TorchRNNStack(D, H, L, bi, 0.0, np.random.default_rng(1), "uniform", dt, device=device)
    r = np.random.default_rng(2)
    x = r.integers(0, D, (T, B)) if ids else r.standard_normal((T, B, D)).astype(dt)
    h0 = r.standard_normal((L * a.dirs, B, H)).astype(dt)
    mask = lengths_to_mask(np.array([6, 3, 0, 1]), T, dt)
    (y1, h1), c1 = a.forward(x, h0, mask)
    (y2, h2), c2 = b.forward(x, h0, mask)
    dy, dh = r.standard_normal(y1.shape).astype(dt), r.standard_normal(h1.shape).astype(dt)
    dx1, d01, g1 = a.backward(dy, dh, c1)
    g1 = {k: v.copy() for k, v in g1.items()}
    dx2, d02, g2 = b.backward(dy, dh, c2)
    for what, u, v in [("y", y1, y2), ("h_n", h1, h2), ("dh0", d01, d02)] + [(k, g1[k], g2[k]) for k in g1]:
        assert_close(u, v, dt, what)
    if ids:
        assert dx1 is None and dx2 is None
    else:
        assert_close(dx1, dx2, dt, "dx")


def test_dropout_reproducible_and_non_prefix_mask_refused():
    s = TorchRNNStack(3, 4, 2, False, 0.5, np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((5, 2, 3)).astype(np.float32)
    (y1, _), _ = s.forward(x, rng=np.random.default_rng(7), train=True)
    (y2, _), _ = s.forward(x, rng=np.random.default_rng(7), train=True)
    (y3, _), _ = s.forward(x, train=False)
    assert np.array_equal(y1, y2) and not np.allclose(y1, y3)
    with pytest.raises(ValueError, match="prefix"):
        s.forward(x, mask=np.array([[0, 1], [1, 1], [1, 1], [1, 1], [1, 1]], np.float32))


def test_engine_errors(monkeypatch):
    m, _ = _tagger(False, np.float32)
    with pytest.raises(RnnkitError, match="^device cuda needs engine torch"):
        use_engine(m, "numpy", "cuda")
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # as if torch were absent
    with pytest.raises(RnnkitError, match=r"pip install 'rnnkit\[torch\]'"):
        use_engine(m, "torch", "cpu")


def test_classify_train_torch_eval_numpy(tmp_path):
    """Checkpoints are interchangeable: train on torch, score with either engine."""
    data = make_tsv(tmp_path / "data.tsv", "classify")
    run = tmp_path / "run"
    ok(
        "classify",
        "train",
        data,
        "--out",
        run,
        *SMALL,
        "--bidirectional",
        "--max-steps",
        "6",
        "--eval-every",
        "3",
        "--engine",
        "torch",
        "--device",
        "cpu",
    )
    import json

    r_np = json.loads(ok("classify", "eval", run, data, "--json").stdout)
    r_t = json.loads(ok("classify", "eval", run, data, "--json", "--engine", "torch").stdout)
    assert r_np["accuracy"] == r_t["accuracy"]
    assert abs(r_np["loss"] - r_t["loss"]) <= 1e-5 * max(1.0, abs(r_np["loss"]))
