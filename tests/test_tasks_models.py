"""Task models: masks honoured, configs validated, decoding correct, and they learn."""

import itertools

import numpy as np
import pytest

from rnnkit.data.padding import minibatches, pad_batch, teacher_forcing
from rnnkit.data.token_vocab import BOS, EOS
from rnnkit.decode.forms import (
    generator_greedy,
    generator_sample,
    generator_start,
    seq2seq_beam_search,
    seq2seq_decode,
)
from rnnkit.decode.sampler import step_logprobs
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.generator import ConditionedGenerator, GeneratorConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.optim.optimizers import clip_gradients, make_optimizer

F64 = np.float64


def rand_seqs(rng, V, lengths):
    return [list(rng.integers(4, V, size=n)) for n in lengths]


# ------------------------------------------------------------------ masks and padding
@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_padded_batch_equals_each_sequence_alone(bidirectional):
    rng = np.random.default_rng(0)
    m = SequenceClassifier(
        ClassifierConfig(vocab_size=8, num_classes=3, hidden=5, layers=2, bidirectional=bidirectional),
        seed=1,
        dtype=F64,
    )
    seqs = rand_seqs(rng, 8, [5, 2, 4])
    ids, lengths, mask = pad_batch(seqs)
    batch = m.predict_proba(ids, lengths=lengths)
    for b, s in enumerate(seqs):
        alone = m.predict_proba(np.array(s)[:, None])
        np.testing.assert_allclose(batch[b], alone[0], rtol=1e-12)


@pytest.mark.parametrize("model", ["classifier", "tagger", "generator", "seq2seq"])
def test_padded_positions_change_nothing(model):
    """Garbage in the padded slots: same loss, same gradient."""
    rng = np.random.default_rng(2)
    seqs = rand_seqs(rng, 8, [4, 1, 3])
    ids, lengths, mask = pad_batch(seqs)
    junk = ids.copy()
    junk[mask == 0] = rng.integers(0, 8, size=int((mask == 0).sum()))
    assert (junk != ids).any()
    if model == "classifier":
        m = SequenceClassifier(ClassifierConfig(8, 2, hidden=4, embed=3, bidirectional=True), dtype=F64)

        def run(x):
            return m.forward(x, np.array([0, 1, 1]), mask=mask)

    elif model == "tagger":
        m = SequenceTagger(TaggerConfig(8, 3, hidden=4, bidirectional=True), dtype=F64)
        tags = rng.integers(0, 3, size=ids.shape)

        def run(x):  # fresh random tags in the padding on every call
            return m.forward(x, np.where(mask > 0, tags, rng.integers(0, 3, size=ids.shape)), mask=mask)

    elif model == "generator":
        m = ConditionedGenerator(
            GeneratorConfig(8, num_labels=2, hidden=4, autoregressive=True, embed=3), dtype=F64
        )
        dec_in, dec_out, dmask = teacher_forcing(seqs)

        def run(x):  # x only decides the junk: put it into dec_in/dec_out padding
            di, do = dec_in.copy(), dec_out.copy()
            if x is junk:
                di[dmask == 0] = 5
                do[dmask == 0] = 6
            return m.forward(np.array([0, 1, 1]), do, dmask, dec_in=di)
    else:
        m = Seq2Seq(Seq2SeqConfig(8, 8, hidden=4, embed=3, bidirectional=True), dtype=F64)
        dec_in, dec_out, dmask = teacher_forcing(rand_seqs(rng, 8, [2, 3, 1]))

        def run(x):
            return m.forward(x, dec_in, dec_out, src_mask=mask, dec_mask=dmask)

    loss1, c1 = run(ids)
    m.backward(c1)
    g1 = m.flat.grad.copy()
    loss2, c2 = run(junk)
    m.backward(c2)
    assert loss1 == loss2
    np.testing.assert_array_equal(g1, m.flat.grad)


