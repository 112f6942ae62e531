"""Issue 18, one sampling vocabulary and the generator's defaults.

- The form decoders never emit a special token: PAD, BOS and UNK are banned from sampling,
  greedy decoding and beam search alike (``BackboneConfig.never_emitted``); EOS ends a text.
- ``generate sample`` takes the flags of ``rnnkit sample``: --temperature (0 greedy), --top-k,
  --top-p, --greedy, --beam, --seed, and --prime for an autoregressive run.
- ``generate train`` trains the autoregressive form unless given --no-autoregressive, and a
  run keeps the form it was saved with.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from helpers import assert_one_line_error, rnnkit

from rnnkit.data.token_vocab import BOS, EOS, PAD, UNK
from rnnkit.decode.forms import generator_beam_search, generator_greedy, generator_sample, seq2seq_decode
from rnnkit.errors import RnnkitError
from rnnkit.models.generator import ConditionedGenerator, GeneratorConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

F64 = np.float64


def _generator(autoregressive=True, unk_bias=0.0):
    """A random generator; ``unk_bias`` > 0 makes UNK the most likely token and EOS unlikely,
    so that every text runs to its full length."""
    m = ConditionedGenerator(
        GeneratorConfig(vocab_size=9, num_labels=2, hidden=6, autoregressive=autoregressive),
        seed=2,
        dtype=F64,
    )
    m.head.params["bias"][[UNK, EOS]] += [unk_bias, -unk_bias]
    return m


# ------------------------------------------------------------------ special tokens
def test_the_form_models_ban_pad_bos_and_unk():
    assert _generator().banned == (PAD, BOS, UNK)
    assert Seq2Seq(Seq2SeqConfig(5, 7, hidden=4)).banned == (PAD, BOS, UNK)
    # UNK is banned only where it is a token other than EOS
    assert GeneratorConfig(vocab_size=3, num_labels=2).never_emitted(3) == (PAD, BOS)
    assert GeneratorConfig(vocab_size=9, num_labels=2, eos_id=UNK).never_emitted(9) == (PAD, BOS)


def test_decoders_never_emit_unk_even_where_it_is_the_most_likely_token():
    m, cond = _generator(unk_bias=50.0), np.array([0, 1, 1, 0])
    assert m.head.forward(np.zeros((1, 6)))[0].argmax() == UNK  # the bias wins every step
    outputs = [
        *generator_sample(m, cond, 12, np.random.default_rng(0)),
        *generator_sample(m, cond, 12, np.random.default_rng(0), 2.0, top_k=4, top_p=0.9),
        *generator_greedy(m, cond, 12)[0],
        *(ids for ids, _ in generator_beam_search(m, np.array([1]), 3, 12)),
    ]
    s2s = Seq2Seq(Seq2SeqConfig(6, 8, hidden=5), seed=1, dtype=F64)
    s2s.head.params["bias"][[UNK, EOS]] += [50.0, -50.0]
    src = np.array([[4, 5], [5, 4], [4, 4]])  # (S, B)
    outputs += seq2seq_decode(s2s, src, max_len=12)[0] + seq2seq_decode(s2s, src, beam=3, max_len=12)[0]
    assert len(outputs) >= 16 and all(len(o) == 12 for o in outputs)  # 12 tokens each ...
    assert not any(t in (PAD, BOS, UNK) for o in outputs for t in o)  # ... none of them special


# --------------------------------------------------------------------- the decoders
def test_a_prime_is_fed_before_decoding():
    """Greedy decoding after a prime of the greedy text's own first characters continues that
    same text: the prime is read as the model's own output would have been."""
    m, cond = _generator(), np.array([0, 1])
    m.head.params["bias"][EOS] -= 50.0  # no early end: texts of 10 characters
    full = generator_greedy(m, cond, 10)[0]
    for b, text in enumerate(full):
        assert len(text) == 10
        primed = generator_sample(m, cond[b : b + 1], 10, np.random.default_rng(0), 0.0, prime=text[:2])
        assert primed[0][:8] == text[2:]  # then 2 more: max_len counts after the prime


def test_a_prime_is_refused_for_the_plain_form():
    with pytest.raises(RnnkitError, match="autoregressive") as e:
        generator_sample(_generator(False), np.array([0]), 5, np.random.default_rng(0), prime=[4])
    assert "prime" in str(e.value)
    generator_sample(_generator(False), np.array([0]), 5, np.random.default_rng(0))  # no prime: fine


def test_beam_one_is_greedy_and_a_wider_beam_finds_no_worse():
    m = _generator()
    (ids, score), *_ = generator_beam_search(m, np.array([1]), 1, 10)
    seqs, scores = generator_greedy(m, np.array([1]), 10)
    assert ids == seqs[0] and score == pytest.approx(scores[0], rel=1e-12)
    assert generator_beam_search(m, np.array([1]), 4, 10)[0][1] >= score - 1e-12


