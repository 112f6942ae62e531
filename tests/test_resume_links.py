"""Which run ``--resume`` continues: ``RUN/last``, ``RUN/best``, a checkpoint directory, or no run.

``--resume RUN/last`` (or ``RUN/best``) names a symlink to ``RUN/ckpt/step-N``; the run
directory used to be taken as the link's ``parent.parent`` (the directory *above* RUN),
so the resume read and wrote in the wrong place. It must continue RUN itself: new
checkpoints in ``RUN/ckpt``, validation lines appended to ``RUN/metrics.jsonl``. A path
that is no checkpoint of any run is one line on stderr and exit status 2.

``--val-chars`` is in tests/test_val_chars.py.
"""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import (
    assert_one_line_error,
    checkpoint_steps,
    finished_run,
    last_step,
    rnnkit,
    snapshot,
    write_text,
)


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    return write_text(tmp_path_factory.mktemp("text") / "t.txt", 1500, seed=5)


def _val_steps(run):
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if r["kind"] == "val"]


@pytest.mark.parametrize("link", ["last", "best"])
def test_resume_through_a_link_continues_the_same_run(text, tmp_path, link):
    run = finished_run(text, tmp_path)
    start = int((run / link).resolve().name[5:])  # the step the link points at
    before = set(tmp_path.iterdir())
    p = rnnkit("train", "--resume", run / link, "--max-steps", "8", "--no-progress", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert f"at step {start} " in p.stdout
    assert last_step(run) == 8 and 8 in checkpoint_steps(run)  # new checkpoint in RUN/ckpt
    assert set(tmp_path.iterdir()) == before  # nothing written above RUN
    assert _val_steps(run) == list(range(2, 9, 2))  # metrics appended in RUN
    assert str(run.resolve()) in p.stdout  # the run it reports is RUN


def test_resume_through_a_relative_link_path(text, tmp_path):
    """``cd RUN && rnnkit train --resume last``: a relative link path still finds RUN."""
    run = finished_run(text, tmp_path)
    p = rnnkit("train", "--resume", "last", "--max-steps", "6", "--no-progress", cwd=run)
    assert p.returncode == 0, p.stderr
    assert last_step(run) == 6
    assert _val_steps(run) == [2, 4, 6]


def test_resume_of_a_checkpoint_directory_still_works(text, tmp_path):
    run = finished_run(text, tmp_path)
    p = rnnkit("train", "--resume", run / "ckpt" / "step-00000004", "--max-steps", "6", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert last_step(run) == 6


def test_task_verb_resume_through_the_last_link(tmp_path):
    data = tmp_path / "d.tsv"
    data.write_text(
        "".join(f"{w} cat\t{'pos' if w == 'good' else 'neg'}\n" for w in ["good", "bad", "ok"] * 30)
    )
    run = tmp_path / "cls"
    args = ["--hidden", "8", "--batch", "8", "--eval-every", "2", "--no-progress"]
    p = rnnkit("classify", "train", data, "--out", run, *args, "--max-steps", "2")
    assert p.returncode == 0, p.stderr
    before = set(tmp_path.iterdir())
    p = rnnkit(
        "classify", "train", "--resume", run / "last", "--max-steps", "4", "--no-progress", cwd=tmp_path
    )
    assert p.returncode == 0, p.stderr
    assert last_step(run) == 4
    assert set(tmp_path.iterdir()) == before


def test_resume_of_a_path_that_is_no_run_is_one_line(text, tmp_path):
    run = finished_run(text, tmp_path)
    loose = tmp_path / "loose"
    shutil.copytree(run / "last", loose)  # a whole checkpoint, but outside any run directory
    (tmp_path / "empty").mkdir()
    before = snapshot(tmp_path)
    assert_one_line_error(
        rnnkit("train", "--resume", loose, "--no-progress"), "cannot tell which run", "loose"
    )
    assert_one_line_error(rnnkit("train", "--resume", tmp_path / "nope", "--no-progress"), "no such")
    assert_one_line_error(
        rnnkit("train", "--resume", tmp_path / "empty", "--no-progress"), "holds no checkpoint"
    )
    assert snapshot(tmp_path) == before


def test_out_and_resume_through_the_link_name_the_same_run(text, tmp_path):
    """``--out RUN --resume RUN/last`` names one run twice: accepted, while an ``--out`` of
    another directory is still refused in one line."""
    run = finished_run(text, tmp_path)
    p = rnnkit("train", "--out", run, "--resume", run / "last", "--max-steps", "6", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert last_step(run) == 6
    p = rnnkit("train", "--out", tmp_path / "other", "--resume", run / "last", "--max-steps", "8")
    assert_one_line_error(p, "different directories")
    assert last_step(run) == 6
