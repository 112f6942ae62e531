"""Sampling at tiny temperatures: the LM sampler, ``rnnkit serve`` and the task decoders.

A positive temperature so small that ``logits / temperature`` overflows (1e-320) gave NaN
probabilities: a crash in ``rnnkit sample`` and ``rnnkit serve``, blank output in
``rnnkit generate sample``. The max logit is now subtracted before the division
(``rnnkit.decode.sampler.tempered_logits``), so a tiny temperature gives greedy's output, and a
normal one gives the same numbers as before.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import TINY, assert_one_line_error, rnnkit, write_text

from rnnkit.data.vocab import Vocab
from rnnkit.decode.forms import generator_greedy, generator_sample
from rnnkit.decode.lm import lm_sample
from rnnkit.decode.sampler import InverseCDFDraw, filter_probs, greedy_ids, sample_tokens, tempered_logits
from rnnkit.errors import RnnkitError
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.models.generator import ConditionedGenerator, GeneratorConfig
from rnnkit.nn.softmax_cross_entropy import log_softmax, softmax
from rnnkit.viz.serve import Generator

TINY_TEMPERATURES = [1e-320, 5e-324, 1e-300, 1e-30]


def _old_filter_probs(logits, temperature=1.0, top_k=0, top_p=1.0):
    """``filter_probs`` as it was before the fix (the formula that overflowed)."""
    p = softmax(logits.astype(np.float64) / temperature)
    if 0 < top_k < p.size:
        kth = np.partition(p, -top_k)[-top_k]
        p = np.where(p >= kth, p, 0.0)
    if top_p < 1.0:
        order = np.argsort(-p)
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p * cum[-1])) + 1]
        mask = np.zeros_like(p, dtype=bool)
        mask[keep] = True
        p = np.where(mask, p, 0.0)
    return p / p.sum()


@pytest.fixture(autouse=True)
def _runtime_warnings_are_errors():
    """No overflow / invalid-value RuntimeWarning may escape the samplers."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def test_the_old_formula_really_gave_nan():
    """The defect, pinned: without the fix, 1e-320 turns every probability into NaN."""
    logits = np.array([1.0, 3.0, -2.0])
    with np.errstate(all="ignore"):
        assert np.isnan(_old_filter_probs(logits, 1e-320)).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("temperature", [0.05, 0.5, 0.8, 1.0, 2.0, 50.0])
@pytest.mark.parametrize("top_k,top_p", [(0, 1.0), (3, 1.0), (0, 0.9)])
def test_normal_temperatures_are_unchanged(seed, temperature, top_k, top_p):
    """Same probabilities as the old formula (to rounding), and the same draws for a seed."""
    logits = np.random.default_rng(seed).normal(0, 3, 12).astype(np.float32)
    new, old = (
        filter_probs(logits, temperature, top_k, top_p),
        _old_filter_probs(logits, temperature, top_k, top_p),
    )
    np.testing.assert_allclose(new, old, rtol=1e-12, atol=1e-15)
    assert (new > 0).tolist() == (old > 0).tolist()

    def draws(p):
        return np.random.default_rng(seed).choice(p.size, size=300, p=p).tolist()

    assert draws(new) == draws(old)


@pytest.mark.parametrize("temperature", TINY_TEMPERATURES)
@pytest.mark.parametrize("top_k,top_p", [(0, 1.0), (2, 1.0), (0, 0.5)])
def test_tiny_temperature_gives_the_greedy_one_hot(temperature, top_k, top_p):
    logits = np.random.default_rng(4).normal(0, 3, 9)
    p = filter_probs(logits, temperature, top_k, top_p)
    assert np.isfinite(p).all()
    assert p.tolist() == np.eye(9)[np.argmax(logits)].tolist()


def test_tempered_logits_keeps_minus_inf_and_never_makes_nan():
    z = tempered_logits(np.array([[2.0, -np.inf, 1.0], [1e308, -1e308, 0.0]]), 1e-320)
    assert not np.isnan(z).any()
    assert z.tolist() == [[0.0, -np.inf, -np.inf], [0.0, -np.inf, -np.inf]]


