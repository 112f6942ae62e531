"""Checkpoints: a directory of safetensors and JSON, written atomically, verified on load.

Layout of a run directory ``OUT``::

    OUT/rnnkit-run.json          marks OUT as an rnnkit run (so --out never clobbers other data)
    OUT/ckpt/step-00000500/      one checkpoint:
        model.safetensors        weights, torch.nn names (embedding./rnn./head. prefixes)
        trainer.safetensors      optimizer buffers, carried hidden state, other arrays
        config.json              format version, task, model and training configuration
        vocab.json               the vocabulary
        state.json               step, data position, RNG state, best validation loss, ...
        manifest.json            size and SHA-256 of each file above; written last
    OUT/last -> ckpt/step-…      symlinks, swapped atomically with os.replace
    OUT/best -> ckpt/step-…

Why this shape: a checkpoint directory appears under its final name only by an atomic
rename after every file in it was written and fsync'ed, and ``last``/``best`` move by an
atomic symlink swap. A crash at any moment therefore leaves the previous checkpoint
whole, and a half-written directory is never named ``last``. The manifest catches a file
truncated or edited afterwards. Nothing is ever unpickled: safetensors holds only arrays,
JSON only data, and both are validated before use.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from .errors import UserError

FORMAT_VERSION = 1
RUN_MARKER = "rnnkit-run.json"
FILES = ("model.safetensors", "trainer.safetensors", "config.json", "vocab.json", "state.json")
ALLOWED_DTYPES = {np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)}


class NonFiniteCheckpoint(Exception):
    """Raised instead of saving weights that hold NaN or Inf."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _json_bytes(obj) -> bytes:
    return json.dumps(obj, indent=1, ensure_ascii=False, sort_keys=True).encode("utf-8")


def is_run_dir(path: Path) -> bool:
    return (path / RUN_MARKER).is_file()


def init_run_dir(out: Path, force: bool = False) -> None:
    """Create ``out`` as a run directory, refusing to reuse a directory that is not one."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if is_run_dir(out) and not force:
            raise UserError(f"--out {out} already holds a run; continue it with --resume {out}, "
                            f"or pass --force to start over (its checkpoints are deleted)")
        if not is_run_dir(out) and not force:
            raise UserError(f"--out {out} is an existing directory that is not an rnnkit run; "
                            f"choose another, or pass --force to use it anyway")
        for name in ("ckpt", "last", "best", "metrics.jsonl"):
            p = out / name
            if p.is_symlink() or p.is_file():
                p.unlink()
            elif p.is_dir():
                shutil.rmtree(p)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / RUN_MARKER, _json_bytes({"format_version": FORMAT_VERSION}))


def save(out: Path, step: int, model: dict, trainer: dict, config: dict, vocab_json: str, state: dict) -> Path:
    """Write checkpoint ``out/ckpt/step-{step}`` atomically and return its path.

    ``model``/``trainer``: name -> array. Refuses (``NonFiniteCheckpoint``) to write
    non-finite weights, so a diverged model never replaces a good checkpoint. A full disk
    raises a ``UserError`` and leaves earlier checkpoints as they were.
    """
    for k, v in model.items():
        if not np.all(np.isfinite(v)):
            raise NonFiniteCheckpoint(f"weights {k} hold NaN or Inf; checkpoint not written")
    ckdir = out / "ckpt"
    ckdir.mkdir(parents=True, exist_ok=True)
    final = ckdir / f"step-{step:08d}"
    tmp = ckdir / f".tmp-step-{step:08d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir()
        blobs = {
            "model.safetensors": st_save({k: np.ascontiguousarray(v) for k, v in model.items()}),
            "trainer.safetensors": st_save({k: np.ascontiguousarray(v) for k, v in trainer.items()}),
            "config.json": _json_bytes({"format_version": FORMAT_VERSION, **config}),
            "vocab.json": vocab_json.encode("utf-8"),
            "state.json": _json_bytes(state),
        }
        for name, data in blobs.items():
            _write(tmp / name, data)
        manifest = {"format_version": FORMAT_VERSION,
                    "files": {n: {"bytes": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in blobs.items()}}
        _write(tmp / "manifest.json", _json_bytes(manifest))
        _fsync_dir(tmp)
        if final.exists():  # this step is already saved (e.g. a stop right after a periodic save):
            shutil.rmtree(tmp)  # keep it, since last/best may point at it
            return final
        os.replace(tmp, final)
        _fsync_dir(ckdir)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if e.errno == errno.ENOSPC:
            raise UserError(f"disk full while saving a checkpoint in {ckdir}; the previous checkpoint "
                            f"is intact. Free space and --resume {out}") from None
        raise UserError(f"could not save a checkpoint in {ckdir}: {e}") from None
    return final


def point(out: Path, link: str, target: Path) -> None:
    """Atomically make ``out/link`` a symlink to ``target`` (a checkpoint directory)."""
    tmp = out / f".{link}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(target, out), tmp)
    os.replace(tmp, out / link)
    _fsync_dir(out)


def prune(out: Path) -> None:
    """Delete checkpoint directories that neither ``last`` nor ``best`` points to."""
    keep = {(out / l).resolve() for l in ("last", "best") if (out / l).exists()}
    ckdir = out / "ckpt"
    if not ckdir.is_dir():
        return
    for d in ckdir.iterdir():
        if d.is_dir() and d.resolve() not in keep and not d.name.startswith(".tmp-"):
            shutil.rmtree(d, ignore_errors=True)


def resolve(path: str | Path, which: str = "best") -> Path:
    """A checkpoint directory from a run directory (its ``best``, else ``last``) or itself."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"no such checkpoint or run directory: {p}")
    if (p / "manifest.json").is_file() or (p / "model.safetensors").is_file():
        return p
    order = [which, "last" if which == "best" else "best"]
    for name in order:
        if (p / name).exists():
            return (p / name).resolve()
    raise UserError(f"{p} holds no checkpoint (no {p / 'last'}); is it an rnnkit run directory?")


