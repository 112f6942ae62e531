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
    OUT/rnnkit.lock              while a process trains in OUT: its PID, under fcntl.flock (run_lock.py)
    OUT/.rnnkit-replaced-…/      while a --force run has no checkpoint yet: the run it replaces (RunClaim)

Why this shape: a checkpoint directory appears under its final name only by an atomic
rename after every file in it was written and fsync'ed, and ``last``/``best`` move by an
atomic symlink swap. A crash at any moment therefore leaves the previous checkpoint
whole, and a half-written directory is never named ``last``. The manifest catches a file
truncated or edited afterwards. Nothing is ever unpickled: safetensors holds only arrays,
JSON only data, and both are validated before use.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from rnnkit.errors import RnnkitError, RnnkitWarning, write_error

from .run_lock import LOCK_NAME, RunLock

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


def _write_atomically(path: Path, data: bytes) -> None:
    """Write, fsync, then rename into place: a reader (or a resume after SIGKILL) sees the
    old file or the whole new one, never a partial one."""
    tmp = path.with_name(f".{path.name}.tmp")
    _write(tmp, data)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _json_bytes(obj) -> bytes:
    return json.dumps(obj, indent=1, ensure_ascii=False, sort_keys=True).encode("utf-8")


def is_run_dir(path: Path) -> bool:
    return (path / RUN_MARKER).is_file()


# What rnnkit writes in a run directory. Only these are ever deleted by --force.
RUN_NAMES = (RUN_MARKER, "ckpt", "last", "best", "data", "metrics.jsonl", ".last.tmp", ".best.tmp")


def check_out_dir(out: Path, force: bool = False, locked: bool = False) -> None:
    """Refuse an ``--out`` that would clobber something; changes nothing on disk.

    A new or empty directory is fine. An existing run needs ``force`` (start over). Any
    other non-empty directory needs ``force`` too, and even then is refused if it holds a
    file or directory under one of the names rnnkit writes, since that is not rnnkit's.
    The lock file (``run_lock``) does not count; ``locked``: it is this process's own.
    """
    if out.exists() and not out.is_dir():
        raise RnnkitError(f"`out` {out} exists and is not a directory")
    if not out.is_dir() or not any(p.name != LOCK_NAME for p in out.iterdir()):
        return
    if is_run_dir(out):
        if not force:
            raise RnnkitError(
                f"`out` {out} already holds a run; continue it with `resume` {out}, "
                f"or pass `force` to start over (its checkpoints are deleted)"
            )
        return
    if not force:
        raise RnnkitError(
            f"`out` {out} is an existing directory that is not an rnnkit run; "
            f"choose another, or pass `force` to use it anyway"
        )
    names = RUN_NAMES if locked else RUN_NAMES + (LOCK_NAME,)
    clash = [n for n in names if (out / n).exists() or (out / n).is_symlink()]
    if clash:
        raise RnnkitError(
            f"`out` {out} is not an rnnkit run but holds {', '.join(clash)}, which rnnkit "
            f"would overwrite; choose another directory"
        )


def check_inputs_outside(out: Path, inputs: Iterable[str | Path]) -> None:
    """Refuse input files that lie inside what ``--force`` replaces in run ``out`` (its
    ``RUN_NAMES`` entries): the old run, and they with it, would be deleted. Reads only."""
    if not is_run_dir(out):
        return
    for f in inputs:
        for name in RUN_NAMES:
            entry = out / name
            if not (entry.exists() or entry.is_symlink()):
                continue
            # By path (the entry is replaced, so the path stops naming the file), and by the
            # real location, unless the entry is a symlink (the link moves, its target stays).
            pairs = [(Path(os.path.abspath(f)), Path(os.path.abspath(entry)))]
            if not entry.is_symlink():
                pairs.append((Path(f).resolve(), entry.resolve()))
            if any(a == b or b in a.parents for a, b in pairs):
                raise RnnkitError(
                    f"input {f} lies inside {entry}, which `force` replaces with the new run's; "
                    f"move it out of the run directory first"
                )


