"""``errors.write_error``: the one line for a failed write, a full disk (ENOSPC) or another error,
as the prepared ids, the metrics log and checkpoints report it."""

from __future__ import annotations

import errno
import os

import pytest

from rnnkit.data import corpus
from rnnkit.data.corpus import plan_corpus, write_prepared
from rnnkit.errors import RnnkitError, write_error


def test_a_full_disk_says_what_to_do_and_another_error_says_why():
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    e = write_error(full, "x.bin", "free space and try again", full_what="x.bin (10 bytes)")
    assert isinstance(e, RnnkitError)
    assert str(e) == "disk full while writing x.bin (10 bytes); free space and try again"
    assert str(write_error(full, "x.bin", "free space")) == "disk full while writing x.bin; free space"
    denied = OSError(errno.EACCES, "Permission denied")
    assert (
        str(write_error(denied, "x.bin", "free space"))
        == "could not write x.bin: [Errno 13] Permission denied"
    )


def test_prepared_ids_on_a_full_disk(tmp_path, monkeypatch):
    text = tmp_path / "t.txt"
    text.write_text("hello world\n" * 50, encoding="utf-8")
    plan = plan_corpus([text], val_fraction=0.1)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(corpus, "encode_files", full)
    with pytest.raises(
        RnnkitError, match=r"disk full while writing the prepared ids \(600 bytes\) to .*; free"
    ):
        write_prepared(plan, tmp_path / "data", log=lambda line: None)
    assert not (tmp_path / "data" / "ids.bin.tmp").exists()