def test_tagger_bidirectional_sees_right_context_and_padding_does_not_leak():
    m = SequenceTagger(TaggerConfig(8, 3, hidden=4, bidirectional=True), seed=3, dtype=F64)
    a = np.array([[4], [5], [6]])
    b = np.array([[4], [5], [7]])
    pa, pb = m.predict_proba(a), m.predict_proba(b)
    assert not np.allclose(pa[0], pb[0])  # step 0 depends on step 2 (right context)
    uni = SequenceTagger(TaggerConfig(8, 3, hidden=4), seed=3, dtype=F64)
    np.testing.assert_allclose(uni.predict_proba(a)[:2], uni.predict_proba(b)[:2], rtol=1e-13)
    ids, lengths, _ = pad_batch([[4, 5, 6], [4, 5]])
    batch = m.predict_proba(ids, lengths=lengths)
    np.testing.assert_allclose(batch[:2, 1], m.predict_proba(np.array([[4], [5]]))[:, 0], rtol=1e-12)
    assert m.predict(ids, lengths=lengths)[2, 1] == -1


def test_generator_plain_form_feeds_zeros_after_the_condition():
    m = ConditionedGenerator(GeneratorConfig(6, num_labels=3, cond_embed=2, hidden=4), dtype=F64)
    x, _ = m.inputs(np.array([0, 2]), T=4)
    assert x.shape == (4, 2, 2)
    np.testing.assert_array_equal(x[0], m.flat.view("cond.weight")[[0, 2]])
    assert not x[1:].any()
    ar = ConditionedGenerator(GeneratorConfig(6, num_labels=3, hidden=4, autoregressive=True), dtype=F64)
    x, _ = ar.inputs(np.array([1]), dec_in=np.array([[BOS], [4]]))
    assert x.shape == (2, 1, 3 + 6)
    assert x[0, 0].tolist() == [0, 1, 0] + [0, 1, 0, 0, 0, 0]  # condition + onehot(BOS)
    assert x[1, 0].tolist() == [0, 0, 0] + [0, 0, 0, 0, 1, 0]  # zeros + onehot(4)


# --------------------------------------------------------------------- configs
@pytest.mark.parametrize(
    "make,msg",
    [
        (lambda: ClassifierConfig(10, 1), "at least 2 classes"),
        (lambda: ClassifierConfig(10, 2, hidden=0), "hidden must be at least 1"),
        (lambda: ClassifierConfig(10, 2, dropout=1.0), "dropout"),
        (lambda: TaggerConfig(10, 2, embed=-1), "embed"),
        (lambda: GeneratorConfig(10), "exactly one condition"),
        (lambda: GeneratorConfig(10, num_labels=2, feature_dim=3), "exactly one condition"),
        (lambda: GeneratorConfig(10, num_labels=2, embed=4), "autoregressive"),
        (lambda: GeneratorConfig(10, feature_dim=3, cond_embed=2), "cond_embed"),
        (lambda: Seq2SeqConfig(10, 2), r"eos_id=2 must lie in \[0, 2\)"),
        (lambda: Seq2SeqConfig(10, 10, bos_id=2), "must differ"),
    ],
)
def test_config_validate_messages(make, msg):
    with pytest.raises(ValueError, match=msg):
        make().validate()


def test_config_to_dict_round_trips():
    cfg = Seq2SeqConfig(10, 12, hidden=7, bidirectional=True)
    assert Seq2SeqConfig(**cfg.to_dict()) == cfg
    assert GeneratorConfig(**GeneratorConfig(9, num_labels=2).to_dict()).num_labels == 2


# -------------------------------------------------------------------- decoding
def small_seq2seq(seed, tgt_vocab=9, **kw):
    cfg = Seq2SeqConfig(src_vocab_size=7, tgt_vocab_size=tgt_vocab, hidden=6, layers=2, **kw)
    return Seq2Seq(cfg, seed=seed, dtype=F64)


