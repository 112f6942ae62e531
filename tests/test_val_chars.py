"""``--val-chars``: 1 is refused up front, and 0 ("all") and 2 still train.

``--val-chars 1`` used to crash at the first validation (scoring needs an input and a
target character).
"""

from __future__ import annotations

import pytest
from helpers import TINY, TINY_RUN, assert_one_line_error, finished_run, rnnkit, snapshot, write_text


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    return write_text(tmp_path_factory.mktemp("text") / "t.txt", 1500, seed=5)


def test_val_chars_one_is_refused_up_front(text, tmp_path):
    assert_one_line_error(
        rnnkit("train", text, "--out", tmp_path / "new", *TINY_RUN, "--val-chars", "1"),
        "--val-chars",
        "got 1",
    )
    assert not (tmp_path / "new").exists()
    run = finished_run(text, tmp_path)
    before = snapshot(run)
    assert_one_line_error(
        rnnkit("train", "--resume", run, "--val-chars", "1", "--no-progress"), "--val-chars"
    )
    assert snapshot(run) == before


@pytest.mark.parametrize("n", ["0", "2"])
def test_val_chars_zero_and_two_still_train(text, tmp_path, n):
    p = rnnkit(
        "train",
        text,
        "--out",
        tmp_path / "run",
        *TINY,
        "--max-steps",
        "2",
        "--eval-every",
        "2",
        "--val-chars",
        n,
    )
    assert p.returncode == 0, p.stderr
