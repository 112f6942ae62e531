"""Binary and non-UTF-8 files met while walking a corpus directory (``rnnkit.data.corpus``).

``rnnkit train DIR`` walks DIR by suffix, extensionless files included, so it can meet
binaries; one of them (or one non-UTF-8 file) aborted the whole run. Files found by
walking are now skipped with a warning; files named explicitly are still refused.
"""

from __future__ import annotations

import json
import warnings

import pytest
from helpers import TINY, assert_one_line_error, rnnkit

from rnnkit.data import corpus
from rnnkit.data.corpus import find_files, plan_corpus, read_text_file
from rnnkit.errors import RnnkitError, RnnkitWarning


@pytest.fixture(autouse=True)
def _runtime_warnings_are_errors():
    """No overflow / invalid-value RuntimeWarning may escape (as in tests/test_sampling.py,
    where these tests used to live)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


GOOD_CHARS = "the cat sat on a mat\n"


def _mixed_dir(root):
    """good.txt, plus an extensionless ELF-like binary and a .txt that is Latin-1 after a
    valid prefix holding a character (Ω) found nowhere else."""
    d = root / "corpus"
    d.mkdir()
    (d / "good.txt").write_text(GOOD_CHARS * 300, encoding="utf-8")
    (d / "blob").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    (d / "latin1.txt").write_bytes("Ω ok ".encode() * 50 + "café".encode("latin-1"))
    return d


def _warnings(stderr):
    return [l for l in stderr.splitlines() if "warning" in l]


def warned(call):
    """``call()``'s result, and the text of each ``RnnkitWarning`` it gave (the library warns;
    the command line prints each as a line, as the subprocess tests above see)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RnnkitWarning)
        result = call()
    return result, [str(w.message) for w in caught if issubclass(w.category, RnnkitWarning)]


def test_train_on_a_directory_skips_binary_and_non_utf8_files_with_warnings(tmp_path):
    d = _mixed_dir(tmp_path)
    p = rnnkit("train", d, "--out", tmp_path / "run", *TINY, "--max-steps", "3", "--val-chars", "300")
    assert p.returncode == 0, p.stderr
    warn = _warnings(p.stderr)
    assert len(warn) == 2, p.stderr
    assert "blob" in warn[0] and "binary" in warn[0] and "NUL byte at offset 7" in warn[0]
    assert "latin1.txt" in warn[1] and "not valid UTF-8" in warn[1] and "byte offset 303" in warn[1]
    meta = json.loads((tmp_path / "run" / "data" / "meta.json").read_text())
    assert meta["files"] == [str(d / "good.txt")]
    assert meta["n_train"] + meta["n_val"] == len(GOOD_CHARS) * 300
    chars = json.loads((tmp_path / "run" / "data" / "vocab.json").read_text())["chars"]
    assert set(chars) == set(GOOD_CHARS)


def test_a_directory_of_only_binaries_is_a_one_line_error(tmp_path):
    d = tmp_path / "bins"
    d.mkdir()
    (d / "program").write_bytes(b"\x00\x01\x02" * 100)
    (d / "core").write_bytes(b"\x7fELF\x00" * 100)
    (d / "bad.txt").write_bytes(b"\xff\xfe oops")
    out = tmp_path / "run"
    line = assert_one_line_error(
        rnnkit("train", d, "--out", out, *TINY), str(d), "no usable text", "all 3 files"
    )
    assert "binary" in line
    assert not out.exists()


def test_an_explicitly_named_binary_is_still_refused(tmp_path):
    d = _mixed_dir(tmp_path)
    assert_one_line_error(
        rnnkit("train", d / "blob", "--out", tmp_path / "r1", *TINY),
        "blob",
        "looks like a binary file",
        "NUL byte at offset 7",
    )
    assert_one_line_error(
        rnnkit("train", d / "good.txt", d / "latin1.txt", "--out", tmp_path / "r2", *TINY),
        "latin1.txt",
        "not valid UTF-8",
        "--encoding-errors replace",
    )
    # named AND inside a walked directory: the explicit name wins, so it is refused
    assert_one_line_error(rnnkit("train", d, d / "blob", "--out", tmp_path / "r3", *TINY), "blob", "binary")