def _lm(V=7, seed=0):
    return CharRNN(ModelConfig(vocab_size=V, hidden=8, layers=2), seed=seed)


@pytest.mark.parametrize("temperature", TINY_TEMPERATURES)
def test_lm_sample_with_a_tiny_temperature_is_greedy(temperature):
    m, prime = _lm(), np.array([1, 2])
    greedy = lm_sample(m, prime, 40, greedy=True)
    assert lm_sample(m, prime, 40, temperature=temperature, seed=3) == greedy
    assert lm_sample(m, prime, 40, temperature=temperature, top_k=3, top_p=0.9, seed=3) == greedy


@pytest.mark.parametrize("temperature", TINY_TEMPERATURES)
def test_serve_stream_with_a_tiny_temperature_is_greedy(temperature):
    vocab = Vocab(list("abcdefg"))
    m = _lm(len(vocab), seed=1)
    gen = Generator(m, vocab)
    args = gen.parse({"prime": "ab", "temperature": temperature, "top_k": 0, "length": 30, "seed": 5})
    events = [e for e in gen.stream(**args) if e["type"] == "char" and not e["prime"]]
    assert "".join(e["ch"] for e in events) == vocab.decode(lm_sample(m, vocab.encode("ab"), 30, greedy=True))
    assert all(e["p"] == 1.0 for e in events)


def _task_generator():
    return ConditionedGenerator(
        GeneratorConfig(vocab_size=9, num_labels=2, hidden=6, autoregressive=True), seed=2, dtype=np.float64
    )


@pytest.mark.parametrize("temperature", TINY_TEMPERATURES)
def test_task_sample_with_a_tiny_temperature_is_greedy(temperature):
    m, cond = _task_generator(), np.array([0, 1, 1, 0])
    greedy, _ = generator_greedy(m, cond, 12)
    assert generator_sample(m, cond, 12, np.random.default_rng(0), temperature) == greedy
    assert generator_sample(m, cond, 12, np.random.default_rng(0), temperature, top_k=3) == greedy


def _fixed_step(logits):
    """A decoding step that always returns ``logits`` (B, V): no model needed."""
    return lambda ids, h: (np.array(logits, dtype=np.float64), h)


def test_task_sample_bans_before_tempering():
    """The most likely token is banned (PAD): a tiny temperature must still emit the best
    allowed token, not a row of NaN (which decoded to blank output)."""
    logits = np.array([[9.0, 0.5, 3.0, 1.0]])  # 0 banned; best allowed 2; EOS is 3
    draw = InverseCDFDraw(np.random.default_rng(0), temperature=1e-320, banned=[0, 1])
    got = [ids.tolist() for ids, _ in sample_tokens(_fixed_step(logits), logits, None, 5, draw, eos_id=3)]
    assert got == [[2]] * 5
    assert got == [greedy_ids(logits, banned=[0, 1]).tolist()] * 5