# Runs this process is replacing (--force): run directory -> where its old entries lie.
# ``save_and_link`` deletes the old run once the new one has a checkpoint linked as ``last``.
_REPLACED: dict[Path, Path] = {}


class RunClaim:
    """What a training process holds on its run directory, for the whole run (``with``).

    ``resume(run)`` takes the lock (``run_lock.RunLock``) on an existing run. ``start(out,
    force, train_config)`` makes ``out`` a new run under that lock:

    - ``out`` is created if missing, locked, and checked again now that no one else can
      change it (``check_out_dir``);
    - with ``force`` on an existing run, rnnkit's entries in it (``RUN_NAMES``) are moved,
      not deleted, into ``out/.rnnkit-replaced-…``; a symlink among them moves as a link,
      so nothing is ever written through it;
    - the run marker is written, recording ``train_config`` so that a run killed before
      its first checkpoint can be resumed.

    The old run is deleted once the new run has its first checkpoint (``save_and_link``).
    If the new run ends without one (an error, a refusal, a failed first save), the start
    is undone on exit: the new entries are deleted, the old ones moved back, and the
    directories created here removed. A ``keep_on`` exception (a signal during data
    preparation) keeps a new run's marker when nothing was moved aside, so that ``--resume``
    can start it over. The lock is released last. (A process killed while it holds an old
    run aside leaves it in ``out/.rnnkit-replaced-…``, whole.)
    """

    def __init__(self, keep_on: tuple = ()):
        self.keep_on = keep_on
        self.lock: RunLock | None = None
        self.out: Path | None = None
        self.made: list[Path] = []  # directories start() created, outermost first
        self.started = False  # out was checked under the lock: what it writes is its own
        self.backup: Path | None = None
        self.moved: list[str] = []
        self.restored = False  # the replaced run was put back on exit

    def resume(self, run: Path) -> None:
        self.lock = RunLock(run).acquire()

    def start(self, out: Path, force: bool, train_config: dict | None = None) -> None:
        self.out = out
        try:
            for d in reversed([out, *out.parents]):
                if not d.exists():
                    d.mkdir()
                    self.made.append(d)
        except FileExistsError:
            pass  # made by someone else meanwhile: the checks below decide
        except OSError as e:
            raise RnnkitError(f"cannot create the run directory {out}: {e.strerror or e}") from None
        self.lock = RunLock(out).acquire()
        check_out_dir(out, force, locked=True)  # again: another process may have started here
        self.started = True
        try:
            if force and is_run_dir(out):
                self.backup = Path(tempfile.mkdtemp(prefix=".rnnkit-replaced-", dir=out))
                _REPLACED[out.resolve()] = self.backup
                for name in RUN_NAMES:
                    if (out / name).exists() or (out / name).is_symlink():
                        os.rename(out / name, self.backup / name)
                        self.moved.append(name)
            marker = {"format_version": FORMAT_VERSION}
            if train_config is not None:
                marker["train"] = train_config
            _write_atomically(out / RUN_MARKER, _json_bytes(marker))
        except OSError as e:
            raise RnnkitError(f"cannot start a run in {out}: {e.strerror or e}") from None

    def __enter__(self) -> RunClaim:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        undo = False
        try:
            if self.out is not None and self.lock is not None and not has_checkpoint(self.out):
                keep = exc_type is not None and issubclass(exc_type, self.keep_on) and not self.moved
                undo = not keep
                if undo and self.started:
                    self._undo()
        finally:
            if self.out is not None:
                backup = _REPLACED.pop(self.out.resolve(), None)
                if backup is not None and (not undo or not self.moved):  # kept if the undo failed
                    shutil.rmtree(backup, ignore_errors=True)
            if self.lock is not None:
                self.lock.release()
            if undo or self.lock is None:
                for d in reversed(self.made):  # only if empty: a run someone else made stays
                    try:
                        d.rmdir()
                    except OSError:
                        break
        return False

    def _undo(self) -> None:
        """Delete what this start wrote and put the old run back (best effort: a failure
        here must not hide the error that brought us here, so it is one ``RnnkitWarning``)."""
        out = self.out
        try:
            for name in RUN_NAMES:
                p = out / name
                if p.is_symlink() or p.is_file():
                    p.unlink()
                elif p.is_dir():
                    shutil.rmtree(p)
            for name in self.moved:
                os.rename(self.backup / name, out / name)
            self.restored = bool(self.moved)
            if self.backup is not None:
                self.backup.rmdir()
                self.moved = []
        except OSError as e:
            where = f"; the run it replaced is in {self.backup}" if self.moved else ""
            warnings.warn(
                RnnkitWarning(f"could not undo the failed start in {out} ({e.strerror or e}){where}"),
                stacklevel=2,
            )


