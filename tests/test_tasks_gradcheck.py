"""Gradient checks for the task models: centered differences in float64, mixed lengths."""

import numpy as np
import pytest

from rnnkit.data.padding import pad_batch, teacher_forcing
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.generator import ConditionedGenerator, GeneratorConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.nn.gradcheck import numeric_grad, rel_error

F64 = np.float64


def assert_close_grads(analytic, numeric, rtol=1e-6, atol=1e-10):
    """Every entry agrees to a relative error below ``rtol``, or, for the few entries so small
    that finite-difference noise (~1e-11 absolute at eps = 1e-5 in float64) dominates, to
    within ``atol``: |a - n| <= rtol (|a| + |n|) + atol. A wrong gradient is off by ~1e-2.
    """
    bad = np.abs(analytic - numeric) > rtol * (np.abs(analytic) + np.abs(numeric)) + atol
    assert not bad.any(), (
        f"{bad.sum()} entries differ; worst relative error "
        f"{rel_error(analytic, numeric):.3g}, absolute "
        f"{np.abs(analytic - numeric).max():.3g}"
    )


def check(model, loss_fn):
    """Analytic flat.grad against centered differences over every parameter."""
    loss, cache = loss_fn()
    model.backward(cache)
    analytic = model.flat.grad.copy()
    assert np.abs(analytic).max() > 1e-3  # a real signal, not a vacuous pass
    numeric = numeric_grad(lambda: loss_fn()[0], model.flat.data, eps=1e-5)
    assert_close_grads(analytic, numeric)


def seqs(rng, V, lengths, lo=4):
    return [list(rng.integers(lo, V, size=n)) for n in lengths]


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("embed,layers", [(0, 1), (3, 2)])
def test_classifier_gradcheck(bidirectional, embed, layers):
    rng = np.random.default_rng(1)
    cfg = ClassifierConfig(
        vocab_size=7, num_classes=3, hidden=4, layers=layers, embed=embed, bidirectional=bidirectional
    )
    m = SequenceClassifier(cfg, seed=2, dtype=F64)
    ids, lengths, mask = pad_batch(seqs(rng, 7, [5, 2, 3]))
    labels = np.array([0, 2, 1])
    check(m, lambda: m.forward(ids, labels, mask=mask))


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("embed,layers", [(0, 1), (3, 2)])
def test_tagger_gradcheck(bidirectional, embed, layers):
    rng = np.random.default_rng(3)
    cfg = TaggerConfig(
        vocab_size=6, num_tags=3, hidden=4, layers=layers, embed=embed, bidirectional=bidirectional
    )
    m = SequenceTagger(cfg, seed=4, dtype=F64)
    ids, lengths, mask = pad_batch(seqs(rng, 6, [4, 1, 3]))
    tags = rng.integers(0, 3, size=ids.shape)
    check(m, lambda: m.forward(ids, tags, lengths=lengths))


@pytest.mark.parametrize(
    "kw",
    [
        dict(num_labels=3),  # one-hot label, zeros after
        dict(num_labels=3, cond_embed=2, layers=2),  # label embedding
        dict(feature_dim=4),  # a feature vector
        dict(num_labels=3, autoregressive=True),  # feedback, one-hot chars
        dict(num_labels=3, cond_embed=2, autoregressive=True, embed=3, layers=2),
    ],
)
def test_generator_gradcheck(kw):
    rng = np.random.default_rng(5)
    cfg = GeneratorConfig(vocab_size=7, hidden=4, **kw)
    m = ConditionedGenerator(cfg, seed=6, dtype=F64)
    dec_in, dec_out, mask = teacher_forcing(seqs(rng, 7, [3, 1, 2]))
    cond = rng.standard_normal((3, 4)) if cfg.feature_dim else np.array([2, 0, 1])
    check(m, lambda: m.forward(cond, dec_out, mask, dec_in=dec_in))


def test_generator_condition_gradient():
    """backward returns d(loss)/d(feature vector)."""
    rng = np.random.default_rng(7)
    m = ConditionedGenerator(
        GeneratorConfig(vocab_size=6, feature_dim=3, hidden=4, autoregressive=True), seed=0, dtype=F64
    )
    dec_in, dec_out, mask = teacher_forcing(seqs(rng, 6, [2, 3]))
    feats = rng.standard_normal((2, 3))
    _, cache = m.forward(feats, dec_out, mask, dec_in=dec_in)
    dc = m.backward(cache)
    numeric = numeric_grad(lambda: m.forward(feats, dec_out, mask, dec_in=dec_in)[0], feats, eps=1e-5)
    assert_close_grads(dc, numeric)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("embed,layers", [(0, 1), (3, 2)])
def test_seq2seq_gradcheck(bidirectional, embed, layers):
    rng = np.random.default_rng(8)
    cfg = Seq2SeqConfig(
        src_vocab_size=6, tgt_vocab_size=7, hidden=3, layers=layers, embed=embed, bidirectional=bidirectional
    )
    m = Seq2Seq(cfg, seed=9, dtype=F64)
    src, src_len, _ = pad_batch(seqs(rng, 6, [4, 2, 3]))
    dec_in, dec_out, dmask = teacher_forcing(seqs(rng, 7, [2, 3, 1]))
    check(m, lambda: m.forward(src, dec_in, dec_out, src_lengths=src_len, dec_mask=dmask))
