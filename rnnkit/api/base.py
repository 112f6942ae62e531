"""What every model of the Python API shares: a run directory behind it.

``fit`` runs the command line's trainer (``rnnkit.train``) in a run directory: the one
``out=`` names, or a temporary one that lives as long as the model. A second ``fit``
resumes that run, for ``max_steps`` more steps (and ``minutes`` more minutes), so training
continues where it stopped. Afterwards the model holds the run's best checkpoint (the
lowest validation loss, or the best validation metric of a form), which is also what the
CLI's verbs read by default. ``save(path)`` copies the run, so every CLI verb, ``--resume``
included, works on what Python saved.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.metrics_log import iter_metrics

# Keywords of ``fit`` that are not training settings.
FIT_KEYWORDS = ("out", "force", "verbose")


def quiet(*_args: Any, **_kw: Any) -> None:
    """The log of a ``fit(verbose=False)``: says nothing."""


class Model:
    """A model trained in a run directory (see the module docstring).

    A subclass sets ``task`` (``config.json`` 's task), ``config_class`` (its training
    configuration: every field not a model setting or its data is a keyword of ``fit``),
    ``data_fields`` (the configuration's fields ``fit`` fills from its data) and
    ``__signature__`` (its settings, see below), and implements ``_start``, ``_resume`` and
    ``_load``.
    """

    task = ""
    config_class: type = object
    data_fields: tuple[str, ...] = ()
    # The constructor's parameters, the model's settings: a subclass sets it with
    # settings_signature, naming fields of its config_class, which declares their types and
    # defaults once for the command line and for Python. ``help()`` and ``inspect.signature``
    # show a class's ``__signature__`` as its parameters, and ``__init__`` binds its arguments
    # to it as Python would bind them to those parameters written out (a static type checker,
    # which reads only the source, sees ``*args, **kwargs``).
    __signature__ = inspect.Signature()

    def __init__(self, *args: Any, **kwargs: Any):
        """Make an unfitted model with the settings its class's signature lists, given by position
        or by name (the others keep their defaults)."""
        try:
            bound = self.__signature__.bind(*args, **kwargs)
        except TypeError as e:  # Python's words ("got an unexpected keyword argument 'x'")
            raise TypeError(f"{type(self).__name__}(): {e}") from None
        bound.apply_defaults()
        self._settings = dict(bound.arguments)  # the model's settings: fields of config_class
        self.model: Any = None  # the engine's model, once fitted or loaded
        self._run: Path | None = None  # the run directory, once there is one
        self._checkpoint: Path | None = None  # the checkpoint directory the weights came from
        self._tmp: tempfile.TemporaryDirectory | None = None  # holds a run made without out=
        self._inputs: object = None  # the data the run was started on (in this session)
        self.history: dict[str, list[dict]] = {"train": [], "val": []}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings.items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------- subclasses
    def _start(self, cfg, out: Path, force: bool, log: Callable) -> int:
        """Train a new run in ``out`` with ``cfg``; -> the trainer's exit status."""
        raise NotImplementedError

    def _resume(self, run: Path, given: dict, log: Callable) -> int:
        """Continue ``run`` with the settings ``given``; -> the trainer's exit status."""
        raise NotImplementedError

    def _load(self, path: Path) -> None:
        """Load the weights (and vocabularies) of the checkpoint at ``path``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ fit
    def _check_train_args(self, train_args: dict) -> None:
        names = {f.name for f in dataclasses.fields(self.config_class)}
        for k in train_args:
            if k in self._settings:
                raise RnnkitError(
                    f"`{k}` is a setting of the model: give it when making it, "
                    f"rnnkit.{type(self).__name__}({k}=...)"
                )
            if k not in names or k in self.data_fields or k in ("verb", "files"):
                raise RnnkitError(
                    f"{type(self).__name__}.fit() has no argument `{k}`; it takes the training "
                    f"settings of the command line, e.g. max_steps, minutes, batch, lr, seed, out"
                )

    def _fit(self, data: dict, train_args: dict, out, force: bool, verbose: bool):
        """Train a new run on ``data`` (the configuration's data fields), or continue this one."""
        self._check_train_args(train_args)
        if verbose:
            return self._fit_logged(data, train_args, out, force, print)
        # The trainer writes its validation lines above the progress bar, on sys.stderr; a
        # quiet fit sends them, and its log, nowhere. Warnings are kept and shown after it.
        caught: list = []
        try:
            with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(io.StringIO()):
                return self._fit_logged(data, train_args, out, force, quiet)
        finally:
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    def _fit_logged(self, data: dict, train_args: dict, out, force: bool, log: Callable):
        if self._run is None:
            cfg = self.config_class.from_given(**self._settings, **data, **train_args)
            if out is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="rnnkit-")
                run = Path(self._tmp.name) / "run"
            else:
                run = Path(out)
            status = self._start(cfg, run, force, log)
            self._run = run.resolve()
        else:
            if out is not None and Path(out).resolve() != self._run:
                raise RnnkitError(
                    f"this model continues its run in {self._run}; `out` {out} names another directory "
                    f"(make a new model to train elsewhere)"
                )
            status = self._resume(self._run, self._more(train_args), log)
        self.history = read_history(self._run)
        self._load(self._run)
        if status == 130:  # Ctrl-C: the run saved its last step, and fit() again goes on from it
            raise KeyboardInterrupt(f"training stopped; the run in {self._run} is saved")
        return self

    def _check_same_inputs(self, inputs: object) -> None:
        """A continued fit trains on the data the run started with; other data is refused."""
        if self._inputs != inputs:
            raise RnnkitError(
                f"fit() again continues the run on the data it started with; leave the data out "
                f"(CharLM) or give the same again, or make a new {type(self).__name__} to train on other data"
            )

    def _more(self, train_args: dict) -> dict:
        """A continued fit's settings: its budget (``max_steps``, ``minutes``) counted from where
        the run stands, with the configuration's defaults when not given."""
        state = ckpt.load(self._run, which="last").state
        defaults = self.config_class()
        steps = train_args.get("max_steps", defaults.max_steps)
        minutes = train_args.get("minutes", defaults.minutes)
        given = dict(train_args, max_steps=int(state["step"]) + steps)
        given["minutes"] = float(state.get("elapsed_s", 0.0)) / 60 + minutes if minutes else 0.0
        return given

    # ----------------------------------------------------------------- save
    @property
    def run_dir(self) -> Path | None:
        """The run directory behind this model (None for one loaded from a bare checkpoint)."""
        return self._run

    def save(self, path: str | os.PathLike) -> Path:
        """Copy this model's run to ``path`` (a new or empty directory): its best and last
        checkpoints, metrics and data. ``rnnkit.load(path)`` and every CLI verb read it."""
        src = self._run or self._checkpoint
        if src is None:
            raise RnnkitError(f"this {type(self).__name__} has no weights yet: fit or load it first")
        dst = Path(path)
        if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
            raise RnnkitError(f"`path` {dst} exists and is not an empty directory; give a new one")
        if self._run is None:  # a bare checkpoint: copied as one
            shutil.copytree(src, dst, dirs_exist_ok=True)
            return dst
        copy_run(self._run, dst)
        return dst


def settings_signature(config_class: type, names: Sequence[str], **more: Any) -> inspect.Signature:
    """A model constructor's signature (``Model.__signature__``): a parameter for each setting
    in ``names``, in that order (positional arguments take it), with the type and default of
    the ``config_class`` field of that name; then one for each of ``more`` (name=default), a
    parameter that is no field, annotated with its default's type."""
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    lacking = [n for n in names if fields[n].default is dataclasses.MISSING]
    if lacking:  # a list-valued field (default_factory) would show MISSING, or share one list
        raise TypeError(
            f"settings_signature: {', '.join(lacking)} of {config_class.__name__} has no plain default"
        )
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(n, kind, default=fields[n].default, annotation=fields[n].type) for n in names]
    params += [inspect.Parameter(n, kind, default=d, annotation=type(d).__name__) for n, d in more.items()]
    return inspect.Signature(params)


def copy_run(run: Path, dst: Path) -> None:
    """Copy a run directory's marker, metrics, data and its best and last checkpoints (the
    others are pruned anyway) to ``dst``, with ``best`` and ``last`` linking into the copy."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in (ckpt.RUN_MARKER, "metrics.jsonl"):
        if (run / name).is_file():
            shutil.copyfile(run / name, dst / name)
    if (run / "data").is_dir():
        shutil.copytree(run / "data", dst / "data")
    (dst / "ckpt").mkdir()
    for link in ("last", "best"):
        if (run / link).exists():
            target = (run / link).resolve()
            copy = dst / "ckpt" / target.name
            if not copy.exists():
                shutil.copytree(target, copy)
            ckpt.point(dst, link, copy)


def read_history(run: Path) -> dict[str, list[dict]]:
    """The run's ``metrics.jsonl``: its training rows and its validation rows."""
    history: dict[str, list[dict]] = {"train": [], "val": []}
    path = run / "metrics.jsonl"
    if path.is_file():
        for row in iter_metrics(path):
            if row is not None and row.get("kind") in history:
                history[row["kind"]].append({k: v for k, v in row.items() if k != "kind"})
    return history
