"""``rnnkit eval --unknown {error,skip}`` (issue 18, item 5): held-out text with characters the
model never saw.

- ``error`` (the default, as before): the text is refused in one line naming the characters.
- ``skip``: a character outside the vocabulary is neither predicted nor read; the state passes
  over it as if it were absent, so the number is exactly the one of the text with those
  characters removed, and the report counts them (``skipped`` in the JSON; 0 under ``error``,
  which scores only a text that has none).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from helpers import cmd, env, finished_run

from rnnkit.cli import lm as cli_lm
from rnnkit.cli import main

TEXT = "the king and the queen, café naïve 안녕 🙂.\nROMEO: what light through yonder window?\n" * 30
UNSEEN = "%Ω€"  # none of them in TEXT


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("unknown")
    (d / "corpus.txt").write_text(TEXT, encoding="utf-8")
    return finished_run(d / "corpus.txt", d)


def with_unseen(text: str) -> str:
    """``text`` with unseen characters first, last, side by side and scattered (5 in all)."""
    return "%" + text[:200] + "Ω€" + text[200:700] + "%" + text[700:] + "€"


def eval_json(capsys, run_dir, f, *flags) -> dict:
    assert main(["eval", str(run_dir), str(f), "--json", *flags]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


@pytest.mark.parametrize("piece_bytes", [7, 1 << 20])
def test_skip_scores_the_text_as_if_the_unseen_characters_were_absent(
    run_dir, tmp_path, capsys, monkeypatch, piece_bytes
):
    """Read 7 bytes at a time (pieces of unseen characters alone, and empty after skipping) or
    whole: the same floats as the clean text, to the bit, and the 5 characters counted."""
    monkeypatch.setattr(cli_lm, "EVAL_PIECE_BYTES", piece_bytes)
    clean = TEXT[:1200]
    dirty = tmp_path / "dirty.txt"
    dirty.write_text(with_unseen(clean), encoding="utf-8")
    (tmp_path / "clean.txt").write_text(clean, encoding="utf-8")
    ref = eval_json(capsys, run_dir, tmp_path / "clean.txt")
    r = eval_json(capsys, run_dir, dirty, "--unknown", "skip")
    assert ref["skipped"] == 0 and r["skipped"] == 5
    assert {k: v for k, v in r.items() if k != "skipped"} == {k: v for k, v in ref.items() if k != "skipped"}
    assert (r["chars"], r["predictions"]) == (len(clean), len(clean) - 1)
    assert eval_json(capsys, run_dir, tmp_path / "clean.txt", "--unknown", "skip") == ref  # none to skip


def test_the_text_report_gives_the_number_skipped(run_dir, tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_text(with_unseen(TEXT[:900]), encoding="utf-8")
    assert main(["eval", str(run_dir), str(f), "--unknown", "skip"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{f}: ") and "over 899 predictions, 5 unknown characters skipped (" in out
    f.write_text(TEXT[:500] + "%" + TEXT[500:900], encoding="utf-8")
    assert main(["eval", str(run_dir), str(f), "--unknown", "skip"]) == 0
    assert "predictions, 1 unknown character skipped (" in capsys.readouterr().out
    f.write_text(TEXT[:900], encoding="utf-8")  # the default keeps its line as it was
    assert main(["eval", str(run_dir), str(f)]) == 0
    out = capsys.readouterr().out
    n = r"[\d.]+"
    line = (
        f"{re.escape(str(f))}: {n} nats/char, {n} bits/char, perplexity {n} over 899 predictions "
        + r"\(.+\)\n"
    )
    assert re.fullmatch(line, out), out


def test_error_refuses_in_one_line_naming_the_characters(run_dir, tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_text(with_unseen(TEXT[:900]), encoding="utf-8")
    for flags in ([], ["--unknown", "error"]):
        assert main(["eval", str(run_dir), str(f), *flags]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1
        assert err.startswith(f"rnnkit: error: {f} has characters that are not in the model's vocabulary: ")
        assert "'%' (U+0025), 'Ω' (U+03A9), '€' (U+20AC)" in err and "--unknown skip" in err


def test_skip_of_a_text_with_fewer_than_two_known_characters_is_one_line(run_dir, tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_text(UNSEEN * 3 + "a", encoding="utf-8")
    assert main(["eval", str(run_dir), str(f), "--unknown", "skip"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (
        f"rnnkit: error: {f} without the characters outside the vocabulary has 1 characters; "
        "evaluation needs at least 2\n"
    )


def test_eval_of_a_long_text_writes_no_progress_frames_when_stderr_is_not_a_terminal(run_dir, tmp_path):
    """stderr to a pipe: the report on stdout and nothing on stderr (no carriage returns)."""
    f = tmp_path / "long.txt"
    f.write_text(with_unseen(TEXT * 20), encoding="utf-8")
    (tmp_path / "clean.txt").write_text(TEXT * 20, encoding="utf-8")
    for path, flags in ((tmp_path / "clean.txt", []), (f, ["--unknown", "skip"])):
        p = subprocess.run(
            cmd("eval", run_dir, path, *flags), capture_output=True, text=True, env=env(), timeout=120
        )
        assert p.returncode == 0 and p.stderr == "" and p.stdout.count("\n") == 1, p.stderr
