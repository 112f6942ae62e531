"""Checkpoints written by an earlier rnnkit still load, and give the outputs they gave then.

``tests/fixtures/`` holds an LM run and a classify run saved before the restructuring of
issue 16 (its README has the commands). The expected outputs below were recorded from that
same code, so a change to the checkpoint format, the loaders or the numbers fails here.
Each test works on a copy, so the fixtures themselves are never written.

The printed numbers are rounded (4 decimals); the JSON ones are compared to 1e-6 relative,
float32 rounding, so that another BLAS kernel cannot fail the test while a wrong layout
(a transposed or shuffled weight) would change them in the first digit.
"""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import REPO, rnnkit

FIXTURES = REPO / "tests" / "fixtures"
LM_CKPT = "ckpt/step-00000200"
CLASSIFY_CKPT = "ckpt/step-00000020"


@pytest.fixture
def old(tmp_path):
    """A copy of tests/fixtures (symlinks kept: ``best`` and ``last`` name the checkpoints)."""
    return shutil.copytree(FIXTURES, tmp_path / "fixtures", symlinks=True)


def _ok(*args, cwd=None):
    p = rnnkit(*args, cwd=cwd)
    assert p.returncode == 0, p.stderr
    return p


# ------------------------------------------------------------------------------ LM
def test_lm_greedy_sample(old):
    p = _ok("sample", old / "lm-run", "--greedy", "--prime", "the ", "--length", "40")
    assert p.stdout == "the sat on the sat on the sat on the sat on \n"


def test_lm_seeded_sample_and_beam_search(old):
    p = _ok("sample", old / "lm-run", "--prime", "the ", "--length", "40", "--seed", "7")
    assert p.stdout == "the dn .\nahe sead.\na dog rar wpoo  ok.\nto\nah\n"
    p = _ok("sample", old / "lm-run", "--beam", "3", "--prime", "the ", "--length", "20")
    assert p.stdout == "the sat on the on the sa\n"


def test_lm_eval_of_the_run_and_of_its_checkpoint_directory(old):
    p = _ok("eval", "lm-run", "corpus.txt", cwd=old)
    assert p.stdout == (
        "corpus.txt: 1.0567 nats/char, 1.5244 bits/char, perplexity 2.877 over 469 predictions "
        f"({old / 'lm-run' / LM_CKPT})\n"
    )
    got = json.loads(_ok("eval", old / "lm-run" / LM_CKPT, old / "corpus.txt", "--json").stdout)
    assert got == {
        "loss_nats": pytest.approx(1.0566508854503063, rel=1e-6),
        "bpc": pytest.approx(1.524424992390089, rel=1e-6),
        "perplexity": pytest.approx(2.8767203717243675, rel=1e-6),
        "chars": 470,
        "predictions": 469,
        "skipped": 0,  # `eval --unknown` (issue 18): none skipped under the default, error
        "checkpoint": str(old / "lm-run" / LM_CKPT),
    }


def test_lm_resume_from_the_old_trainer_state(old):
    """The optimizer state, RNG and data position load too: the run continues where it stood."""
    run = old / "lm-run"
    p = _ok("train", "--resume", run, "--max-steps", "300", "--no-progress")
    assert f"resumed {run / LM_CKPT} at step 200 (epoch 7, chunk 11)" in p.stdout
    assert (
        "step 300: val 1.1732 nats/char, 1.6926 bpc, perplexity 3.23 (46 chars) *best*" in p.stderr + p.stdout
    )
    assert "done at step 300: best val 1.1732 nats/char (1.6926 bpc)" in p.stdout


# ------------------------------------------------------------------------ classify
def test_classify_predict(old):
    texts = ["good", "bad film", "nice", "awful", "loved it", "hated it", "zzz"]
    p = _ok("classify", "predict", old / "classify-run", *texts)
    # Since issue 18 each line starts with its input (the output is a TSV); the rest is as recorded.
    assert p.stdout.splitlines() == [
        "good\tpos\t0.9880",
        "bad film\tneg\t0.9908",
        "nice\tpos\t0.9787",
        "awful\tneg\t0.9901",
        "loved it\tpos\t0.9876",
        "hated it\tneg\t0.9851",
        "zzz\tneg\t0.8686",
    ]
    assert "1 input character(s) not seen in training ('z') are read as <unk>" in p.stderr
    p = _ok("classify", "predict", old / "classify-run" / CLASSIFY_CKPT, "--top", "2", "great fun")
    assert p.stdout == "great fun\tpos\t0.9484\tneg\t0.0516\n"


def test_classify_eval(old):
    p = _ok("classify", "eval", "classify-run", "labels.tsv", cwd=old)
    # The recorded line, then (since issue 18) the per-class table and the confusion matrix.
    assert p.stdout == (
        "labels.tsv: accuracy 1.0000 over 30 examples, loss 0.0174 nats "
        f"({old / 'classify-run' / CLASSIFY_CKPT})\n"
        "\n"
        "label         precision  recall      f1  support\n"
        "neg              1.0000  1.0000  1.0000       15\n"
        "pos              1.0000  1.0000  1.0000       15\n"
        "macro avg        1.0000  1.0000  1.0000       30\n"
        "weighted avg     1.0000  1.0000  1.0000       30\n"
        "\n"
        "confusion (rows: true, columns: predicted)\n"
        "     neg  pos\n"
        "neg   15    0\n"
        "pos    0   15\n"
    )
