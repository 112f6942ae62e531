"""Issue 15, part B: limits on settings and model size.

- Training refuses, in one line with the estimate and the limit, a model that would not fit
  in memory (``memory_budget``; the memory available is faked here) or in --max-memory.
- Loaders compare a checkpoint's configuration with its tensors' shapes before building.
- Every float flag is finite and in range; --seed is non-negative; refused before --out exists.
- The weights are checked after each update, and a run that saved nothing exits non-zero.
- Sampling flags are consistent: --greedy with --beam, a negative --top-k, --top 0 are refused.

All in-process (``cli.main``) with tiny models.
"""

from __future__ import annotations

import hashlib
import json
import random

import numpy as np
import pytest
from helpers import write_text

from rnnkit import cli
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.generator import ConditionedGenerator, GeneratorConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.shapes import model_parts, param_count, param_shapes, tensor_count
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.train import checkpoint as ckpt
from rnnkit.train import memory_budget

LM = ["--hidden", "8", "--layers", "1", "--batch", "4", "--seq-len", "16", "--no-progress", "--warmup", "0"]
TASK = ["--hidden", "8", "--batch", "8", "--no-progress"]
GiB = 2**30


def _tsv(path, verb, n=30):
    rnd = random.Random(0)
    lines = []
    for _ in range(n):
        lab = rnd.choice("AB")
        word = "".join(rnd.choice("abcde" if lab == "A" else "vwxyz") for _ in range(rnd.randint(2, 6)))
        lines.append(f"{word}\t{lab}" if verb == "classify" else f"{lab}\t{word}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _main(argv, capsys):
    capsys.readouterr()
    rc = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def assert_refused(argv, capsys, *needles):
    """Exit 2 and one line on stderr holding every needle; returns the line."""
    rc, out, err = _main(argv, capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, (rc, err)
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A corpus, a finished LM run, and finished classify and generate runs (2 steps each)."""
    root = tmp_path_factory.mktemp("limits")
    corpus = write_text(root / "corpus.txt", 600, seed=3)
    cls, gen = _tsv(root / "cls.tsv", "classify"), _tsv(root / "gen.tsv", "generate")
    assert cli.main([str(a) for a in ["train", corpus, "--out", root / "lm", *LM, "--max-steps", "2"]]) == 0
    assert (
        cli.main(
            [str(a) for a in ["classify", "train", cls, "--out", root / "cls", *TASK, "--max-steps", "2"]]
        )
        == 0
    )
    assert (
        cli.main(
            [str(a) for a in ["generate", "train", gen, "--out", root / "gen", *TASK, "--max-steps", "2"]]
        )
        == 0
    )
    return root


@pytest.fixture
def fake_memory(monkeypatch):
    """Set the memory the system reports as available (MemAvailable), in bytes."""

    def set_to(n):
        monkeypatch.setattr(memory_budget, "available_bytes", lambda: n)

    return set_to


# ---------------------------------------------------------------------------- model size
@pytest.mark.parametrize("hidden", ["100000000", "50000"])
def test_huge_hidden_refused_in_one_line_before_out(runs, tmp_path, capsys, fake_memory, hidden):
    """Was: OOM-killed (exit 137) or a MemoryError traceback."""
    fake_memory(8 * GiB)
    out = tmp_path / "big"
    line = assert_refused(
        ["train", runs / "corpus.txt", "--out", out, *LM, "--hidden", hidden],
        capsys,
        "GiB to train",
        "more than the 8.0 GiB of memory available",
        "--max-memory",
    )
    assert not out.exists(), line
    assert_refused(
        ["classify", "train", runs / "cls.tsv", "--out", out, *TASK, "--hidden", hidden],
        capsys,
        "GiB to train",
        "8.0 GiB of memory available",
    )
    assert not out.exists()


def test_layers_ten_million_refused(runs, tmp_path, capsys, fake_memory):
    fake_memory(8 * GiB)
    for verb in (["train", runs / "corpus.txt", *LM], ["classify", "train", runs / "cls.tsv", *TASK]):
        assert_refused([*verb, "--out", tmp_path / "deep", "--layers", "10000000"], capsys, "GiB to train")
    assert not (tmp_path / "deep").exists()


def test_exact_estimate_checked_once_the_vocabulary_is_known(runs, tmp_path, capsys, fake_memory):
    """Memory just above the lower bound checked with the flags (the stack alone, one step of
    one sequence): the full estimate (input weights over the vocabulary, head, activations) is
    refused once the data is read, still before --out is created, in both trainers."""
    from rnnkit.models.shapes import stack

    lower = sum(memory_budget.training_bytes([stack("rnn.", 1, 400, 1)], 1, 1, "adam"))
    fake_memory(lower + 2**16)  # the input weights alone add 400 x V x 44 bytes > 64 KiB
    out = tmp_path / "mid"
    assert_refused(
        ["train", runs / "corpus.txt", "--out", out, *LM, "--hidden", "400"],
        capsys,
        "activations of one step",
        "MiB of memory available",
    )
    assert_refused(
        ["classify", "train", runs / "cls.tsv", "--out", out, *TASK, "--hidden", "400"],
        capsys,
        "activations of one step",
        "MiB of memory available",
    )
    assert not out.exists()
    fake_memory(lower + 2**24)  # 16 MiB more: fits
    rc, _, err = _main(
        ["classify", "train", runs / "cls.tsv", "--out", out, *TASK, "--hidden", "400", "--max-steps", "1"],
        capsys,
    )
    assert rc == 0, err


def test_max_memory_is_the_limit_when_given(runs, tmp_path, capsys, fake_memory):
    fake_memory(1024)  # 1 KiB: even the tiny model is refused ...
    assert_refused(
        ["train", runs / "corpus.txt", "--out", tmp_path / "a", *LM, "--max-steps", "1"],
        capsys,
        "0.0 MiB of memory available",
    )
    # ... unless the user raises the limit
    rc, _, err = _main(
        ["train", runs / "corpus.txt", "--out", tmp_path / "a", *LM, "--max-steps", "1", "--max-memory", "1"],
        capsys,
    )
    assert rc == 0, err
    rc, _, err = _main(
        [
            "classify",
            "train",
            runs / "cls.tsv",
            "--out",
            tmp_path / "c",
            *TASK,
            "--max-steps",
            "1",
            "--max-memory",
            "1",
        ],
        capsys,
    )
    assert rc == 0, err
    fake_memory(64 * GiB)  # and a --max-memory below the model refuses it
    assert_refused(
        ["train", runs / "corpus.txt", "--out", tmp_path / "b", *LM, "--max-memory", "1e-6"],
        capsys,
        "more than --max-memory 1e-06 GiB",
    )
    for bad in ("nan", "-1", "inf"):
        assert_refused(
            ["train", runs / "corpus.txt", "--out", tmp_path / "b", *LM, "--max-memory", bad],
            capsys,
            "--max-memory",
        )
    assert not (tmp_path / "b").exists()


def test_memory_estimate_formula():
    """bytes = 4 (k P + A), k = 11 for Adam, 8 for SGD; A = T B (3 L dirs H + 3 V + 2 E)."""
    cfg = ModelConfig(vocab_size=10, hidden=6, layers=2, embed=4)
    parts = model_parts(cfg)
    P = 10 * 4 + (6 * 4 + 36 + 12) + (36 + 36 + 12) + (6 * 10 + 10)
    assert param_count(parts) == P == len(CharRNN(cfg).flat)
    params, acts = memory_budget.training_bytes(parts, 5, 3, "adam")
    assert params == 4 * 11 * P and acts == 4 * 5 * 3 * (3 * 2 * 6 + 3 * 10 + 2 * 4)
    assert memory_budget.training_bytes(parts, 5, 3, "sgd")[0] == 4 * 8 * P


def test_available_bytes_reads_meminfo():
    n = memory_budget.available_bytes()
    assert n is None or n > 0


MODELS = [
    (CharRNN, ModelConfig(vocab_size=7, hidden=5, layers=3)),
    (CharRNN, ModelConfig(vocab_size=7, hidden=5, layers=2, embed=3)),
    (
        SequenceClassifier,
        ClassifierConfig(vocab_size=6, num_classes=3, hidden=4, layers=2, bidirectional=True),
    ),
    (SequenceClassifier, ClassifierConfig(vocab_size=6, num_classes=3, hidden=4, embed=2)),
    (SequenceTagger, TaggerConfig(vocab_size=6, num_tags=2, hidden=4, layers=3, bidirectional=True, embed=5)),
    (ConditionedGenerator, GeneratorConfig(vocab_size=9, num_labels=3, hidden=4, layers=2)),
    (
        ConditionedGenerator,
        GeneratorConfig(vocab_size=9, num_labels=3, cond_embed=2, autoregressive=True, embed=3, hidden=4),
    ),
    (ConditionedGenerator, GeneratorConfig(vocab_size=9, feature_dim=5, autoregressive=True, hidden=4)),
    (Seq2Seq, Seq2SeqConfig(src_vocab_size=6, tgt_vocab_size=8, hidden=4, layers=2, bidirectional=True)),
    (Seq2Seq, Seq2SeqConfig(src_vocab_size=6, tgt_vocab_size=8, hidden=4, embed=3)),
]


@pytest.mark.parametrize("i", range(len(MODELS)))
def test_shapes_from_the_config_match_the_built_model(i):
    """``model_shapes`` knows every model's tensors without building it: the same names and
    shapes, counts and parameter total as the real model."""
    cls, cfg = MODELS[i]
    flat = cls(cfg, seed=0).flat
    parts = model_parts(cfg)
    assert param_shapes(parts) == flat.shapes
    assert tensor_count(parts) == len(flat.names) and param_count(parts) == len(flat)


# ---------------------------------------------------------------------------- loaders
def _tamper(ckdir, **model):
    """Change config.json's model section and re-hash the manifest, as a hostile file would."""
    cfg = json.loads((ckdir / "config.json").read_text())
    cfg["model"].update(model)
    blob = json.dumps(cfg).encode()
    (ckdir / "config.json").write_bytes(blob)
    man = json.loads((ckdir / "manifest.json").read_text())
    man["files"]["config.json"] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (ckdir / "manifest.json").write_text(json.dumps(man))


@pytest.fixture
def no_build(monkeypatch):
    """Any model built from now on fails the test: the loaders must refuse before building."""
    import rnnkit.train.load_lm as lc
    import rnnkit.train.load_task as ct  # where load_task looks make_form up

    def boom(*a, **k):
        raise AssertionError("a model was built before its configuration was checked")

    monkeypatch.setattr(lc, "build_lm", boom)
    make_form = ct.make_form

    def form_that_cannot_build(verb, cfg):
        form = make_form(verb, cfg)
        form.build_model = boom
        return form

    monkeypatch.setattr(ct, "make_form", form_that_cannot_build)


@pytest.mark.parametrize("change", [{"hidden": 1_000_000_000}, {"layers": 10_000_000}, {"embed": 3}])
def test_lm_loaders_compare_config_with_tensor_shapes_first(runs, tmp_path, capsys, no_build, change):
    import shutil

    ck = tmp_path / "ck"
    shutil.copytree((runs / "lm" / "last").resolve(), ck)
    _tamper(ck, **change)
    for argv in (
        ["sample", ck, "--length", "5"],
        ["eval", ck, runs / "corpus.txt"],
        ["inspect", ck, "--text", runs / "corpus.txt", "--html", tmp_path / "u.html"],
        ["gradflow", ck, "--steps", "4", "-o", tmp_path / "g.png"],
    ):
        assert_refused(argv, capsys, f"checkpoint {ck}", "config.json")


@pytest.mark.parametrize("change", [{"hidden": 1_000_000_000}, {"layers": 10_000_000}])
def test_task_loaders_compare_config_with_tensor_shapes_first(runs, tmp_path, capsys, no_build, change):
    import shutil

    ck = tmp_path / "ck"
    shutil.copytree((runs / "cls" / "last").resolve(), ck)
    _tamper(ck, **change)
    assert_refused(["classify", "predict", ck, "abc"], capsys, f"checkpoint {ck}", "config.json")
    assert_refused(["classify", "eval", ck, runs / "cls.tsv"], capsys, f"checkpoint {ck}", "config.json")


# ---------------------------------------------------------------------------- flags
def test_negative_seed_is_one_line(runs, tmp_path, capsys):
    """Was a NumPy traceback in every one of these verbs."""
    assert_refused(
        ["train", runs / "corpus.txt", "--out", tmp_path / "s", *LM, "--seed", "-1"], capsys, "--seed", "-1"
    )
    assert_refused(
        ["classify", "train", runs / "cls.tsv", "--out", tmp_path / "s", *TASK, "--seed", "-1"],
        capsys,
        "--seed",
    )
    assert not (tmp_path / "s").exists()
    assert_refused(["sample", runs / "lm", "--seed", "-1", "--length", "3"], capsys, "--seed")
    assert_refused(["generate", "sample", runs / "gen", "--label", "A", "--seed", "-1"], capsys, "--seed")
    assert_refused(
        ["gradflow", "--fresh", "--hidden", "4", "--steps", "4", "--seed", "-1", "-o", tmp_path / "g.png"],
        capsys,
        "--seed",
    )


FLOAT_CASES = [
    ("--lr", "inf"),
    ("--lr", "1e300"),
    ("--lr", "nan"),
    ("--min-lr", "nan"),
    ("--min-lr", "1e300"),
    ("--weight-decay", "nan"),
    ("--weight-decay", "1e9"),
    ("--beta2", "1"),
    ("--beta2", "nan"),
    ("--gamma", "inf"),
    ("--gamma", "2"),
    ("--gamma", "nan"),
    ("--momentum", "nan"),
    ("--clip", "inf"),
    ("--dropout", "nan"),
    ("--minutes", "nan"),
    ("--minutes", "inf"),
    ("--val-fraction", "nan"),
]


@pytest.mark.parametrize("flag,value", FLOAT_CASES)
def test_float_flags_finite_and_in_range(runs, tmp_path, capsys, flag, value):
    """Was: accepted, and the weights became NaN (or a traceback for --minutes nan)."""
    out = tmp_path / "f"
    assert_refused(["train", runs / "corpus.txt", "--out", out, *LM, flag, value], capsys, flag)
    assert_refused(["classify", "train", runs / "cls.tsv", "--out", out, *TASK, flag, value], capsys, flag)
    assert not out.exists()


def test_resume_with_minutes_nan_is_one_line(runs, capsys):
    assert_refused(["train", "--resume", runs / "lm", "--minutes", "nan"], capsys, "--minutes", "finite")
    assert_refused(
        ["classify", "train", "--resume", runs / "cls", "--minutes", "nan"], capsys, "--minutes", "finite"
    )
    assert_refused(["train", "--resume", runs / "lm", "--lr", "inf"], capsys, "--lr")


# ---------------------------------------------------------------------------- failed runs
def test_weights_checked_after_the_update(runs, tmp_path, capsys):
    """AdamW with lr x weight decay = 1e4 multiplies every weight by about -1e4 per step: the
    gradient stays finite but the weights overflow. The run stops at that step with exit 1,
    and the checkpoint saved before it stays the last one (finite)."""
    out = tmp_path / "div"
    rc, _, err = _main(
        [
            "train",
            runs / "corpus.txt",
            "--out",
            out,
            *LM,
            "--optimizer",
            "adamw",
            "--lr",
            "100",
            "--weight-decay",
            "100",
            "--max-steps",
            "30",
            "--eval-every",
            "3",
        ],
        capsys,
    )
    assert rc == 1 and "the weights became NaN or Inf in the update at step" in err, err
    assert f"the last good checkpoint is kept in {out / 'last'}" in err
    from safetensors.numpy import load_file

    w = load_file((out / "last" / "model.safetensors").resolve())
    assert all(np.isfinite(v).all() for v in w.values())
    out = tmp_path / "divc"
    rc, _, err = _main(
        [
            "classify",
            "train",
            runs / "cls.tsv",
            "--out",
            out,
            *TASK,
            "--optimizer",
            "adamw",
            "--lr",
            "100",
            "--weight-decay",
            "100",
            "--max-steps",
            "30",
        ],
        capsys,
    )
    assert rc == 1 and "the weights became NaN or Inf" in err and "no checkpoint had been saved yet" in err, (
        err
    )
    assert not ckpt.has_checkpoint(out)


@pytest.mark.parametrize("verb", ["train", "classify"])
def test_a_run_that_saved_nothing_exits_nonzero(runs, tmp_path, capsys, monkeypatch, verb):
    """Was: ``done at step 5: best val inf ...; checkpoints in mn/best and mn/last`` and exit 0,
    with no checkpoint. Every save is refused here (as for non-finite optimizer state)."""

    def refuse(*a, **k):
        raise ckpt.NonFiniteCheckpoint("optim.m holds NaN or Inf; checkpoint not written")

    monkeypatch.setattr(ckpt, "save", refuse)
    out = tmp_path / "nothing"
    argv = (
        ["train", runs / "corpus.txt", *LM]
        if verb == "train"
        else ["classify", "train", runs / "cls.tsv", *TASK]
    )
    rc, stdout, err = _main([*argv, "--out", out, "--max-steps", "3"], capsys)
    assert rc == 1, (stdout, err)
    assert "the run ended at step 3 without saving a checkpoint" in err and "done at step" not in stdout
    assert not ckpt.has_checkpoint(out)


# ---------------------------------------------------------------------------- sampling flags
def test_sampling_flags_are_consistent(runs, capsys):
    assert_refused(
        ["sample", runs / "lm", "--greedy", "--beam", "3", "--length", "3"], capsys, "--greedy", "--beam"
    )
    assert_refused(["sample", runs / "lm", "--temperature", "inf"], capsys, "--temperature", "finite")
    assert_refused(["sample", runs / "lm", "--temperature", "nan"], capsys, "--temperature")
    assert_refused(["generate", "sample", runs / "gen", "--label", "A", "--top-k", "-4"], capsys, "--top-k")
    assert_refused(
        ["generate", "sample", runs / "gen", "--label", "A", "--temperature", "nan"], capsys, "--temperature"
    )
    assert_refused(
        ["classify", "predict", runs / "cls", "abc", "--top", "0"], capsys, "--top must be at least 1"
    )
    rc, out, err = _main(["classify", "predict", runs / "cls", "abc", "--top", "2"], capsys)
    assert rc == 0 and len(out.split("\t")) == 5 and out.startswith("abc\t"), err  # the input, 2 pairs


def test_weights_finite_on_numpy_and_torch_buffers():
    """The check after each update, on the NumPy engine's flat buffer and on a torch tensor
    (the GPU engine's ``DeviceFlat.data``; a CPU tensor here)."""
    from types import SimpleNamespace

    from rnnkit.train.nonfinite import weights_finite

    a = np.full(1000, 3e38, dtype=np.float32)  # finite, though its float32 sum is not
    assert weights_finite(SimpleNamespace(data=a))
    for bad in (np.inf, -np.inf, np.nan):
        b = a.copy()
        b[7] = bad
        assert not weights_finite(SimpleNamespace(data=b))
    torch = pytest.importorskip("torch")
    t = torch.ones(10)
    assert weights_finite(SimpleNamespace(data=t))
    t[3] = float("nan")
    assert not weights_finite(SimpleNamespace(data=t))


def test_seq2seq_max_len_below_one_refused(tmp_path, capsys):
    """Was: --max-len 0 silently meant the training default, and -3 printed empty targets."""
    data = tmp_path / "d.tsv"
    data.write_text(
        "".join(f"{w}\t{' '.join(reversed(w.upper()))}\n" for w in ["abc", "bca", "cab", "ab", "ba"] * 4)
    )
    run = tmp_path / "r"
    assert (
        cli.main(
            [
                str(a)
                for a in [
                    "seq2seq",
                    "train",
                    data,
                    "--out",
                    run,
                    *TASK,
                    "--max-steps",
                    "1",
                    "--target-tokens",
                    "words",
                ]
            ]
        )
        == 0
    )
    for m in ("0", "-3"):
        assert_refused(
            ["seq2seq", "predict", run, "abc", "--max-len", m],
            capsys,
            f"--max-len must be at least 1, got {m}",
        )
        assert_refused(["seq2seq", "eval", run, data, "--max-len", m], capsys, "--max-len must be at least 1")