@pytest.mark.parametrize("seed", range(4))
def test_beam_one_equals_greedy(seed):
    rng = np.random.default_rng(seed)
    m = small_seq2seq(seed, bidirectional=bool(seed % 2))
    src, lengths, _ = pad_batch(rand_seqs(rng, 7, [3, 5, 2]))
    g_seqs, g_scores = seq2seq_decode(m, src, src_lengths=lengths, max_len=8)  # beam 1: greedy, batched
    for b, n in enumerate(lengths):  # a width-1 beam search of each source alone finds the same
        [(seq, score)] = seq2seq_beam_search(m, src[:n, b : b + 1], beam=1, max_len=8)
        assert seq == g_seqs[b]
        np.testing.assert_allclose(score, g_scores[b], rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_beam_finds_at_least_as_likely_as_greedy(seed):
    rng = np.random.default_rng(10 + seed)
    m = small_seq2seq(seed, embed=4)
    src, lengths, _ = pad_batch(rand_seqs(rng, 7, [4, 2, 3, 5]))
    g_seqs, g_scores = seq2seq_decode(m, src, src_lengths=lengths, max_len=12)
    b_seqs, b_scores = seq2seq_decode(m, src, src_lengths=lengths, beam=6, max_len=12)
    assert (b_scores >= g_scores - 1e-12).all()
    # the scores are the model's log-probabilities: teacher forcing gives the same numbers
    done = [b for b in range(4) if len(b_seqs[b]) < 12]
    assert done
    lp = m.log_prob(src[:, done], [b_seqs[b] for b in done], src_lengths=lengths[done])
    np.testing.assert_allclose(lp, b_scores[done], rtol=1e-10)


def test_wide_beam_finds_the_most_probable_output():
    """Exhaustive search over {a, b}^<=3 (EOS-terminated, or cut at max_len) versus beam."""
    m = small_seq2seq(5, tgt_vocab=6)  # tokens 4, 5 and EOS
    src = np.array([[4], [6], [5]])
    h0, _ = m.encode(src)

    def score(tokens, ended):
        h, prev, total = h0, np.array([BOS]), 0.0
        for tok in list(tokens) + ([EOS] if ended else []):
            logits, h = m.step(prev, h)
            total += step_logprobs(logits, m.banned)[0, tok]
            prev = np.array([tok])
        return total

    cands = [(s, True) for n in range(3) for s in itertools.product([4, 5], repeat=n)]
    cands += [(s, False) for s in itertools.product([4, 5], repeat=3)]
    best = max(cands, key=lambda c: score(*c))
    hyps = seq2seq_beam_search(m, src, beam=16, max_len=3)
    assert tuple(hyps[0][0]) == best[0]
    assert hyps[0][1] == pytest.approx(score(*best), rel=1e-12)


def test_generator_sampling_matches_the_model_distribution():
    m = ConditionedGenerator(
        GeneratorConfig(6, num_labels=2, hidden=4, autoregressive=True), seed=4, dtype=F64
    )
    logits, _ = generator_start(m, np.array([1]))  # the first char's
    lp = step_logprobs(logits, m.banned)[0]
    p = np.exp(lp) / np.exp(lp).sum()  # renormalised over allowed tokens
    draws = generator_sample(m, np.full(20000, 1), max_len=1, rng=np.random.default_rng(0))
    first = np.array([d[0] if d else EOS for d in draws])
    freq = np.bincount(first, minlength=6) / first.size
    np.testing.assert_allclose(freq, p, atol=0.015)
    assert freq[0] == 0 and freq[BOS] == 0  # PAD and BOS are never emitted
    # temperature 0 is greedy; the same rng state gives the same draws
    assert (
        generator_sample(m, np.array([0, 1]), 5, np.random.default_rng(1), temperature=0)
        == generator_greedy(m, np.array([0, 1]), 5)[0]
    )
    assert generator_sample(m, np.array([0, 1]), 5, np.random.default_rng(1)) == generator_sample(
        m, np.array([0, 1]), 5, np.random.default_rng(1)
    )


# --------------------------------------------------------------------- learning
def train(model, batches, loss_fn, steps, lr=0.02, seed=0):
    """A minimal loop: Adam on model.flat, global-norm clipping at 5."""
    opt = make_optimizer("adam", model.flat)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        loss, cache = loss_fn(batches(rng))
        model.backward(cache)
        clip_gradients(model.flat.grad, "norm", 5.0)
        opt.step(lr)
        losses.append(loss)
    return losses


def test_classifier_learns_separable_data():
    rng = np.random.default_rng(0)
    words = [("".join(rng.choice(list("abc"), size=rng.integers(2, 7))), 0) for _ in range(60)]
    words += [("".join(rng.choice(list("xyz"), size=rng.integers(2, 7))), 1) for _ in range(60)]
    stoi = {c: i + 4 for i, c in enumerate("abcxyz")}
    m = SequenceClassifier(ClassifierConfig(10, 2, hidden=12), seed=0)

    def batches(r):
        idx = next(minibatches(len(words), 16, r))
        ids, lengths, _ = pad_batch([[stoi[c] for c in words[i][0]] for i in idx])
        return ids, np.array([words[i][1] for i in idx]), lengths

    losses = train(m, batches, lambda b: m.forward(b[0], b[1], lengths=b[2]), 60)
    ids, lengths, _ = pad_batch([[stoi[c] for c in w] for w, _ in words])
    acc = (m.predict(ids, lengths=lengths) == np.array([l for _, l in words])).mean()
    assert acc == 1.0 and losses[-1] < 0.1 * losses[0]


def test_bidirectional_tagger_beats_unidirectional_when_the_tag_depends_on_the_right():
    """Tag 1 where the NEXT char is 'x': only the right-to-left direction can know."""
    rng = np.random.default_rng(1)
    texts = ["".join(rng.choice(list("abx"), size=rng.integers(3, 9))) for _ in range(200)]
    stoi = {c: i + 4 for i, c in enumerate("abx")}
    tags = [[int(i + 1 < len(t) and t[i + 1] == "x") for i in range(len(t))] for t in texts]

    def fit(bi):
        m = SequenceTagger(TaggerConfig(7, 2, hidden=8, bidirectional=bi), seed=0)

        def batches(r):
            idx = next(minibatches(len(texts), 20, r))
            ids, lengths, _ = pad_batch([[stoi[c] for c in texts[i]] for i in idx])
            tg, _, _ = pad_batch([tags[i] for i in idx])
            return ids, tg, lengths

        train(m, batches, lambda b: m.forward(b[0], b[1], lengths=b[2]), 80, lr=0.03)
        ids, lengths, mask = pad_batch([[stoi[c] for c in t] for t in texts])
        tg, _, _ = pad_batch(tags)
        return ((m.predict(ids, lengths=lengths) == tg) * mask).sum() / mask.sum()

    uni, bi = fit(False), fit(True)
    assert bi > 0.98
    assert uni < 0.8  # ~ the share of "next is not x"


@pytest.mark.parametrize("autoregressive", [False, True])
def test_generator_learns_a_word_per_label(autoregressive):
    m = ConditionedGenerator(
        GeneratorConfig(8, num_labels=2, hidden=12, autoregressive=autoregressive), seed=0
    )
    words = [[4, 5, 6], [7, 6]]
    dec_in, dec_out, mask = teacher_forcing(words)
    cond = np.array([0, 1])
    train(m, lambda r: None, lambda _: m.forward(cond, dec_out, mask, dec_in=dec_in), 80, lr=0.05)
    assert generator_greedy(m, cond, max_len=6)[0] == words


def test_seq2seq_learns_to_reverse():
    rng = np.random.default_rng(3)
    data = [list(rng.integers(4, 7, size=rng.integers(1, 4))) for _ in range(100)]
    m = Seq2Seq(Seq2SeqConfig(7, 7, hidden=24), seed=0)

    def batches(r):
        idx = next(minibatches(len(data), 25, r))
        src, lengths, _ = pad_batch([data[i] for i in idx])
        return (src, lengths) + teacher_forcing([data[i][::-1] for i in idx])

    train(m, batches, lambda b: m.forward(b[0], b[2], b[3], src_lengths=b[1], dec_mask=b[4]), 150, lr=0.02)
    src, lengths, _ = pad_batch(data)
    hyps, _ = seq2seq_decode(m, src, src_lengths=lengths, max_len=6)
    assert np.mean([h == d[::-1] for h, d in zip(hyps, data)]) > 0.9
