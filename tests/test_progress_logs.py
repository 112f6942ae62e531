"""Training logs where stderr is not a terminal (issue 18, item 6): a 72-second ``classify
train`` redirected to a file wrote 30 KB of ``\\r`` progress frames. Now a plain line comes
after the first step and then every ``PLAIN_EVERY_S`` seconds (step, smoothed loss, rate,
time left), with no carriage return; on a terminal the bar stays (simulated with a pty)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from helpers import cmd, env, write_text

from rnnkit.train.progress import PLAIN_EVERY_S, TrainingProgress

TINY_LM = ["--hidden", "16", "--layers", "1", "--seq-len", "16", "--batch", "4"]
# A run the time budget ends: neither --max-steps nor a save or a validation comes first.
BY_TIME = ["--max-steps", "10000000", "--eval-every", "100000", "--save-every", "10000000"]


def test_plain_lines_come_after_the_first_step_and_then_every_interval(capsys):
    p = TrainingProgress(max_steps=100, minutes=0, step=0, elapsed_s=0.0, show=True, bpc=True, terminal=False)
    for step in range(1, 6):
        p.advance(step, float(step), 2.0, chars_s="1,000", lr="1e-3")
    p.close()
    err = capsys.readouterr().err
    assert err == "step=1/100, loss=2.000, bpc=2.885, chars_s=1,000, lr=1e-3, time_left=01:39\n"
    p = TrainingProgress(
        max_steps=100, minutes=1, step=0, elapsed_s=0.0, show=True, terminal=False, plain_every_s=0
    )
    p.advance(1, 1.0, None)  # a skipped first step: no loss yet
    p.advance(2, 2.0, 3.0, ex_s="50")
    p.close()
    assert capsys.readouterr().err.splitlines() == [
        "time=00:01/01:00, step=1, time_left=00:59",
        "time=00:02/01:00, step=2, loss=3.000, ex_s=50, time_left=00:58",
    ]
    p = TrainingProgress(max_steps=100, minutes=1, step=0, elapsed_s=0.0, show=False, terminal=False)
    p.advance(1, 1.0, 1.0)  # --no-progress: nothing
    p.close()
    assert capsys.readouterr().err == "" and 10 <= PLAIN_EVERY_S <= 30


def _lines(path) -> list[str]:
    return path.read_bytes().decode("utf-8").splitlines()


@pytest.mark.slow
def test_a_half_minute_run_logged_to_files_is_a_few_plain_lines(tmp_path):
    """``rnnkit train … --minutes 0.5 --eval-every 100000 > out.txt 2> log.txt`` and the same
    for ``classify train`` (the task verbs share the loop), run side by side: fewer than 40
    lines in the two files together, no carriage return, and progress lines in the log."""
    text = write_text(tmp_path / "t.txt", n_words=3000)
    tsv = tmp_path / "d.tsv"
    tsv.write_text("".join(f"{w * (i % 5 + 1)}\t{w}\n" for i, w in enumerate(["ab", "cd", "ef"] * 40)))
    runs = {
        "lm": ["train", text, *TINY_LM],
        "classify": ["classify", "train", tsv, "--hidden", "8", "--batch", "8"],
    }
    procs = {}
    for name, args in runs.items():
        out, log = tmp_path / f"{name}.out.txt", tmp_path / f"{name}.log.txt"
        with open(out, "wb") as o, open(log, "wb") as e:
            argv = cmd(*args, "--out", tmp_path / name, "--minutes", "0.5", *BY_TIME)
            procs[name] = (subprocess.Popen(argv, stdout=o, stderr=e, env=env()), out, log)
    for proc, out, log in procs.values():
        assert proc.wait(timeout=180) == 0, log.read_text()
        raw = out.read_bytes() + log.read_bytes()
        assert b"\r" not in raw and raw.count(b"\n") < 40, raw.decode()
        progress = [ln for ln in _lines(log) if ln.startswith("time=")]
        assert progress and all(re.match(r"time=\d\d:\d\d/00:30, step=\d+, ", ln) for ln in progress)
        assert "loss=" in progress[-1] and "time_left=" in progress[-1], progress
        assert _lines(out)[-1].startswith("done at step "), out.read_text()


def test_on_a_terminal_the_bar_stays(tmp_path):
    """stderr on a pseudo-terminal: the bar redrawn with ``\\r``; with --minutes its text has
    the time of the budget and the step."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    text = write_text(tmp_path / "t.txt", n_words=2000)
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # rows, columns
    argv = cmd("train", text, *TINY_LM, "--out", tmp_path / "run", "--minutes", "5", "--max-steps", "40")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=child, env=env())
    os.close(child)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 1 << 16)
        except OSError:  # the child side closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert proc.wait(timeout=120) == 0
    frames = shown.decode("utf-8").split("\r")
    assert len(frames) > 2 and any("| time=00:" in f and "/05:00, step=" in f for f in frames), frames
