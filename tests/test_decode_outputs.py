"""Decoding outputs pinned: what the LM sampler and beam search, the generator's sampler and
greedy decoder, and seq2seq's greedy and beam decoders give today for fixed models and seeds.

The numbers were recorded before sampling and beam search were written once (issue 16), so
any change in what ``rnnkit sample``, ``generate sample`` or ``seq2seq predict`` prints for a
seed shows here. Float64 models, so that another machine's BLAS rounding cannot move a draw.

The form models were recorded when their decoders banned PAD and BOS only; since issue 18 they
ban UNK too (``BackboneConfig.never_emitted``, tested in ``test_sampling.py``), so the
models here ban what they banned then (``RECORDED_BANNED``): the decoding itself is pinned.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.padding import pad_batch
from rnnkit.data.token_vocab import BOS, PAD
from rnnkit.decode.forms import generator_greedy, generator_sample, seq2seq_beam_search, seq2seq_decode
from rnnkit.decode.lm import lm_beam_search, lm_sample
from rnnkit.errors import RnnkitError
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.models.generator import ConditionedGenerator, GeneratorConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

F64 = np.float64
RECORDED_BANNED = (PAD, BOS)  # what the form models' decoders banned when the values were recorded

LM_SAMPLE = {
    (0.5, 4, 0.9, False, 11): [
        6,
        10,
        7,
        8,
        9,
        5,
        7,
        6,
        10,
        6,
        10,
        6,
        10,
        7,
        6,
        7,
        6,
        5,
        8,
        6,
        4,
        9,
        4,
        9,
        7,
        9,
        5,
        6,
        1,
        7,
        8,
        7,
        6,
        4,
        8,
        5,
        6,
        7,
        8,
        5,
    ],
    (0.7, 3, 1.0, False, 5): [
        5,
        8,
        7,
        9,
        4,
        9,
        7,
        9,
        7,
        0,
        4,
        9,
        2,
        1,
        6,
        7,
        9,
        5,
        6,
        5,
        7,
        0,
        5,
        9,
        7,
        8,
        5,
        9,
        7,
        0,
        5,
        9,
        5,
        9,
        5,
        9,
        5,
        6,
        7,
        6,
    ],
    (1.0, 0, 1.0, False, 5): [
        7,
        8,
        9,
        5,
        4,
        9,
        3,
        2,
        0,
        0,
        2,
        8,
        2,
        5,
        6,
        7,
        4,
        8,
        6,
        5,
        1,
        7,
        5,
        3,
        6,
        8,
        9,
        7,
        2,
        10,
        7,
        10,
        4,
        9,
        9,
        3,
        8,
        0,
        10,
        7,
    ],
    (1.0, 0, 1.0, True, None): [
        0,
        5,
        6,
        7,
        9,
        5,
        9,
        7,
        0,
        5,
        9,
        7,
        0,
        5,
        9,
        7,
        0,
        5,
        9,
        7,
        0,
        5,
        9,
        7,
        0,
        5,
        9,
        7,
        0,
        5,
        9,
        7,
        0,
        5,
        9,
        7,
        0,
        5,
        9,
        7,
    ],
    (1.3, 0, 0.8, False, 7): [
        6,
        10,
        10,
        4,
        8,
        8,
        1,
        2,
        8,
        0,
        4,
        7,
        0,
        3,
        5,
        9,
        10,
        0,
        7,
        0,
        5,
        4,
        2,
        7,
        1,
        7,
        4,
        4,
        0,
        7,
        9,
        10,
        0,
        8,
        6,
        10,
        8,
        10,
        6,
        6,
    ],
}

LM_BEAM = {
    1: ([0, 5, 6, 7, 9, 5, 9, 7, 0, 5, 9, 7, 0, 5, 9, 7, 0, 5, 9, 7], -38.8628512270689),
    3: ([0, 5, 9, 7, 0, 5, 9, 7, 0, 5, 9, 7, 0, 5, 9, 7, 0, 5, 9, 7], -38.421642354915235),
    8: ([0, 5, 9, 7, 0, 5, 9, 7, 0, 5, 9, 7, 0, 5, 9, 7, 0, 5, 9, 7], -38.421642354915235),
}

GEN_SAMPLE = {
    (False, 0.0, 0, 3): [
        [5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
        [6, 5, 5, 5, 5, 5, 5, 5, 5, 5],
        [5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
        [6, 5, 5, 5, 5, 5, 5, 5, 5, 5],
        [5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
        [5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
    ],
    (False, 0.7, 3, 2): [
        [4, 4, 4, 5, 4, 3, 5, 5, 3, 4],
        [5, 5, 5, 4, 5, 6, 5, 4, 4, 5],
        [8, 5, 5, 5, 4, 5, 5, 5, 5, 5],
        [5, 6, 5, 5, 5, 6, 4, 4, 5, 5],
        [5, 5, 5, 6, 3, 5, 6, 4, 5, 4],
        [6, 5, 5, 6, 3, 5, 5, 3, 6, 3],
    ],
    (False, 1.0, 0, 1): [
        [5, 7, 4, 3, 8, 5],
        [8, 5, 7, 4, 6, 3, 5, 4, 7],
        [3, 5, 4, 6, 5, 6, 5, 7, 6, 7],
        [8],
        [4, 6, 3, 5, 3, 6, 6, 5, 3, 8],
        [5, 5, 5, 8, 8, 8, 7, 7, 7, 5],
    ],
    (False, 2.0, 0, 4): [
        [8, 7, 5, 3, 5, 5, 5, 3, 8, 7],
        [5, 3, 7, 6, 5, 6, 6, 5, 4, 4],
        [8, 8, 8, 6, 5, 8, 5, 4, 7, 4],
        [],
        [6, 8, 8, 6, 4, 3, 6, 3, 8, 8],
        [5, 5, 8, 3, 3, 8, 7, 8, 5, 5],
    ],
    (True, 0.0, 0, 3): [
        [7, 7, 7, 7, 7, 7, 7, 7, 7, 7],
        [5, 7, 8, 5, 7, 7, 7, 7, 7, 7],
        [3, 5, 7, 7, 7, 7, 7, 7, 7, 7],
        [5, 7, 8, 5, 7, 7, 7, 7, 7, 7],
        [7, 7, 7, 7, 7, 7, 7, 7, 7, 7],
        [3, 5, 7, 7, 7, 7, 7, 7, 7, 7],
    ],
    (True, 0.7, 3, 2): [
        [5, 4, 4, 3, 5, 5, 5, 7, 3, 5],
        [5, 5, 7, 3, 7, 8, 5, 7, 5, 7],
        [8, 5, 5, 5, 5, 7, 8, 7, 8, 5],
        [3, 5, 7, 7, 7, 8, 5, 5, 5, 7],
        [7, 7, 8, 7, 5, 7, 8, 5, 8, 5],
        [8, 4, 8, 7, 5, 5, 7, 3, 7, 5],
    ],
    (True, 1.0, 0, 1): [
        [5, 7, 4, 3, 8, 5],
        [8, 5, 7, 4, 6],
        [3, 5, 4, 7, 5, 6, 5, 7, 7, 7],
        [8],
        [4, 7, 3, 5, 3, 5, 6, 5, 3, 8],
        [4, 5, 5, 8, 8, 8, 7, 7, 7, 5],
    ],
    (True, 2.0, 0, 4): [
        [8, 7, 5, 3, 5, 5, 5, 3, 8, 7],
        [5, 3, 7, 6, 5, 6, 6, 5, 4, 3],
        [8, 8, 8, 6, 5, 8, 5, 4, 7, 4],
        [],
        [6, 8, 8, 6, 4, 3, 6, 3, 8, 8],
        [4, 5, 8, 3, 3, 8, 7, 8, 5, 5],
    ],
}

GEN_GREEDY = {
    False: (
        [
            [5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
            [6, 5, 5, 5, 5, 5, 5, 5, 5, 5],
            [5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
            [6, 5, 5, 5, 5, 5, 5, 5, 5, 5],
            [5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
            [5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
        ],
        [
            -18.096073127731238,
            -17.999746185109746,
            -17.250631501570737,
            -17.999746185109746,
            -18.096073127731238,
            -17.250631501570737,
        ],
    ),
    True: (
        [
            [7, 7, 7, 7, 7, 7, 7, 7, 7, 7],
            [5, 7, 8, 5, 7, 7, 7, 7, 7, 7],
            [3, 5, 7, 7, 7, 7, 7, 7, 7, 7],
            [5, 7, 8, 5, 7, 7, 7, 7, 7, 7],
            [7, 7, 7, 7, 7, 7, 7, 7, 7, 7],
            [3, 5, 7, 7, 7, 7, 7, 7, 7, 7],
        ],
        [
            -18.69496573706841,
            -18.85182930303277,
            -18.80009394629957,
            -18.85182930303277,
            -18.69496573706841,
            -18.80009394629957,
        ],
    ),
}

S2S_GREEDY = {
    "bidirectional": (
        [
            [3, 8, 4, 3, 8, 4, 3, 8, 4],
            [3, 8, 4, 3, 8, 4, 3, 8, 4],
            [3, 8, 4, 3, 8, 4, 3, 8, 4],
            [3, 8, 4, 3, 8, 4, 3, 8, 4],
        ],
        [-18.020098302633482, -18.075424792556138, -18.02972530466925, -18.067924474786214],
    ),
    "embed": (
        [[3], [7, 6], [3], [3]],
        [-3.736277610422552, -5.643313869025939, -3.6887059939452076, -3.657283936497354],
    ),
    "one_layer": (
        [
            [5, 7, 7, 5, 7, 7, 5, 7, 7],
            [5, 7, 7, 5, 7, 7, 5, 7, 7],
            [5, 7, 7, 5, 7, 7, 5, 7, 7],
            [5, 7, 7, 5, 7, 7, 5, 7, 7],
        ],
        [-16.166265004216413, -16.064848693366216, -16.100364016638025, -16.03259548946279],
    ),
}

S2S_BEAM = {
    ("bidirectional", 2): (
        [[3, 8, 4, 3, 8, 4, 3, 8, 4], [3, 8, 4, 3, 8, 4, 3, 8, 4], [3, 8, 4, 3, 8, 4, 3, 8, 4], []],
        [-18.02009830263348, -18.075424792556138, -18.02972530466925, -2.0765134258516875],
    ),
    ("bidirectional", 4): (
        [[], [], [], []],
        [-2.1456921005297036, -2.127315149984967, -2.142716554256637, -2.0765134258516875],
    ),
    ("embed", 2): (
        [[3], [3], [3], [3]],
        [-3.736277610422552, -3.6293644662322357, -3.6887059939452076, -3.6572839364973544],
    ),
    ("embed", 4): (
        [[], [], [], []],
        [-2.059204126293392, -2.175599628961433, -2.0914644799545523, -2.0900530719336166],
    ),
    ("one_layer", 2): (
        [
            [5, 7, 7, 5, 7, 7, 7, 5, 7],
            [5, 7, 7, 7, 5, 7, 7, 5, 7],
            [5, 7, 7, 7, 5, 7, 7, 5, 7],
            [5, 7, 7, 7, 5, 7, 7, 5, 7],
        ],
        [-16.105631063045443, -16.035552445331582, -16.064826160634873, -16.005028205237792],
    ),
    ("one_layer", 4): (
        [
            [5, 7, 7, 5, 7, 7, 7, 5, 7],
            [5, 7, 7, 5, 7, 7, 7, 5, 7],
            [5, 7, 7, 5, 7, 7, 7, 5, 7],
            [5, 7, 7, 5, 7, 7, 7, 5, 7],
        ],
        [-16.105631063045443, -16.00466994686901, -16.03821328002412, -15.969883154022934],
    ),
}

S2S_HYPS = {
    ("bidirectional", 0.0): [([], -2.1456921005297036)],
    ("bidirectional", 0.8): [
        ([], -2.1456921005297036),
        ([3, 8, 4, 3, 8, 4, 3], -14.000965083277555),
        ([3, 8, 4, 3, 8, 3, 8], -14.025126926538121),
        ([3, 8, 8, 4, 3, 8, 4], -14.052246503553322),
        ([3, 8, 4, 3, 3, 8, 4], -14.057085886269897),
    ],
    ("embed", 0.0): [([], -2.059204126293392), ([3], -3.736277610422552), ([6], -3.8840915168134424)],
    ("embed", 0.8): [
        ([], -2.059204126293392),
        ([3], -3.736277610422552),
        ([6], -3.8840915168134424),
        ([6, 6], -5.655772314725969),
        ([3, 6], -5.799549426156005),
        ([4, 6], -5.835802642405446),
        ([7, 6], -5.8974334702982105),
    ],
    ("one_layer", 0.0): [
        ([5, 7, 7, 7, 5, 7, 7], -12.575288155116237),
        ([5, 7, 7, 5, 7, 7, 5], -12.593452800375148),
        ([6, 7, 7, 7, 5, 7, 7], -12.6224758471754),
        ([5, 7, 7, 5, 7, 7, 7], -12.635386938663494),
    ],
    ("one_layer", 0.8): [
        ([5, 7, 7, 7, 5, 7, 7], -12.575288155116237),
        ([5, 7, 7, 5, 7, 7, 5], -12.593452800375148),
        ([6, 7, 7, 7, 5, 7, 7], -12.6224758471754),
        ([5, 7, 7, 5, 7, 7, 7], -12.635386938663494),
    ],
}


def _lm():
    return CharRNN(ModelConfig(vocab_size=11, hidden=16, layers=2), seed=3, dtype=F64)


PRIME = np.array([1, 4, 2])


@pytest.mark.parametrize("settings", sorted(LM_SAMPLE, key=str))
def test_lm_sample(settings):
    temperature, top_k, top_p, greedy, seed = settings
    assert lm_sample(_lm(), PRIME, 40, temperature, top_k, top_p, greedy, seed) == LM_SAMPLE[settings]


@pytest.mark.parametrize("beam", sorted(LM_BEAM))
def test_lm_beam_search(beam):
    ids, score = lm_beam_search(_lm(), PRIME, 20, beam)
    assert ids == LM_BEAM[beam][0]
    assert score == pytest.approx(LM_BEAM[beam][1], rel=1e-12)


def _generator(autoregressive):
    cfg = GeneratorConfig(vocab_size=9, num_labels=3, hidden=12, layers=2, autoregressive=autoregressive)
    m = ConditionedGenerator(cfg, seed=6, dtype=F64)
    m.banned = RECORDED_BANNED
    return m


COND = np.array([0, 1, 2, 1, 0, 2])


@pytest.mark.parametrize("settings", sorted(GEN_SAMPLE, key=str))
def test_generator_sample(settings):
    autoregressive, temperature, top_k, seed = settings
    got = generator_sample(
        _generator(autoregressive), COND, 10, np.random.default_rng(seed), temperature, top_k
    )
    assert got == GEN_SAMPLE[settings]


@pytest.mark.parametrize("autoregressive", [False, True])
def test_generator_greedy(autoregressive):
    seqs, scores = generator_greedy(_generator(autoregressive), COND, 10)
    assert seqs == GEN_GREEDY[autoregressive][0]
    np.testing.assert_allclose(scores, GEN_GREEDY[autoregressive][1], rtol=1e-12)


SEQ2SEQ = {"bidirectional": dict(bidirectional=True), "embed": dict(embed=5), "one_layer": dict(layers=1)}


def _seq2seq(name):
    """The model and a padded batch of 4 sources, as the values were recorded (one rng, in order)."""
    rng = np.random.default_rng(0)
    for n in SEQ2SEQ:
        srcs = [list(rng.integers(4, 8, size=k)) for k in (3, 5, 2, 4)]
        if n == name:
            break
    cfg = Seq2SeqConfig(src_vocab_size=8, tgt_vocab_size=9, hidden=10, **{"layers": 2, **SEQ2SEQ[name]})
    src, lengths, _ = pad_batch(srcs)
    m = Seq2Seq(cfg, seed=2, dtype=F64)
    m.banned = RECORDED_BANNED
    return m, src, lengths


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_seq2seq_decode_greedy(name):
    m, src, lengths = _seq2seq(name)
    seqs, scores = seq2seq_decode(m, src, src_lengths=lengths, max_len=9)
    assert seqs == S2S_GREEDY[name][0]
    np.testing.assert_allclose(scores, S2S_GREEDY[name][1], rtol=1e-12)


@pytest.mark.parametrize("name,beam", sorted(S2S_BEAM))
def test_seq2seq_decode_beam(name, beam):
    m, src, lengths = _seq2seq(name)
    seqs, scores = seq2seq_decode(m, src, src_lengths=lengths, beam=beam, max_len=9)
    assert seqs == S2S_BEAM[name, beam][0]
    np.testing.assert_allclose(scores, S2S_BEAM[name, beam][1], rtol=1e-12)


@pytest.mark.parametrize("name,length_penalty", sorted(S2S_HYPS))
def test_seq2seq_beam_search_hypotheses(name, length_penalty):
    m, src, _ = _seq2seq(name)
    hyps = seq2seq_beam_search(m, src[:3, :1], beam=4, max_len=7, length_penalty=length_penalty)
    expected = S2S_HYPS[name, length_penalty]
    assert [h for h, _ in hyps] == [h for h, _ in expected]
    np.testing.assert_allclose([s for _, s in hyps], [s for _, s in expected], rtol=1e-12)


def test_lm_beam_search_refuses_an_empty_prime():
    """The first step's distribution is the prime's last character's: no prime, one line."""
    with pytest.raises(RnnkitError, match="prime must hold at least one character"):
        lm_beam_search(_lm(), np.array([], dtype=np.int64), 5, 2)
