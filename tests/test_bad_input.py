"""Issue 4, item 5: bad input gets one clear line on stderr, exit status 2, no traceback,
and nothing is overwritten — neither an existing run given as ``--out`` (even with
``--force``) nor anything else; a new ``--out`` is not even created.

Checkpoint damage (truncated, tampered, newer format, other task or model) is covered in
``test_checkpoint_safety.py``.
"""

from __future__ import annotations

import json

import pytest
from helpers import TINY, assert_one_line_error, rnnkit, snapshot, write_text

from rnnkit import cli


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A good text, a finished run, and a gallery of bad inputs."""
    root = tmp_path_factory.mktemp("bad")
    good = write_text(root / "good.txt", 1500, seed=5)
    run = root / "run"
    p = rnnkit("train", good, "--out", run, *TINY, "--max-steps", "10", "--val-chars", "300")
    assert p.returncode == 0, p.stderr
    (root / "notext").mkdir()
    (root / "notext" / "image.png").write_bytes(b"\x89PNG\r\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "short.txt").write_text("abcdefghijklmnopqrstuvwxyz" * 2)  # 52 chars: 47 train, 5 val
    (root / "tiny.txt").write_text("abcdefghij")  # 10 chars: 1 for validation
    prefix = ("hello wörld " * 200).encode()  # 2,600 bytes of valid UTF-8
    (root / "latin1.txt").write_bytes(prefix + "café".encode("latin-1") + b" more text" * 50)
    (root / "binary.bin").write_bytes(b"ELF\x02\x01" + bytes(range(256)) * 4)
    (root / "bigvocab.txt").write_text("".join(chr(0x4E00 + i) for i in range(300)) * 3, encoding="utf-8")
    (root / "unknown.txt").write_text("the cat sat on the ZEBRA", encoding="utf-8")
    return root, good, run


def _bad_offset(root):
    return len(("hello wörld " * 200).encode()) + 3  # the é of café in Latin-1


TRAIN_CASES = {
    "missing file": (["{root}/nope.txt"], ["no such file or directory", "nope.txt"]),
    "missing directory": (["{root}/nodir/"], ["no such file or directory", "nodir"]),
    "directory with no text": (["{root}/notext"], ["holds no text files"]),
    "empty file": (["{root}/empty.txt"], ["empty", "empty.txt"]),
    "too short for one batch": (
        ["{root}/short.txt", "--batch", "64"],
        ["too short for one batch", "--batch"],
    ),
    "too short for validation": (["{root}/tiny.txt"], ["validation split", "1 characters"]),
    "empty validation file": (
        ["{root}/good.txt", "--val", "{root}/empty.txt"],
        ["validation split", "0 characters"],
    ),
    "invalid utf-8": (
        ["{root}/latin1.txt"],
        ["latin1.txt", "not valid UTF-8", "byte offset {offset}", "--encoding-errors replace"],
    ),
    "binary": (["{root}/binary.bin"], ["binary.bin", "binary"]),
    "negative hidden": (["{root}/good.txt", "--hidden", "-3"], ["--hidden", "positive"]),
    "zero batch": (["{root}/good.txt", "--batch", "0"], ["--batch", "positive"]),
    "zero seq-len": (["{root}/good.txt", "--seq-len", "0"], ["--seq-len"]),
    "zero layers": (["{root}/good.txt", "--layers", "0"], ["--layers"]),
    "negative embed": (["{root}/good.txt", "--embed", "-1"], ["--embed"]),
    "zero lr": (["{root}/good.txt", "--lr", "0"], ["--lr"]),
    "dropout 1": (["{root}/good.txt", "--dropout", "1"], ["--dropout"]),
    "val fraction 0": (["{root}/good.txt", "--val-fraction", "0"], ["--val-fraction"]),
    "not a number": (["{root}/good.txt", "--hidden", "lots"], ["--hidden", "invalid int"]),
    "unknown optimizer": (["{root}/good.txt", "--optimizer", "magic"], ["--optimizer", "invalid choice"]),
}


def _fmt(args, root):
    return [a.format(root=root, offset=_bad_offset(root)) for a in args]


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_train_bad_input_overwrites_nothing(world, case):
    """Against an existing run with --force: the run must survive a refused start."""
    root, good, run = world
    args, needles = TRAIN_CASES[case]
    before = snapshot(run)
    p = rnnkit("train", "--out", run, "--force", *TINY, *_fmt(args, root))
    assert_one_line_error(p, *_fmt(needles, root))
    assert snapshot(run) == before


@pytest.mark.parametrize(
    "case", ["missing file", "invalid utf-8", "too short for one batch", "negative hidden"]
)
def test_train_bad_input_creates_no_out_dir(world, tmp_path, case):
    root, _, _ = world
    args, needles = TRAIN_CASES[case]
    assert_one_line_error(
        rnnkit("train", "--out", tmp_path / "new", *TINY, *_fmt(args, root)), *_fmt(needles, root)
    )
    assert not (tmp_path / "new").exists()


def test_invalid_utf8_can_be_replaced_on_request(world, tmp_path):
    root, _, _ = world
    p = rnnkit(
        "train",
        root / "latin1.txt",
        "--encoding-errors",
        "replace",
        "--out",
        tmp_path / "r",
        *TINY,
        "--max-steps",
        "2",
        "--val-chars",
        "100",
    )
    assert p.returncode == 0, p.stderr
    assert "\ufffd" in json.loads((tmp_path / "r" / "data" / "vocab.json").read_text())["chars"]


def test_vocabulary_above_the_limit_warns_with_the_count(world, tmp_path):
    root, _, _ = world
    p = rnnkit(
        "train",
        root / "bigvocab.txt",
        "--out",
        tmp_path / "v",
        *TINY,
        "--max-steps",
        "1",
        "--vocab-limit",
        "100",
        "--val-chars",
        "50",
        "--batch",
        "2",
    )
    assert p.returncode == 0, p.stderr
    warn = [l for l in p.stderr.splitlines() if "warning" in l]
    assert len(warn) == 1 and "300 distinct characters" in warn[0] and "--vocab-limit 100" in warn[0]
    p = rnnkit(
        "train",
        root / "bigvocab.txt",
        "--out",
        tmp_path / "v2",
        *TINY,
        "--max-steps",
        "1",
        "--val-chars",
        "50",
        "--batch",
        "2",
    )  # default limit 1000: quiet
    assert p.returncode == 0 and "warning" not in p.stderr


# ----------------------------------------------------------------------- --out safety
def test_out_onto_a_foreign_directory(world, tmp_path):
    root, good, _ = world
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    before = snapshot(mine)
    assert_one_line_error(rnnkit("train", good, "--out", mine, *TINY), "not an rnnkit run", "--force")
    assert snapshot(mine) == before
    (mine / "data").mkdir()  # a name rnnkit would write
    (mine / "data" / "x.csv").write_text("1,2")
    before = snapshot(mine)
    assert_one_line_error(rnnkit("train", good, "--out", mine, *TINY, "--force"), "holds data", "overwrite")
    assert snapshot(mine) == before
    (mine / "data" / "x.csv").unlink()
    (mine / "data").rmdir()
    p = rnnkit("train", good, "--out", mine, *TINY, "--force", "--max-steps", "2", "--val-chars", "100")
    assert p.returncode == 0, p.stderr
    assert (mine / "thesis.tex").read_text() == "precious"  # --force kept the user's file
    assert (mine / "last" / "manifest.json").is_file()


def test_out_onto_an_existing_run_or_a_file(world, tmp_path):
    root, good, run = world
    before = snapshot(run)
    assert_one_line_error(rnnkit("train", good, "--out", run, *TINY), "already holds a run", "--resume")
    assert snapshot(run) == before
    f = tmp_path / "file"
    f.write_text("x")
    assert_one_line_error(rnnkit("train", good, "--out", f, *TINY), "not a directory")
    assert f.read_text() == "x"


def test_force_on_a_run_keeps_foreign_files(world, tmp_path):
    root, good, _ = world
    run = tmp_path / "run"
    assert (
        rnnkit("train", good, "--out", run, *TINY, "--max-steps", "2", "--val-chars", "100").returncode == 0
    )
    (run / "notes.txt").write_text("mine")
    p = rnnkit("train", good, "--out", run, *TINY, "--force", "--max-steps", "3", "--val-chars", "100")
    assert p.returncode == 0, p.stderr
    assert (run / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (run / "ckpt").iterdir()) == ["step-00000003"]


# ------------------------------------------------------------------- eval and sample
def _main(argv, capsys):
    try:
        rc = cli.main([str(a) for a in argv])
    except SystemExit as e:  # argparse errors
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


SAMPLE_CASES = {
    "prime outside vocabulary": (
        ["--prime", "Zebra\u2603"],
        ["--prime", "'Z' (U+005A)", "'\u2603' (U+2603)"],
    ),
    "empty prime": (["--prime", ""], ["--prime"]),
    "temperature negative": (["--temperature", "-1"], ["--temperature", "non-negative"]),
    "top-p 0": (["--top-p", "0"], ["--top-p", "(0, 1]"]),
    "top-p above 1": (["--top-p", "1.5"], ["--top-p"]),
    "negative length": (["--length", "-5"], ["--length"]),
    "negative top-k": (["--top-k", "-1"], ["--top-k"]),
}


@pytest.mark.parametrize("case", list(SAMPLE_CASES))
def test_sample_bad_input(world, capsys, case):
    _, _, run = world
    args, needles = SAMPLE_CASES[case]
    rc, out, err = _main(["sample", run, *args], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err


def test_greedy_allows_temperature_zero(world, capsys):
    _, _, run = world
    rc, out, err = _main(
        ["sample", run, "--greedy", "--temperature", "0", "--length", "5", "--prime", "the"], capsys
    )
    assert rc == 0 and out.startswith("the")


def test_temperature_zero_is_greedy(world, capsys):
    """Issue 18: temperature 0 means greedy in every verb; `rnnkit sample` used to refuse it."""
    _, _, run = world
    args = ["sample", run, "--length", "12", "--prime", "the"]
    rc, zero, err = _main([*args, "--temperature", "0"], capsys)
    assert rc == 0, err
    assert zero == _main([*args, "--greedy"], capsys)[1] and zero.startswith("the")


def test_eval_bad_input(world):
    root, good, run = world
    assert_one_line_error(
        rnnkit("eval", run, root / "unknown.txt"), "unknown.txt", "'Z' (U+005A)", "vocabulary"
    )
    assert_one_line_error(rnnkit("eval", run, root / "missing.txt"), "no such file")
    assert_one_line_error(
        rnnkit("eval", run, root / "latin1.txt"), "byte offset", "--encoding-errors replace"
    )
    assert_one_line_error(rnnkit("eval", run, root / "binary.bin"), "binary")
    assert_one_line_error(rnnkit("eval", run, root / "empty.txt"), "at least 2")
    assert_one_line_error(rnnkit("eval", root / "notext", good), "holds no checkpoint")
    # A subprocess run of sample, to see the real stderr of an unknown prime.
    assert_one_line_error(rnnkit("sample", run, "--prime", "Q"), "'Q' (U+0051)")


# ------------------------------------------------------------------------ task verbs
def test_tsv_with_the_wrong_number_of_fields_names_the_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("good cat\tpos\nbad dog\tneg\nno tab here\nx\ty\n", encoding="utf-8")
    assert_one_line_error(
        rnnkit("classify", "train", bad, "--out", tmp_path / "new", "--no-progress"),
        "bad.tsv:3",
        "expected 2 tab-separated fields",
        "found 1",
    )
    assert not (tmp_path / "new").exists()
    bad.write_text("a\tb\tc\n", encoding="utf-8")
    assert_one_line_error(
        rnnkit("seq2seq", "train", bad, "--out", tmp_path / "new", "--no-progress"), "bad.tsv:1", "found 3"
    )


def test_tags_of_the_wrong_length(tmp_path):
    bad = tmp_path / "tags.tsv"
    bad.write_text("ab c\tWWSW\nabc\tWW\n", encoding="utf-8")
    assert_one_line_error(
        rnnkit("tag", "train", bad, "--out", tmp_path / "new", "--no-progress"),
        "tags.tsv:2",
        "text has 3 characters, tags has 2",
    )
    assert not (tmp_path / "new").exists()


def test_checkpoint_of_another_task(world, tmp_path):
    root, good, lm_run = world
    data = tmp_path / "d.tsv"
    data.write_text(
        "".join(f"{w} cat\t{'pos' if w == 'good' else 'neg'}\n" for w in ["good", "bad", "ok"] * 30)
    )
    cls = tmp_path / "cls"
    p = rnnkit(
        "classify",
        "train",
        data,
        "--out",
        cls,
        "--hidden",
        "8",
        "--batch",
        "8",
        "--max-steps",
        "3",
        "--no-progress",
    )
    assert p.returncode == 0, p.stderr
    before = snapshot(cls)
    assert_one_line_error(rnnkit("eval", cls, good), "is for task 'classify', not 'lm'")
    assert_one_line_error(rnnkit("sample", cls), "is for task 'classify', not 'lm'")
    assert_one_line_error(rnnkit("train", "--resume", cls), "is for task 'classify', not 'lm'")
    assert_one_line_error(rnnkit("tag", "predict", cls, data), "is for task 'classify', not 'tag'")
    assert_one_line_error(rnnkit("classify", "predict", lm_run, data), "is for task 'lm', not 'classify'")
    assert snapshot(cls) == before
