"""The task verbs end to end through the CLI: train, predict/sample, eval, exact resume, bad input.

Each test writes its own tiny TSV in tmp_path and runs ``python -m rnnkit`` in a subprocess.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--hidden", "12", "--batch", "8", "--no-progress", "--seed", "3"]


def rnnkit(*args, stdin=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "rnnkit", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def ok(*args, stdin=None):
    r = rnnkit(*args, stdin=stdin)
    assert r.returncode == 0, r.stderr
    return r


def make_tsv(path: Path, verb: str, n: int = 40) -> Path:
    """Toy data of each form: two 'languages' a-e and v-z; reversal; 'a' is a boundary."""
    rnd = random.Random(0)
    lines = []
    for _ in range(n):
        lab = rnd.choice(["A", "B"])
        word = "".join(rnd.choice("abcde" if lab == "A" else "vwxyz") for _ in range(rnd.randint(2, 6)))
        if verb == "classify":
            lines.append(f"{word}\t{lab}")
        elif verb == "generate":
            lines.append(f"{lab}\t{word}")
        elif verb == "seq2seq":
            lines.append(f"{word}\t{' '.join(c.upper() for c in reversed(word))}")
        else:
            lines.append(f"{word}\t{''.join('1' if c in 'av' else '0' for c in word)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


EXTRA = {
    "classify": ["--bidirectional"],
    "generate": ["--autoregressive", "--cond-embed", "3"],
    "seq2seq": ["--target-tokens", "words", "--embed", "6"],
    "tag": ["--bidirectional"],
}


@pytest.mark.parametrize("verb", ["classify", "generate", "seq2seq", "tag"])
def test_train_use_and_exact_resume(tmp_path, verb):
    data = make_tsv(tmp_path / "data.tsv", verb)
    common = [*SMALL, *EXTRA[verb], "--dropout", "0.1", "--schedule", "constant", "--eval-every", "3"]
    # k = 10 steps in one go (36 training examples, batch 8: the run crosses an epoch boundary)
    full = tmp_path / "full"
    ok(verb, "train", data, "--out", full, "--max-steps", 10, *common)
    # k/2 steps, then --resume to k
    half = tmp_path / "half"
    ok(verb, "train", data, "--out", half, "--max-steps", 5, *common)
    r = ok(verb, "train", "--resume", half, "--max-steps", 10, "--no-progress")
    assert "resumed" in r.stdout
    for name in ("model.safetensors", "trainer.safetensors"):
        assert (full / "last" / name).read_bytes() == (half / "last" / name).read_bytes(), name
    assert (
        json.loads((full / "last" / "state.json").read_text())["rng"]
        == json.loads((half / "last" / "state.json").read_text())["rng"]
    )
    rows = [json.loads(l) for l in (half / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "val" for r in rows)
    assert (full / "best").exists()

    # use the model
    # predict prints input<TAB>prediction (issue 18: the input first, then what it printed before)
    if verb == "classify":
        out = [l.split("\t") for l in ok(verb, "predict", full, "abc", "zzq").stdout.splitlines()]
        assert [l[0] for l in out] == ["abc", "zzq"]
        assert all(len(l) == 3 and l[1] in ("A", "B") and 0 < float(l[2]) <= 1 for l in out)
        out = ok(verb, "predict", full, stdin="abba\n\nxyz\n").stdout.splitlines()
        assert [l.split("\t")[0] for l in out] == ["abba", "xyz"]
        r = json.loads(ok(verb, "eval", full, data, "--json").stdout)
        assert 0 <= r["accuracy"] <= 1 and r["examples"] == 40
    elif verb == "generate":
        out = ok(verb, "sample", full, "--label", "A", "-n", 4, "--seed", 1).stdout.splitlines()
        assert len(out) == 4
        assert out == ok(verb, "sample", full, "--label", "A", "-n", 4, "--seed", 1).stdout.splitlines()
        r = json.loads(ok(verb, "eval", full, data, "--json").stdout)
        assert r["nll"] > 0 and r["predictions"] > 40
        bad = rnnkit(verb, "sample", full, "--label", "Q")
        assert bad.returncode == 2 and "'A', 'B'" in bad.stderr
    elif verb == "seq2seq":
        out = ok(verb, "predict", full, "abc", "--beam", 3, "--max-len", 8).stdout.splitlines()
        source, target = out[0].split("\t")
        assert len(out) == 1 and source == "abc" and all(tok.isupper() for tok in target.split())
        g = json.loads(ok(verb, "eval", full, data, "--json").stdout)
        b = json.loads(ok(verb, "eval", full, data, "--json", "--beam", 3).stdout)
        for r in (g, b):
            assert 0 <= r["exact_match"] <= 1 and r["token_error_rate"] >= 0
        assert b["beam"] == 3
    else:
        out = [l.split("\t") for l in ok(verb, "predict", full, "abcvw", "ab").stdout.splitlines()]
        assert [text for text, _ in out] == ["abcvw", "ab"]
        assert [len(tags) for _, tags in out] == [5, 2] and set("".join(t for _, t in out)) <= {"0", "1"}
        r = json.loads(ok(verb, "eval", full, data, "--json").stdout)
        assert {"accuracy", "f1", "precision", "recall"} <= set(r)


def test_learns_and_bidirectional_tagger_sees_the_right(tmp_path):
    """A tag that depends on the NEXT character: only the bidirectional tagger can learn it."""
    rnd = random.Random(1)
    lines = []
    for _ in range(300):
        w = "".join(rnd.choice("abcd") for _ in range(rnd.randint(3, 8)))
        lines.append(
            w + "\t" + "".join("1" if i + 1 < len(w) and w[i + 1] == "a" else "0" for i in range(len(w)))
        )
    data = tmp_path / "next.tsv"
    data.write_text("\n".join(lines) + "\n")
    f1 = {}
    for name, flag in (("uni", []), ("bi", ["--bidirectional"])):
        ok(
            "tag",
            "train",
            data,
            "--out",
            tmp_path / name,
            "--hidden",
            16,
            "--batch",
            16,
            "--lr",
            0.02,
            "--max-steps",
            150,
            "--eval-every",
            150,
            "--no-progress",
            *flag,
        )
        f1[name] = json.loads(ok("tag", "eval", tmp_path / name, data, "--json").stdout)["f1"]
    assert f1["bi"] > 0.95 and f1["bi"] > f1["uni"] + 0.3, f1


def test_classifier_learns(tmp_path):
    data = make_tsv(tmp_path / "d.tsv", "classify", n=120)
    ok(
        "classify",
        "train",
        data,
        "--out",
        tmp_path / "r",
        "--hidden",
        16,
        "--lr",
        0.02,
        "--max-steps",
        60,
        "--eval-every",
        30,
        "--no-progress",
    )
    r = json.loads(ok("classify", "eval", tmp_path / "r", data, "--json").stdout)
    assert r["accuracy"] > 0.95


@pytest.mark.parametrize(
    "verb,line,msg",
    [
        ("classify", "abc", "expected 2 tab-separated fields"),
        ("generate", "A\t", "field is empty"),
        ("seq2seq", "a\tb\tc", "expected 2 tab-separated fields"),
        ("tag", "abc\t01", "one character per text character"),
    ],
)
def test_bad_tsv_line_exit_2_with_line_number(tmp_path, verb, line, msg):
    data = make_tsv(tmp_path / "d.tsv", verb, n=5)
    with open(data, "a") as f:
        f.write(line + "\n")
    out = tmp_path / "run"
    r = rnnkit(verb, "train", data, "--out", out, "--no-progress")
    assert r.returncode == 2
    assert "d.tsv:6:" in r.stderr and msg in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()  # nothing written on bad input


def test_user_errors(tmp_path):
    data = make_tsv(tmp_path / "d.tsv", "classify", n=30)
    run = tmp_path / "r"
    ok("classify", "train", data, "--out", run, *SMALL, "--max-steps", 2)
    # unknown label at eval time -> one line naming the known labels
    test = tmp_path / "t.tsv"
    test.write_text("abc\tA\nxyz\tZ\n")
    r = rnnkit("classify", "eval", run, test)
    assert r.returncode == 2 and "unknown label 'Z'" in r.stderr and "'A', 'B'" in r.stderr
    # --out over an existing run without --force; wrong task; resume with a changed model flag
    assert "already holds a run" in rnnkit("classify", "train", data, "--out", run).stderr
    r = rnnkit("tag", "predict", run, "abc")
    assert r.returncode == 2 and "task 'classify'" in r.stderr
    r = rnnkit("classify", "train", "--resume", run, "--hidden", 99)
    assert r.returncode == 2 and "--hidden differs" in r.stderr
    r = rnnkit("classify", "train", tmp_path / "missing.tsv", "--out", tmp_path / "x")
    assert r.returncode == 2 and "no such file" in r.stderr
    # NaN gradient with --nonfinite stop -> exit 1, a clear message
    r = rnnkit(
        "classify",
        "train",
        data,
        "--out",
        tmp_path / "nan",
        *SMALL,
        "--max-steps",
        4,
        "--fault-nan-step",
        1,
        "--nonfinite",
        "stop",
    )
    assert r.returncode == 1 and "non-finite" in r.stderr
    # --help documents every flag
    h = ok("seq2seq", "train", "--help").stdout
    for flag in (
        "--hidden",
        "--layers",
        "--batch",
        "--lr",
        "--max-steps",
        "--minutes",
        "--seed",
        "--resume",
        "--bidirectional",
        "--embed",
        "--target-tokens",
        "--val-fraction",
    ):
        assert flag in h


def test_shared_settings_reach_the_task_verbs(tmp_path):
    """The task verbs take every shared training setting (rnnkit/train/settings.py): the step
    schedule's --step-size and --gamma change the logged learning rate, and values out of
    range end in one line, as for rnnkit train."""
    data = make_tsv(tmp_path / "d.tsv", "classify", n=30)
    run = tmp_path / "r"
    ok(
        "classify",
        "train",
        data,
        "--out",
        run,
        *SMALL,
        "--max-steps",
        6,
        "--log-every",
        1,
        "--schedule",
        "step",
        "--step-size",
        2,
        "--gamma",
        0.25,
        "--lr",
        0.01,
    )
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    lrs = [l["lr"] for l in lines if l["kind"] == "train"]
    assert lrs == pytest.approx([0.01, 0.01, 0.0025, 0.0025, 0.000625, 0.000625])
    for flag, value, msg in (
        ("--momentum", 1.5, "--momentum must lie in [0, 1)"),
        ("--gamma", 0, "--gamma must be positive"),
        ("--step-size", 0, "--step-size must be positive"),
    ):
        r = rnnkit("classify", "train", data, "--out", tmp_path / "bad", flag, value)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_resume_from_a_config_of_the_wrong_type_is_one_line(tmp_path):
    """A saved config whose manifest still matches but whose values have the wrong type (hand
    edited, or written by something else) is refused in one line, as for rnnkit train."""
    import hashlib

    data = make_tsv(tmp_path / "d.tsv", "classify", n=30)
    run = tmp_path / "r"
    ok("classify", "train", data, "--out", run, *SMALL, "--max-steps", 2)
    last = (run / "last").resolve()
    cfg = json.loads((last / "config.json").read_text())
    cfg["train"]["hidden"] = "wide"
    blob = json.dumps(cfg).encode()
    (last / "config.json").write_bytes(blob)
    man = json.loads((last / "manifest.json").read_text())
    man["files"]["config.json"] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (last / "manifest.json").write_text(json.dumps(man))
    r = rnnkit("classify", "train", "--resume", run, "--max-steps", 4)
    assert (
        r.returncode == 2
        and "hidden = 'wide', which is not of type int" in r.stderr
        and "Traceback" not in r.stderr
    ), r.stderr


def test_resume_from_best_with_a_new_lr_saves_its_own_weights(tmp_path):
    """The way back from a run that went bad after its best step: resume from RUN/best with a
    lower --lr. Reaching the step of the old ``last`` again, the run must save its own
    weights there; it used to keep the old (bad) checkpoint of that step as ``last``."""
    import shutil

    import numpy as np
    from safetensors.numpy import load_file

    data = make_tsv(tmp_path / "d.tsv", "classify", n=30)
    run = tmp_path / "r"
    ok("classify", "train", data, "--out", run, *SMALL, "--max-steps", 2, "--eval-every", 2, "--lr", 0.05)
    ckdir = run / "ckpt"
    shutil.copytree(ckdir / "step-00000002", tmp_path / "two")
    ok("classify", "train", "--resume", run, "--max-steps", 4, "--no-progress")
    shutil.copytree(tmp_path / "two", ckdir / "step-00000002", dirs_exist_ok=True)  # make step 2 the best
    os.replace(run / "best", run / "best.old")
    os.symlink(os.path.relpath(ckdir / "step-00000002", run), run / "best")
    old_four = load_file(ckdir / "step-00000004" / "model.safetensors")
    ok("classify", "train", "--resume", run / "best", "--max-steps", 4, "--lr", 0.001, "--no-progress")
    new_four = load_file((run / "last").resolve() / "model.safetensors")
    assert json.loads(((run / "last").resolve() / "state.json").read_text())["step"] == 4
    assert any(not np.array_equal(old_four[k], new_four[k]) for k in old_four)


def test_sigint_saves_and_resume_continues(tmp_path):
    import signal
    import time

    data = make_tsv(tmp_path / "d.tsv", "tag", n=60)
    run = tmp_path / "r"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnnkit",
            "tag",
            "train",
            str(data),
            "--out",
            str(run),
            *SMALL,
            "--max-steps",
            "1000000",
            "--eval-every",
            "100000",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 30
    while not (run / "rnnkit-run.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "stopped by signal" in out and (run / "last" / "model.safetensors").exists()
    step = json.loads((run / "last" / "state.json").read_text())["step"]
    r = ok("tag", "train", "--resume", run, "--max-steps", step + 3, "--no-progress")
    assert f"at step {step}" in r.stdout
    assert json.loads((run / "last" / "state.json").read_text())["step"] == step + 3


def test_task_verbs_checkpoint_every_save_every_steps(tmp_path, monkeypatch):
    """--save-every reaches the task verbs through the one trainer: checkpoints between
    validations, as the language model makes them."""
    from rnnkit.cli import main
    from rnnkit.train import checkpoint

    steps = []
    real = checkpoint.save_and_link
    monkeypatch.setattr(
        checkpoint, "save_and_link", lambda out, step, *a: (steps.append(step), real(out, step, *a))[1]
    )
    data = make_tsv(tmp_path / "d.tsv", "classify")
    argv = ["classify", "train", str(data), "--out", str(tmp_path / "r"), *SMALL, "--max-steps", "5"]
    assert main([*argv, "--save-every", "2", "--eval-every", "100"]) == 0
    assert steps == [2, 4, 5]  # every 2 steps, and the final validation


def test_checkpoint_with_nonfinite_weights_is_refused_in_one_line(tmp_path):
    """A form's checkpoint whose weights hold NaN (manifest rewritten to match, a deliberate
    tampering) is refused by its verbs in one line naming the tensor, as the LM's is."""
    import hashlib

    import numpy as np
    from safetensors.numpy import load_file, save_file

    data = make_tsv(tmp_path / "d.tsv", "classify", n=30)
    run = tmp_path / "r"
    ok("classify", "train", data, "--out", run, *SMALL, "--max-steps", 2)
    d = (run / "best").resolve()
    weights = load_file(str(d / "model.safetensors"))
    weights["head.bias"][0] = np.nan
    save_file(weights, str(d / "model.safetensors"))
    manifest = json.loads((d / "manifest.json").read_text())
    for name in manifest["files"]:
        b = (d / name).read_bytes()
        manifest["files"][name] = {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
    (d / "manifest.json").write_text(json.dumps(manifest))
    for r in (rnnkit("classify", "predict", run, "abc"), rnnkit("classify", "eval", run, data)):
        assert r.returncode == 2 and "weight head.bias holds NaN or Inf" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
