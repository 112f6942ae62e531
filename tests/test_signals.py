"""Issue 4, item 3: Ctrl-C (SIGINT) and SIGTERM save a checkpoint, print where, and exit
130 and 0 respectively. Continuing from that checkpoint is exact."""
from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from helpers import MAX_STEPS, RUN_ARGS, assert_bit_identical, baseline, last_step, rnnkit, start, wait_for
from rnnkit import checkpoint as ckpt

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return baseline(tmp_path_factory)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_signal_saves_prints_the_path_and_exits(tmp_path, base, sig, code):
    text, base_run, _ = base
    run = tmp_path / "run"
    p = start("train", text, "--out", run, *RUN_ARGS)
    assert wait_for(lambda: (last_step(run) or 0) >= 40, p)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert "Traceback" not in err
    m = re.search(r"stopped by signal at step (\d+); checkpoint saved to (\S+)\.", out)
    assert m, out
    step, path = int(m.group(1)), Path(m.group(2))
    assert 40 <= step < MAX_STEPS
    c = ckpt.load(path)                                            # the printed path loads
    assert c.state["step"] == step and last_step(run) == step
    assert f"--resume {run}" in out
    r = rnnkit("train", "--resume", run, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert_bit_identical(run / "last", base_run / "last")