@dataclass
class Checkpoint:
    dir: Path
    config: dict
    vocab_json: str
    state: dict
    model: dict
    trainer: dict


def _load_json(data: bytes, name: str, where: Path):
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"checkpoint {where}: {name} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise UserError(f"checkpoint {where}: {name} must hold a JSON object")
    return obj


def _load_tensors(data: bytes, name: str, where: Path) -> dict:
    try:
        tensors = st_load(data)
    except Exception as e:  # safetensors raises its own error types on malformed headers
        raise UserError(f"checkpoint {where}: {name} is not a valid safetensors file ({e})") from None
    for k, v in tensors.items():
        if v.dtype not in ALLOWED_DTYPES:
            raise UserError(f"checkpoint {where}: tensor {k} has unexpected dtype {v.dtype}")
    return tensors


def load(path: str | Path, task: str | None = None, which: str = "best") -> Checkpoint:
    """Load and verify a checkpoint. Every failure is a ``UserError`` with one clear line."""
    d = resolve(path, which)
    man_path = d / "manifest.json"
    if not man_path.is_file():
        raise UserError(f"checkpoint {d} has no manifest.json: it is incomplete or not an rnnkit checkpoint")
    manifest = _load_json(man_path.read_bytes(), "manifest.json", d)
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise UserError(f"checkpoint {d}: manifest.json has no format version")
    if version > FORMAT_VERSION:
        raise UserError(f"checkpoint {d} has format version {version}, newer than this rnnkit "
                        f"understands ({FORMAT_VERSION}); upgrade rnnkit")
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != set(FILES):
        raise UserError(f"checkpoint {d}: manifest.json does not list the expected files")
    blobs = {}
    for name in FILES:
        try:
            data = (d / name).read_bytes()
        except OSError:
            raise UserError(f"checkpoint {d}: {name} is missing") from None
        entry = files[name]
        if not isinstance(entry, dict) or len(data) != entry.get("bytes") \
                or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise UserError(f"checkpoint {d}: {name} is truncated or was modified (size or SHA-256 "
                            f"differs from manifest.json)")
        blobs[name] = data
    config = _load_json(blobs["config.json"], "config.json", d)
    if task is not None and config.get("task") != task:
        raise UserError(f"checkpoint {d} is for task {config.get('task')!r}, not {task!r}")
    state = _load_json(blobs["state.json"], "state.json", d)
    try:
        vocab_json = blobs["vocab.json"].decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"checkpoint {d}: vocab.json is not UTF-8") from None
    return Checkpoint(d, config, vocab_json, state,
                      _load_tensors(blobs["model.safetensors"], "model.safetensors", d),
                      _load_tensors(blobs["trainer.safetensors"], "trainer.safetensors", d))