def test_sampling_settings_are_checked_once_for_every_decoder():
    m, cond, rng = _generator(), np.array([0]), np.random.default_rng(0)
    for kw, needle in (
        (dict(temperature=-1.0), "non-negative"),
        (dict(temperature=float("inf")), "finite"),
        (dict(top_k=-1), "top_k"),
        (dict(top_p=0.0), r"\(0, 1\]"),
    ):
        with pytest.raises(RnnkitError, match=needle):
            generator_sample(m, cond, 5, rng, **kw)


# ---------------------------------------------------------------------------- the CLI
@pytest.fixture(scope="module")
def gen_runs(tmp_path_factory):
    """An undertrained generate run with the defaults (2 steps) and a --no-autoregressive one."""
    root = tmp_path_factory.mktemp("gen")
    rnd = random.Random(0)
    lines = []
    for _ in range(60):
        label = rnd.choice("AB")
        word = "".join(rnd.choice("abcde" if label == "A" else "vwxyz") for _ in range(rnd.randint(2, 6)))
        lines.append(f"{label}\t{word}")
    data = root / "gen.tsv"
    data.write_text("\n".join(lines) + "\n")
    common = ["--hidden", "12", "--batch", "8", "--max-steps", "2", "--no-progress", "--seed", "1"]
    for name, flags in (("ar", []), ("plain", ["--no-autoregressive"])):
        p = rnnkit("generate", "train", data, "--out", root / name, *common, *flags)
        assert p.returncode == 0, p.stderr
    return root


def _config(run) -> dict:
    return json.loads(((run / "last").resolve() / "config.json").read_text())


def test_generate_trains_the_autoregressive_form_unless_told_otherwise(gen_runs):
    assert _config(gen_runs / "ar")["model"]["autoregressive"] is True
    plain = gen_runs / "plain"
    assert _config(plain)["model"]["autoregressive"] is False
    # a run keeps the form it was saved with: resuming without the flag does not change it
    p = rnnkit("generate", "train", "--resume", plain, "--max-steps", "3", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert _config(plain)["model"]["autoregressive"] is False
    assert _config(plain)["train"]["autoregressive"] is False
    assert rnnkit("generate", "sample", plain, "--label", "B", "-n", "2", "--seed", "0").returncode == 0


def test_an_undertrained_model_never_writes_unk(gen_runs):
    args = ["generate", "sample", gen_runs / "ar", "--label", "A", "-n", "50", "--max-len", "30"]
    for extra in ([], ["--top-p", "0.95", "--temperature", "1.5"], ["--beam", "5"]):
        p = rnnkit(*args, "--seed", "0", *extra)
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() and "<unk>" not in p.stdout and "<" not in p.stdout, extra


def test_generate_sample_speaks_the_sampling_flags(gen_runs):
    args = ["generate", "sample", gen_runs / "ar", "--label", "A", "-n", "3", "--seed", "4"]
    greedy = rnnkit(*args, "--greedy")
    assert greedy.returncode == 0 and greedy.stdout == rnnkit(*args, "--temperature", "0").stdout
    assert len(set(greedy.stdout.splitlines())) == 1  # greedy: one text, three times
    primed = rnnkit(*args, "--prime", "ab").stdout.splitlines()
    assert len(primed) == 3 and all(t.startswith("ab") for t in primed)
    # beam search: the -n most probable texts it found (an undertrained model: maybe fewer)
    beam = rnnkit(*args, "--beam", "4", "-n", "2").stdout.splitlines()
    assert 1 <= len(beam) <= 2 and beam[:1] == rnnkit(*args, "--beam", "4", "-n", "1").stdout.splitlines()
    top_p = rnnkit(*args, "--top-p", "0.5")
    assert top_p.returncode == 0 and len(top_p.stdout.splitlines()) == 3
    assert_one_line_error(rnnkit(*args, "--greedy", "--beam", "2"), "--greedy", "--beam")
    assert_one_line_error(rnnkit(*args, "--top-p", "0"), "--top-p", "(0, 1]")
    assert_one_line_error(rnnkit(*args, "--beam", "-1"), "--beam")
    assert_one_line_error(rnnkit(*args, "--prime", "aQ"), "--prime", "'Q' (U+0051)")
    plain = ["generate", "sample", gen_runs / "plain", "--label", "A"]
    assert_one_line_error(rnnkit(*plain, "--prime", "ab"), "--prime", "autoregressive")


def test_the_sampling_flags_are_declared_once():
    from rnnkit.cli import build_parser

    def sampling_flags(*verb):
        p = build_parser()
        sub = p._subparsers._group_actions[0].choices[verb[0]]
        if len(verb) > 1:
            sub = sub._subparsers._group_actions[0].choices[verb[1]]
        group = next(g for g in sub._action_groups if g.title == "sampling")
        return [a.option_strings for a in group._group_actions]

    expected = [
        ["--prime"],
        ["--temperature"],
        ["--top-k"],
        ["--top-p"],
        ["--greedy"],
        ["--beam"],
        ["--seed"],
    ]
    assert sampling_flags("sample") == sampling_flags("generate", "sample") == expected