def test_plan_skips_in_a_single_pass_and_keeps_nothing_of_a_skipped_file(tmp_path, monkeypatch):
    """The bad byte lies beyond the first read chunk: the characters already decoded from
    the skipped file (Ω) must not reach the vocabulary, and each file is opened once."""
    d = tmp_path / "c"
    d.mkdir()
    (d / "a.txt").write_text(GOOD_CHARS * 50, encoding="utf-8")
    big = "Ω".encode() + b"x" * (corpus.CHUNK_BYTES + 10) + b"\xff"
    (d / "b.txt").write_bytes(big)
    opened = []
    real_iter = corpus.iter_text
    monkeypatch.setattr(
        corpus, "iter_text", lambda path, *a, **k: (opened.append(path), real_iter(path, *a, **k))[1]
    )
    plan, warn = warned(lambda: plan_corpus(find_files([str(d)])))
    assert plan.files == [d / "a.txt"] and set(plan.vocab.chars) == set(GOOD_CHARS)
    assert plan.n_train + plan.n_val == len(GOOD_CHARS) * 50
    assert sorted(opened) == [d / "a.txt", d / "b.txt"]
    assert warn == [f"skipping {d / 'b.txt'}: not valid UTF-8 (byte offset {len(big) - 1})"]


def test_replace_keeps_non_utf8_files_but_still_skips_binaries(tmp_path):
    d = _mixed_dir(tmp_path)
    plan, warn = warned(lambda: plan_corpus(find_files([str(d)]), errors="replace"))
    assert plan.files == [d / "good.txt", d / "latin1.txt"]
    assert "Ω" in plan.vocab.chars and "\ufffd" in plan.vocab.chars
    assert len(warn) == 1 and "blob" in warn[0]


def test_a_walked_validation_directory_is_skipped_the_same_way(tmp_path):
    d = _mixed_dir(tmp_path)
    v = tmp_path / "val"
    v.mkdir()
    (v / "v.txt").write_text(GOOD_CHARS * 10, encoding="utf-8")
    (v / "junk").write_bytes(b"\0\0\0")
    plan, warn = warned(lambda: plan_corpus(find_files([str(d)]), find_files([str(v)])))
    assert plan.files == [d / "good.txt"] and plan.val_files == [v / "v.txt"]
    assert len(warn) == 3 and "junk" in warn[-1]
    assert plan.n_val == len(GOOD_CHARS) * 10
    (v / "v.txt").write_bytes(b"\0")  # now nothing usable in val
    with pytest.raises(RnnkitError, match="holds no usable text"):
        plan_corpus(find_files([str(d)]), find_files([str(v)]))


def test_read_text_file_of_a_directory_skips_binaries(tmp_path):
    d = _mixed_dir(tmp_path)
    text, warn = warned(lambda: read_text_file(d))
    assert text == GOOD_CHARS * 300 and len(warn) == 2
    with pytest.raises(RnnkitError, match="looks like a binary file"):
        read_text_file(d / "blob")


def test_many_skipped_files_are_summarised(tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    (d / "good.txt").write_text(GOOD_CHARS * 20, encoding="utf-8")
    for i in range(corpus.MAX_SKIP_WARNINGS + 5):
        (d / f"bin{i:03d}").write_bytes(b"\0")
    _, warn = warned(lambda: plan_corpus(find_files([str(d)])))
    assert len(warn) == corpus.MAX_SKIP_WARNINGS + 1
    assert f"skipped {corpus.MAX_SKIP_WARNINGS + 5} files" in warn[-1] and "5 not named above" in warn[-1]
