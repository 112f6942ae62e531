"""Helpers for the reliability tests: run the ``rnnkit`` CLI as a real subprocess.

Every case runs ``[sys.executable, "-m", "rnnkit", ...]`` from the repository's source, so
exit statuses, signals and stderr are exactly what a user sees.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

REPO = Path(__file__).resolve().parents[2]
# A tiny model: fast enough that a whole run takes well under a second of compute.
TINY = ["--hidden", "16", "--layers", "1", "--batch", "4", "--seq-len", "16", "--no-progress"]


def env(**extra) -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("RNNKIT_FAULT_SAVE_SLEEP", None)
    e.update({k: str(v) for k, v in extra.items()})
    return e


def cmd(*args) -> list[str]:
    return [sys.executable, "-m", "rnnkit", *map(str, args)]


def rnnkit(*args, cwd=None, timeout=120, extra_env=None, input=None) -> subprocess.CompletedProcess:
    """Run the CLI to completion; returns the CompletedProcess (text stdout/stderr)."""
    return subprocess.run(
        cmd(*args),
        cwd=cwd,
        env=env(**(extra_env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def start(*args, cwd=None, extra_env=None) -> subprocess.Popen:
    return subprocess.Popen(
        cmd(*args),
        cwd=cwd,
        env=env(**(extra_env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(pred, proc: subprocess.Popen | None = None, timeout: float = 60, poll: float = 0.002) -> bool:
    """Poll ``pred()`` until true (True), or until ``proc`` exits or time runs out (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        if proc is not None and proc.poll() is not None:
            return bool(pred())
        time.sleep(poll)
    return False


def kill9(proc: subprocess.Popen) -> bool:
    """SIGKILL ``proc`` if it still runs; True if the kill is what ended it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return proc.returncode == -signal.SIGKILL


def write_text(path: Path, n_words: int = 4000, seed: int = 0, extra: str = "") -> Path:
    """Pseudo-text with mixed scripts: Latin, Hangul, an emoji; deterministic for ``seed``."""
    r = random.Random(seed)
    words = [
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        "dog",
        "ran",
        "far",
        "away",
        "안녕",
        "하세요",
        "🙂",
        "x,",
        "y.\n",
    ]
    path.write_text(" ".join(r.choice(words) for _ in range(n_words)) + extra, encoding="utf-8")
    return path


def checkpoint_steps(run: Path) -> list[int]:
    d = run / "ckpt"
    if not d.is_dir():
        return []
    return sorted(int(p.name[5:]) for p in d.iterdir() if p.name.startswith("step-"))


def last_step(run: Path) -> int | None:
    link = run / "last"
    try:
        return int(os.readlink(link).rsplit("-", 1)[1])
    except (OSError, ValueError, IndexError):
        return None


def tensors(ckpt_dir: Path) -> dict[str, np.ndarray]:
    """model + trainer tensors of a checkpoint directory, prefixed ``model/`` and ``trainer/``."""
    out = {f"model/{k}": v for k, v in load_file(str(ckpt_dir / "model.safetensors")).items()}
    out.update({f"trainer/{k}": v for k, v in load_file(str(ckpt_dir / "trainer.safetensors")).items()})
    return out


def assert_bit_identical(a: Path, b: Path) -> None:
    """The weights, optimizer buffers and carried state of two checkpoints are equal bit for bit."""
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        assert ta[k].dtype == tb[k].dtype and ta[k].shape == tb[k].shape, k
        assert ta[k].tobytes() == tb[k].tobytes(), f"{k} differs between {a} and {b}"
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` -> a digest of its content (files) or target (symlinks)."""
    out = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit status 2, exactly one line on stderr, no traceback; the line holds ``needles``."""
    err = proc.stderr
    assert proc.returncode == 2, f"exit {proc.returncode}; stderr: {err!r}; stdout: {proc.stdout!r}"
    assert "Traceback" not in err and "Traceback" not in proc.stdout, err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0], f"expected one line on stderr, got {err!r}"
    for n in needles:
        assert n.lower() in lines[0].lower(), f"{n!r} not in {lines[0]!r}"
    return lines[0]


# One reference run, shared by the resume, checkpoint and signal tests: dropout on (so the
# RNG state matters), a checkpoint every 10 steps, and more than one epoch of the text.
MAX_STEPS = 200
RUN_ARGS = TINY + [
    "--max-steps",
    MAX_STEPS,
    "--save-every",
    "10",
    "--eval-every",
    "50",
    "--val-chars",
    "500",
    "--dropout",
    "0.1",
    "--seed",
    "7",
    "--lr",
    "0.01",
]
_BASELINE: dict = {}


def corpus(root: Path) -> Path:
    return write_text(root / "corpus.txt", n_words=2000, seed=1)


def baseline(tmp_path_factory) -> tuple[Path, Path, float]:
    """(text, run directory, wall seconds) of an uninterrupted run with ``RUN_ARGS``."""
    if "run" not in _BASELINE:
        root = tmp_path_factory.mktemp("baseline")
        text = corpus(root)
        t0 = time.monotonic()
        p = rnnkit("train", text, "--out", root / "run", *RUN_ARGS)
        assert p.returncode == 0, p.stderr
        _BASELINE.update(text=text, run=root / "run", wall=time.monotonic() - t0)
    return _BASELINE["text"], _BASELINE["run"], _BASELINE["wall"]


# A tiny run that checkpoints and validates every 2 steps.
TINY_RUN = TINY + ["--eval-every", "2", "--save-every", "2", "--val-chars", "300"]


def finished_run(text: Path, where: Path, steps: int = 4) -> Path:
    """A finished ``steps``-step ``TINY_RUN`` at ``where/run``, made by the CLI."""
    run = where / "run"
    p = rnnkit("train", text, "--out", run, *TINY_RUN, "--max-steps", str(steps))
    assert p.returncode == 0, p.stderr
    assert last_step(run) == steps
    return run


# One tiny run of each form, trained in-process in well under a second each (see ``form_runs``).
FORM_WORDS = {"en": ["the", "cat", "sat", "on", "mat"], "py": ["def", "f(x):", "return", "x+1", "if"]}
FORM_SETTINGS = {
    "classify": {"bidirectional": True},
    "tag": {"bidirectional": True},
    "seq2seq": {"target_tokens": "words", "embed": 6},
    "generate": {"autoregressive": True},
}


def word_ends(text: str) -> str:
    """'1' on each word's last character, '0' elsewhere: the toy tagging."""
    return "".join("1" if (text + " ")[i + 1] == " " else "0" for i in range(len(text)))


# Each form's TSV line for a phrase and its language.
FORM_LINES = {
    "classify": lambda text, lang: f"{text}\t{lang}",
    "generate": lambda text, lang: f"{lang}\t{text}",
    "seq2seq": lambda text, lang: f"{text}\t{' '.join(text[::-1].upper())}",
    "tag": lambda text, lang: f"{text}\t{word_ends(text)}",
}


def form_tsv(path: Path, verb: str, n: int = 24) -> Path:
    """Toy data of a form: short English or Python-ish phrases ('en'/'py'); seq2seq spells a
    phrase backwards in upper-case words; the tags mark each word's last character with 1."""
    r = random.Random(5)
    lines = []
    for _ in range(n):
        lang = r.choice(sorted(FORM_WORDS))
        text = " ".join(r.choice(FORM_WORDS[lang]) for _ in range(r.randint(1, 3)))
        lines.append(FORM_LINES[verb](text, lang))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def form_runs(root: Path, steps: int = 6) -> dict[str, Path]:
    """verb -> a finished ``steps``-step run of each form under ``root`` (trained in-process:
    hidden 8, a training row every step, validation every 3 steps)."""
    from rnnkit.train.task_config import TaskTrainConfig
    from rnnkit.train.task_trainer import train

    runs = {}
    for verb, extra in FORM_SETTINGS.items():
        data = form_tsv(root / f"{verb}.tsv", verb)
        cfg = TaskTrainConfig(
            verb=verb,
            data=str(data),
            hidden=8,
            batch=4,
            max_steps=steps,
            eval_every=3,
            log_every=1,
            progress=False,
            seed=3,
            **extra,
        )
        assert train(cfg, root / verb, log=lambda *a: None) == 0
        runs[verb] = root / verb
    return runs