def _old_task_sample(step, h0, bos_id, eos_id, max_len, rng, temperature, top_k, banned):
    """``decoding.sample`` as it was before the fix, for temperature > 0."""
    B = h0.shape[1]
    prev, alive, seqs, h = (
        np.full(B, bos_id, dtype=np.int64),
        np.ones(B, dtype=bool),
        [[] for _ in range(B)],
        h0,
    )
    for t in range(max_len):
        logits, h = step(prev, h, t)
        lp = log_softmax(np.asarray(logits, np.float64) / temperature)
        lp[:, list(banned)] = -np.inf
        if top_k > 0 and top_k < lp.shape[1]:
            kth = np.sort(lp, axis=1)[:, -top_k][:, None]
            lp = np.where(lp >= kth, lp, -np.inf)
        p = np.exp(lp - lp.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        tok = np.minimum((p.cumsum(axis=1) < rng.random(B)[:, None]).sum(axis=1), p.shape[1] - 1)
        for b in np.flatnonzero(alive & (tok != eos_id)):
            seqs[b].append(int(tok[b]))
        alive &= tok != eos_id
        if not alive.any():
            break
        prev = tok
    return seqs


@pytest.mark.parametrize("temperature,top_k", [(0.3, 0), (0.8, 0), (1.0, 3), (4.0, 0)])
def test_task_sample_at_normal_temperatures_is_unchanged(temperature, top_k):
    m, cond = _task_generator(), np.array([0, 1, 0, 1, 1, 0])
    c, _ = m.condition(cond)

    def step(prev, h, t):  # the old decoder's step: the condition at t = 0 only
        return m.step(prev, h, c if t == 0 else None)

    h0, cfg = m.zero_state(len(cond)), m.cfg
    old = _old_task_sample(
        step, h0, cfg.bos_id, cfg.eos_id, 15, np.random.default_rng(7), temperature, top_k, m.banned
    )
    assert generator_sample(m, cond, 15, np.random.default_rng(7), temperature, top_k) == old


def test_task_sample_zero_is_greedy_and_nan_is_refused():
    m, cond = _task_generator(), np.array([0, 1])
    assert generator_sample(m, cond, 10, np.random.default_rng(0), 0.0) == generator_greedy(m, cond, 10)[0]
    with pytest.raises(RnnkitError, match="temperature"):
        generator_sample(m, cond, 10, np.random.default_rng(0), float("nan"))


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    text = write_text(root / "t.txt", 1500, seed=2)
    p = rnnkit("train", text, "--out", root / "run", *TINY, "--max-steps", "20", "--val-chars", "300")
    assert p.returncode == 0, p.stderr
    return root / "run"


@pytest.mark.parametrize("temperature", ["1e-320", "1e-300", "1e-30"])
def test_cli_sample_with_a_tiny_temperature_matches_greedy(lm_run, temperature):
    args = ["sample", lm_run, "--prime", "the ", "--length", "60", "--seed", "1"]
    greedy = rnnkit(*args, "--greedy")
    tiny = rnnkit(*args, "--temperature", temperature)
    assert greedy.returncode == 0 and tiny.returncode == 0, tiny.stderr
    assert tiny.stdout == greedy.stdout and len(tiny.stdout.rstrip("\n")) == 64


def test_cli_sample_temperature_zero_is_greedy_and_negative_is_refused(lm_run):
    """Since issue 18 temperature 0 is greedy in `rnnkit sample` too (it used to be refused)."""
    args = ["sample", lm_run, "--prime", "the ", "--length", "30"]
    zero = rnnkit(*args, "--temperature", "0")
    assert zero.returncode == 0 and zero.stdout == rnnkit(*args, "--greedy").stdout, zero.stderr
    assert_one_line_error(rnnkit("sample", lm_run, "--temperature", "-1"), "--temperature", "non-negative")


def test_cli_generate_sample_with_a_tiny_temperature_matches_greedy(tmp_path):
    data = tmp_path / "d.tsv"
    data.write_text("".join(f"{'AB'[i % 2]}\t{'abcde' if i % 2 == 0 else 'vwxyz'}\n" for i in range(40)))
    p = rnnkit(
        "generate",
        "train",
        data,
        "--out",
        tmp_path / "g",
        "--hidden",
        "12",
        "--batch",
        "8",
        "--autoregressive",
        "--max-steps",
        "40",
        "--lr",
        "0.05",
        "--no-progress",
        "--seed",
        "3",
    )
    assert p.returncode == 0, p.stderr
    args = ["generate", "sample", tmp_path / "g", "--label", "A", "-n", "3", "--seed", "1"]
    greedy = rnnkit(*args, "--temperature", "0")
    assert greedy.returncode == 0 and greedy.stdout.strip(), greedy.stderr  # the model emits text
    for t in ("1e-320", "1e-300", "1e-30"):
        assert rnnkit(*args, "--temperature", t).stdout == greedy.stdout
    assert_one_line_error(rnnkit(*args, "--temperature", "-1"), "--temperature", "non-negative")
    assert_one_line_error(rnnkit(*args, "--temperature", "nan"), "temperature", "nan")