def read_run_marker(out: Path) -> dict:
    """The JSON of ``out/rnnkit-run.json`` ({} if it is unreadable)."""
    try:
        obj = json.loads((out / RUN_MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return obj if isinstance(obj, dict) else {}


def has_checkpoint(out: Path) -> bool:
    """Whether run directory ``out`` names a checkpoint (``last`` or ``best`` resolves)."""
    return any((out / l).exists() for l in ("last", "best"))


def _disk_error(e: OSError, what: str, out: Path) -> RnnkitError:
    return write_error(
        e,
        what,
        f"the previous checkpoint is intact. Free space and continue with: rnnkit train --resume {out}",
    )


def _fault_sleep() -> float:
    """Testing hook: seconds to pause after each file of a checkpoint (RNNKIT_FAULT_SAVE_SLEEP),
    so a test can kill the process in the middle of a save."""
    try:
        return float(os.environ.get("RNNKIT_FAULT_SAVE_SLEEP", "0"))
    except ValueError:
        return 0.0


# Checkpoint directories this process has written (``save``): the same step saved twice by
# one process holds the same state; by two processes, not necessarily.
_WRITTEN: set[Path] = set()


def save(
    out: Path, step: int, model: dict, trainer: dict, config: dict, vocab_json: str, state: dict
) -> Path:
    """Write checkpoint ``out/ckpt/step-{step}`` atomically and return its path.

    ``model``/``trainer``: name -> array. Refuses (``NonFiniteCheckpoint``) to write
    non-finite weights or optimizer buffers, so a diverged model never replaces a good
    checkpoint. Each file is written and fsync'ed in a temporary directory, which is then
    fsync'ed and renamed into place. A full disk raises a ``RnnkitError`` and leaves earlier
    checkpoints as they were.
    """
    for group in (model, trainer):
        for k, v in group.items():
            if np.issubdtype(np.asarray(v).dtype, np.floating) and not np.all(np.isfinite(v)):
                raise NonFiniteCheckpoint(f"{k} holds NaN or Inf; checkpoint not written")
    ckdir = out / "ckpt"
    final = ckdir / f"step-{step:08d}"
    tmp = ckdir / f".tmp-step-{step:08d}-{os.getpid()}"
    pause = _fault_sleep()
    try:
        ckdir.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
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
            if pause:
                time.sleep(pause)
        manifest = {
            "format_version": FORMAT_VERSION,
            "files": {
                n: {"bytes": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in blobs.items()
            },
        }
        _write(tmp / "manifest.json", _json_bytes(manifest))
        _fsync_dir(tmp)
        if final.exists():
            linked = {(out / l).resolve() for l in ("last", "best") if (out / l).exists()}
            if final.resolve() in linked and final.resolve() in _WRITTEN:
                # This process saved this very step already (a stop right after a periodic
                # save): the same state, and last/best point at it, so keep it.
                shutil.rmtree(tmp)
                return final
            if final.resolve() in linked:
                # Another timeline's step N, still linked: a run resumed from ``best`` that
                # has come back to the step ``last`` had reached. Its state differs, so it
                # gets a name of its own; the links move to it, and prune drops the old one.
                k = 1
                while (ckdir / f"step-{step:08d}.{k}").exists():
                    k += 1
                final = ckdir / f"step-{step:08d}.{k}"
            else:
                # A leftover of a run killed between its rename and its symlink swap: nothing
                # points at it, so it is replaced by the checkpoint just written.
                stale = ckdir / f".tmp-stale-{step:08d}-{os.getpid()}"
                os.replace(final, stale)
                shutil.rmtree(stale, ignore_errors=True)
        os.replace(tmp, final)
        _fsync_dir(ckdir)
        _WRITTEN.add(final.resolve())
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _disk_error(e, f"a checkpoint in {ckdir}", out) from None
    return final


def save_and_link(
    out: Path, step: int, model: dict, trainer: dict, config: dict, vocab_json: str, state: dict, best: bool
) -> Path:
    """A trainer's save: ``save``, then ``last`` (and ``best`` when ``best``) moved to it, then
    the checkpoints neither link names any more deleted (``prune``). The first one of a
    ``--force`` run also deletes the run it replaces (``RunClaim``)."""
    path = save(out, step, model, trainer, config, vocab_json, state)
    point(out, "last", path)
    replaced = _REPLACED.pop(Path(out).resolve(), None)
    if replaced is not None:  # the new run has a checkpoint: the run it replaces goes
        shutil.rmtree(replaced, ignore_errors=True)
    if best:
        point(out, "best", path)
    prune(out)
    return path


def point(out: Path, link: str, target: Path) -> None:
    """Atomically make ``out/link`` a symlink to ``target`` (a checkpoint directory)."""
    tmp = out / f".{link}.tmp"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(os.path.relpath(target, out), tmp)
        os.replace(tmp, out / link)
        _fsync_dir(out)
    except OSError as e:
        raise _disk_error(e, f"the {link} link in {out}", out) from None


def prune(out: Path) -> None:
    """Delete checkpoint directories that neither ``last`` nor ``best`` points to, and
    temporary directories left by an earlier process that was killed while saving."""
    keep = {(out / l).resolve() for l in ("last", "best") if (out / l).exists()}
    ckdir = out / "ckpt"
    if not ckdir.is_dir():
        return
    mine = f"-{os.getpid()}"
    for d in ckdir.iterdir():
        if not d.is_dir() or d.resolve() in keep:
            continue
        if d.name.startswith(".tmp-") and d.name.endswith(mine):
            continue  # this process's save in progress
        _WRITTEN.discard(d.resolve())
        shutil.rmtree(d, ignore_errors=True)


def resolve(path: str | Path, which: str = "best") -> Path:
    """A checkpoint directory from a run directory (its ``best``, else ``last``) or itself."""
    p = Path(path)
    if not p.exists():
        raise RnnkitError(f"no such checkpoint or run directory: {p}")
    if (p / "manifest.json").is_file() or (p / "model.safetensors").is_file():
        return p
    order = [which, "last" if which == "best" else "best"]
    for name in order:
        if (p / name).exists():
            return (p / name).resolve()
    raise RnnkitError(f"{p} holds no checkpoint (no {p / 'last'}); is it an rnnkit run directory?")


def run_dir_of(ckpt_dir: Path) -> Path:
    """The run directory ``RUN`` that holds checkpoint ``RUN/ckpt/step-N``.

    ``ckpt_dir`` may be reached through the ``RUN/last`` or ``RUN/best`` symlink (or any
    other link), so it is resolved first: taking ``.parent.parent`` of the link itself
    would name the directory above ``RUN``, and a resume would read and write there. A
    checkpoint that does not sit in a run directory (copied out of one) is a ``RnnkitError``,
    since a resume must continue writing into the run it came from.
    """
    real = Path(ckpt_dir).resolve()
    run = real.parent.parent
    if real.parent.name != "ckpt" or not is_run_dir(run):
        raise RnnkitError(
            f"cannot tell which run checkpoint {ckpt_dir} belongs to (expected RUN/ckpt/step-N "
            f"next to RUN/{RUN_MARKER}); give the run directory to `resume`"
        )
    return run


def run_of_resume(path: Path) -> Path:
    """The run directory a ``--resume PATH`` continues: PATH itself, or the run holding the
    checkpoint PATH names (``RUN/last``, ``RUN/best``, ``RUN/ckpt/step-N``)."""
    p = Path(path)
    if is_run_dir(p):
        return p.resolve()
    return run_dir_of(resolve(p))


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
        raise RnnkitError(f"checkpoint {where}: {name} is not valid JSON ({e})") from None
    except RecursionError:
        raise RnnkitError(
            f"checkpoint {where}: {name} is nested too deeply to be a checkpoint file"
        ) from None
    if not isinstance(obj, dict):
        raise RnnkitError(f"checkpoint {where}: {name} must hold a JSON object")
    return obj


def _load_tensors(data: bytes, name: str, where: Path) -> dict:
    try:
        tensors = st_load(data)
    except Exception as e:  # safetensors raises its own error types on malformed headers
        raise RnnkitError(f"checkpoint {where}: {name} is not a valid safetensors file ({e})") from None
    for k, v in tensors.items():
        if v.dtype not in ALLOWED_DTYPES:
            raise RnnkitError(f"checkpoint {where}: tensor {k} has unexpected dtype {v.dtype}")
    return tensors


def check_weights(c: Checkpoint) -> None:
    """Refuse, in one line naming the tensor, a weight that is not float32 or float64 or that
    holds NaN or Inf (a model would load it and compute garbage)."""
    for k, v in c.model.items():
        if v.dtype != np.float32 and v.dtype != np.float64:
            raise RnnkitError(f"checkpoint {c.dir}: weight {k} has dtype {v.dtype}, expected float32")
        if not np.all(np.isfinite(v)):
            raise RnnkitError(f"checkpoint {c.dir}: weight {k} holds NaN or Inf")


def load(path: str | Path, task: str | None = None, which: str = "best") -> Checkpoint:
    """Load and verify a checkpoint. Every failure is a ``RnnkitError`` with one clear line."""
    d = resolve(path, which)
    man_path = d / "manifest.json"
    if not man_path.is_file():
        raise RnnkitError(
            f"checkpoint {d} has no manifest.json: it is incomplete or not an rnnkit checkpoint"
        )
    manifest = _load_json(man_path.read_bytes(), "manifest.json", d)
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise RnnkitError(f"checkpoint {d}: manifest.json has no format version")
    if version > FORMAT_VERSION:
        raise RnnkitError(
            f"checkpoint {d} has format version {version}, newer than this rnnkit "
            f"understands ({FORMAT_VERSION}); upgrade rnnkit"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != set(FILES):
        raise RnnkitError(f"checkpoint {d}: manifest.json does not list the expected files")
    blobs = {}
    for name in FILES:
        try:
            data = (d / name).read_bytes()
        except OSError:
            raise RnnkitError(f"checkpoint {d}: {name} is missing") from None
        entry = files[name]
        if (
            not isinstance(entry, dict)
            or len(data) != entry.get("bytes")
            or hashlib.sha256(data).hexdigest() != entry.get("sha256")
        ):
            raise RnnkitError(
                f"checkpoint {d}: {name} is truncated or was modified (size or SHA-256 "
                f"differs from manifest.json)"
            )
        blobs[name] = data
    config = _load_json(blobs["config.json"], "config.json", d)
    if task is not None and config.get("task") != task:
        raise RnnkitError(f"checkpoint {d} is for task {config.get('task')!r}, not {task!r}")
    state = _load_json(blobs["state.json"], "state.json", d)
    try:
        vocab_json = blobs["vocab.json"].decode("utf-8")
    except UnicodeDecodeError:
        raise RnnkitError(f"checkpoint {d}: vocab.json is not UTF-8") from None
    return Checkpoint(
        d,
        config,
        vocab_json,
        state,
        _load_tensors(blobs["model.safetensors"], "model.safetensors", d),
        _load_tensors(blobs["trainer.safetensors"], "trainer.safetensors", d),
    )
