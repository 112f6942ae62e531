"""One trainer for every model: the character language model and the four task forms.

A ``Trainer`` owns what every run has: the model and its optimizer, the step, the
learning-rate schedule and its non-finite scale, the clock, the best validation value and
the seeded generator; it saves and restores them, and ``run_loop`` drives it. A subclass
supplies only what differs (``lm_trainer.LMTrainer``, ``task_trainer.TaskTrainer``):

    forward_batch()      the next batch's mean loss and cache   (how to batch, the loss)
    advance(finite)      move the data position past that batch
    validate()           the validation metrics                  (the metric)
    extra_state()        its part of ``state.json`` and of the trainer tensors

One step, for every model:

    loss, cache = forward_batch()
    g = d loss / d θ                                    (backward; BPTT inside the batch)
    g = mean of g over torchrun ranks;   clip g
    if loss and |g| are finite:  θ <- optimizer(θ, g, lr(step));  then θ must be finite
                                 (--ema: fold θ into the average θ̄, ``optim/average.py``)
    advance the data position;  step <- step + 1

With ``--ema`` a run validates θ̄ and saves it as the checkpoint's model; θ, from which
training goes on, is saved with the trainer state.

Everything that decides the next step goes into every checkpoint, so ``--resume``
continues bit-identically.

Early stopping (``--patience N``): each validation that does not beat the best adds one to
``evals_since_best`` (saved with the rest), a new best resets it, and the run ends once it
reaches N, right after that validation's checkpoint; ``best`` holds the best one. Resuming a
run that stopped so ends at once with a line saying so, unless the resume gives a larger
``--patience`` (or 0, never): then it trains on from where it stopped.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.errors import RnnkitError, TrainingFailed, message_of
from rnnkit.models.backbone import BackboneConfig
from rnnkit.optim.average import WeightAverage
from rnnkit.optim.optimizers import clip_gradients, make_optimizer
from rnnkit.optim.schedule import learning_rate
from rnnkit.torch import distributed

from . import checkpoint as ckpt
from .heap import keep_freed_memory
from .interrupt import StopAtOnce, Stopped, StopRequest
from .metrics_log import MetricsLog
from .nonfinite import NonFiniteGuard, kept_message, weights_finite
from .progress import TrainingProgress
from .settings import TrainSettings

# --ema: a checkpoint's trainer tensors hold the weights training goes on from under these names
# (the model's holding the average) and the number of updates averaged.
TRAINING_WEIGHTS = "ema.training."
EMA_UPDATES = "ema.updates"


def build_optimizer(cfg: TrainSettings, model: Any) -> Any:
    """The optimizer ``cfg`` names, over ``model`` 's flat parameters (on its device, for the
    torch engine's language model)."""
    adam = {"weight_decay": cfg.weight_decay, "betas": (0.9, cfg.beta2)}  # Adam's and AdamW's
    hp = {"sgd": {"momentum": cfg.momentum}, "adam": adam, "adamw": adam}.get(cfg.optimizer, {})
    if hasattr(model, "make_optimizer"):  # the torch engine (on its device)
        return model.make_optimizer(cfg.optimizer, **hp)
    return make_optimizer(cfg.optimizer, model.flat, **hp)


def merge_resume(saved: TrainSettings, given: dict, resumable: set) -> TrainSettings:
    """The saved configuration, with the given settings that may change on resume (``resumable``);
    any other setting that differs is refused in one line."""
    d = saved.to_dict()
    for k, v in given.items():
        if d.get(k) != v:
            if k not in resumable:
                raise RnnkitError(
                    f"`{k}` differs from the run being resumed "
                    f"({v!r} given, {d.get(k)!r} saved); drop the flag or start a new run"
                )
            d[k] = v
    return type(saved).from_dict(d)


def absolute_input(path: str, run: Path | None = None, what: str = "input") -> str:
    """An input file's path made absolute, so that a resume reads the same file from any
    directory. Runs saved by earlier versions recorded paths as given, relative to the directory
    they were started in: read from there they still resolve; read from elsewhere (``run``, the
    run being resumed, given) the run is refused in one line naming that directory's role
    (and ``what`` the path is)."""
    if run is not None and not os.path.isabs(path) and not os.path.exists(path):
        raise RnnkitError(
            f"{run} recorded its {what} as {path!r}, relative to the directory it was started in, "
            f"and there is no {path} here ({os.getcwd()}); resume it from that directory"
        )
    return os.path.abspath(path)


def with_defaults(cfg: BackboneConfig, saved: dict) -> dict:
    """``saved`` (a checkpoint's model configuration) with the fields of ``cfg``'s dataclass added
    since it was written, at their defaults: a default keeps the behaviour of before (no weight
    drop, step dropout, untied weights)."""
    if not isinstance(saved, dict):
        return saved
    added = {f.name: f.default for f in fields(cfg) if f.name not in saved and f.default is not MISSING}
    return {**saved, **added}


class Trainer:
    """The state and the step every run shares; a subclass supplies batches, loss and metric.

    Subclasses set ``task`` (``config.json`` 's task), ``metric`` and ``higher_better`` (the
    validation value that picks ``best``), ``rate_unit`` (what the progress bar counts per
    second), and ``model``, ``cfg``, ``out`` before calling ``Trainer.__init__``.
    """

    task = ""
    metric = ""
    higher_better = False
    rate_unit = ""

    def __init__(self, cfg, out: Path, log, model, best=None):
        self.cfg, self.out, self.log, self.model = cfg, out, log, model
        self.dist = distributed.current()  # one process, or a torchrun rank
        self.opt = build_optimizer(cfg, model)
        self.average = WeightAverage(cfg.ema) if cfg.ema else None  # --ema: θ̄, validated and saved
        self.rng = np.random.default_rng(cfg.seed)
        self.step = 0
        self.epoch = 0
        self.best, self.best_loss = best, float("inf")  # best metric value, its validation loss
        self.evals_since_best = 0  # validations in a row without a new best (early stopping)
        self.lr_scale = 1.0
        self.elapsed = 0.0

    # ------------------------------------------------------------- what differs
    def forward_batch(self) -> tuple[float, object, int]:
        """-> (mean loss, cache for ``model.backward``, items in the batch on this rank)."""
        raise NotImplementedError

    def advance(self, finite: bool) -> None:
        """Move the data position past the batch of ``forward_batch`` (``finite``: it was applied)."""
        raise NotImplementedError

    def validate(self) -> dict:
        raise NotImplementedError

    def extra_state(self) -> tuple[dict, dict]:
        """-> (this run's keys of ``state.json``, its trainer tensors)."""
        raise NotImplementedError

    def load_extra_state(self, state: dict, tensors: dict) -> None:
        """Restore what ``extra_state`` saved; raise ValueError/KeyError/TypeError if it does not fit."""
        raise NotImplementedError

    def config_dict(self) -> dict:
        return {"task": self.task, "model": self.model.cfg.to_dict(), "train": self.cfg.to_dict()}

    def vocab_json(self) -> str:
        raise NotImplementedError

    def check_checkpoint(self, c: ckpt.Checkpoint) -> None:
        """Refuse a checkpoint that is not of this run (beyond the model configuration)."""

    def train_row(self, r: dict, rate: float) -> dict:
        """The metrics-log fields of a training line, beyond the common ones."""
        return {}

    def val_row(self, v: dict) -> dict:
        return {k: x for k, x in v.items() if isinstance(x, (int, float))}

    def val_line(self, v: dict) -> str:
        raise NotImplementedError

    def done_line(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        """The line that opens a run: the model, its data and where it saves."""
        raise NotImplementedError

    @property
    def resume_command(self) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------- state
    def save(self, best: bool = False) -> Path | None:
        """Write a checkpoint (rank 0 alone); -> its directory, None on other ranks."""
        extra, tensors = self.extra_state()
        state = {
            "step": self.step,
            "epoch": self.epoch,
            "lr_scale": self.lr_scale,
            "elapsed_s": self.elapsed,
            "evals_since_best": self.evals_since_best,
            "rng": self.rng.bit_generator.state,
            **extra,
        }
        trainer = dict(self.opt.state_dict())
        trainer.update(tensors)
        if not self.dist.is_main:  # rank 0 alone writes
            return None
        weights = self.model.flat.state_dict()
        if self.has_average:
            # --ema: the checkpoint's model is the average (what was validated, what eval and
            # sample read); the weights training goes on from travel with the trainer state.
            trainer.update({TRAINING_WEIGHTS + k: v for k, v in weights.items()})
            trainer[EMA_UPDATES] = np.array([self.average.updates], dtype=np.int64)
            with self.averaged_weights():
                weights = self.model.flat.state_dict()
        return ckpt.save_and_link(
            self.out, self.step, weights, trainer, self.config_dict(), self.vocab_json(), state, best
        )

    def restore(self, c: ckpt.Checkpoint) -> None:
        """Load weights, optimizer, data position and RNG from ``c``, after checking that its
        model configuration and values fit this run."""
        want = self.model.cfg.to_dict()
        if with_defaults(self.model.cfg, c.config.get("model")) != want:
            raise RnnkitError(
                f"checkpoint {c.dir} does not match this run: its model configuration "
                f"{c.config.get('model')!r} differs from {want!r}"
            )
        self.check_checkpoint(c)
        for k, v in list(c.model.items()) + list(c.trainer.items()):
            if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
                raise RnnkitError(f"checkpoint {c.dir}: {k} holds NaN or Inf")
        try:
            self.model.flat.load_state_dict(c.model)
            if self.average is not None and EMA_UPDATES in c.trainer:  # the model is the average
                self.average.resume(self.model.flat.data, int(c.trainer[EMA_UPDATES][0]))
                n = len(TRAINING_WEIGHTS)
                self.model.flat.load_state_dict(
                    {k[n:]: v for k, v in c.trainer.items() if k.startswith(TRAINING_WEIGHTS)}
                )
            self.opt.load_state_dict(c.trainer)
            s = c.state
            self.step, self.epoch = int(s["step"]), int(s["epoch"])
            self.load_extra_state(s, c.trainer)
            self.lr_scale = float(s["lr_scale"])
            self.elapsed = float(s.get("elapsed_s", 0.0))
            self.evals_since_best = int(s.get("evals_since_best", 0))  # absent before --patience
            self.rng.bit_generator.state = s["rng"]
        except (KeyError, ValueError, TypeError) as e:
            raise RnnkitError(f"checkpoint {c.dir} does not match this model: {message_of(e)}") from None
        if self.step > self.cfg.max_steps:
            raise RnnkitError(
                f"`max_steps` {self.cfg.max_steps} is below the step this run is at ({self.step}): a "
                f"resume cannot go back. Give `max_steps` above {self.step}, or start a new run"
            )

    # ------------------------------------------------------------------- steps
    def lr(self) -> float:
        c = self.cfg
        frac = self.elapsed / (c.minutes * 60) if c.minutes else 0.0
        return self.lr_scale * learning_rate(self.step, c, frac)

    def train_step(self) -> dict:
        """One batch: forward, backward, clip, non-finite check, update, advance."""
        c = self.cfg
        loss, cache, items = self.forward_batch()
        self.model.backward(cache)
        loss = self.dist.average_gradients(self.model, loss)  # all-reduce: mean over ranks
        if self.step == c.fault_nan_step:
            self.model.flat.grad[0] = np.nan  # injected fault
        if hasattr(self.model, "clip_gradients"):  # the torch engine
            norm = self.model.clip_gradients(c.clip_mode, c.clip)
        else:
            norm = clip_gradients(self.model.flat.grad, c.clip_mode, c.clip)
        lr = self.lr()
        finite = math.isfinite(loss) and math.isfinite(norm)
        weights_ok = True
        if finite:
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is caught just below
                self.opt.step(lr)
            weights_ok = weights_finite(self.model.flat)
            if self.average is not None and weights_ok:
                self.average.update(self.model.flat.data)
        self.advance(finite)
        self.step += 1
        return {
            "loss": float(loss),
            "grad_norm": norm,
            "lr": lr,
            "finite": finite,
            "weights_ok": weights_ok,
            "items": items * self.dist.world,
        }

    @property
    def has_average(self) -> bool:
        """``--ema`` is on and has averaged at least one update."""
        return self.average is not None and self.average.updates > 0

    @contextlib.contextmanager
    def averaged_weights(self) -> Iterator[None]:
        """With ``--ema``, the model holds the weight average inside the block and its training
        weights again after it; without, nothing changes."""
        if not self.has_average:
            yield
            return
        self.average.swap(self.model.flat.data)
        try:
            yield
        finally:
            self.average.swap(self.model.flat.data)

    def record_validation(self, v: dict) -> bool:
        """Keep validation result ``v`` if it is the best so far (then reset the early-stopping
        count, else add one to it); -> whether it was."""
        better = self.is_better(v)
        if better:
            self.best, self.best_loss = v[self.metric], v.get("loss", v[self.metric])
            self.evals_since_best = 0
        else:
            self.evals_since_best += 1
        return better

    def out_of_patience(self) -> bool:
        """Early stopping: ``patience`` validations in a row have brought no new best."""
        return 0 < self.cfg.patience <= self.evals_since_best

    def early_stop_line(self) -> str:
        return (
            f"stopped early: no better validation {self.metric} in the last {self.evals_since_best} "
            f"validations (patience {self.cfg.patience}); {self.done_line()}"
        )

    def is_better(self, v: dict) -> bool:
        """Is validation result ``v`` better than the best so far? Ties go to the lower loss."""
        value, loss = v[self.metric], v.get("loss", v[self.metric])
        if self.best is None or (isinstance(self.best, float) and math.isnan(self.best)):
            return True
        if value == self.best:
            return loss < self.best_loss
        return value > self.best if self.higher_better else value < self.best


def set_up_and_train(
    set_up: Callable[[ckpt.RunClaim], tuple[Trainer, bool]],
    out: Path,
    resuming: bool,
    resume_command: Callable[[], str],
    log: Callable[[str], None],
    stop_lines: bool = True,
) -> int:
    """Set a run up, ``set_up(claim)`` -> (trainer, whether it continues from a checkpoint), with
    the run directory held by ``claim`` (``checkpoint.RunClaim``), then train it (``train_run``).

    Ctrl-C or SIGTERM during the set-up (reading and preparing the data has no step boundary to
    stop at) end it at once with one line saying how to go on (``resume_command()``, when there
    is a run to resume), and the exit status of a stop during training. Under torchrun the ranks
    wait for each other in barriers, where a handler cannot run: there a signal keeps its default
    action, and torchrun ends the job. Without ``stop_lines`` (the Python API) the signals keep
    Python's own actions during the set-up: Ctrl-C raises ``KeyboardInterrupt``, and the start is
    undone."""
    catch = stop_lines and distributed.current().world == 1
    claim = ckpt.RunClaim(keep_on=(Stopped,))
    try:
        with claim:
            with StopAtOnce() if catch else contextlib.nullcontext():
                tr, resumed = set_up(claim)
            return train_run(tr, resumed, log)
    except Stopped as e:
        if claim.restored and not resuming:
            log(
                f"stopped by signal before the first step; {out} holds the run it held before. "
                f"Run the command again to start over"
            )
        elif resuming or claim.started:  # a checkpoint, or the new run's marker, to go on from
            log(f"stopped by signal before the first step. Continue with: {resume_command()}")
        else:
            log(
                "stopped by signal while reading the data, before anything was written; run the command again"
            )
        return e.exit_code


def recorded_config(run: Path, config_class: type) -> TrainSettings | None:
    """For a resume of ``run`` killed before its first checkpoint (a run directory with none):
    the configuration its marker recorded, which starts it over from step 0 (the same run: runs
    are deterministic); None for anything else (``restart_line`` says it, once the resume's
    flags are checked)."""
    if not ckpt.is_run_dir(run) or ckpt.has_checkpoint(run):
        return None
    saved = ckpt.read_run_marker(run).get("train")
    if not isinstance(saved, dict):
        raise RnnkitError(
            f"{run} holds no checkpoint yet and no recorded configuration; "
            f"start it again with `out` {run} `force`"
        )
    return config_class.from_dict(saved)


def restart_line(run: Path) -> str:
    return f"{run} holds no checkpoint yet (stopped before the first save): starting it over from step 0"


def train_run(tr: Trainer, resumed: bool, log: Callable[[str], None]) -> int:
    """A run that is set up (new or ``resumed``) trained by ``run_loop``: every torchrun rank starts
    from rank 0's weights, and rank 0 alone writes ``metrics.jsonl`` (a resumed run's lines after
    its checkpoint's step are dropped: ``MetricsLog``)."""
    tr.dist.broadcast_params(tr.model)
    resume_step = tr.step if resumed else None
    metrics = MetricsLog(tr.out / "metrics.jsonl", resume_step=resume_step, enabled=tr.dist.is_main)
    log(tr.describe())
    return run_loop(tr, metrics, log)


def save_or_warn(trainer: Trainer, best: bool, log: Callable[[str], None]) -> Path | None:
    """``trainer.save(best=...)``, or, when the weights are not finite, a warning through
    ``log`` and None: the previous checkpoint stays the latest."""
    try:
        return trainer.save(best=best)
    except ckpt.NonFiniteCheckpoint as e:
        log(f"warning: {e}; the previous checkpoint is kept")
        return None


def stopped_by_signal(trainer: Trainer, path: Path | None, resume_command: str) -> str:
    """The line a run prints when a signal stopped it, after its last save gave ``path``
    (None: that save was refused, and the previous checkpoint is the one to go on from)."""
    saved = (
        f"checkpoint saved to {path}"
        if path is not None
        else f"the last good checkpoint is {trainer.out}/last"
    )
    return f"stopped by signal at step {trainer.step}; {saved}. Continue with: {resume_command}"


def run_loop(tr: Trainer, metrics: MetricsLog, log: Callable[[str], None]) -> int:
    """Train ``tr`` to ``max_steps`` or ``minutes``; returns the process exit status (0 done,
    130 or 0 stopped by a signal). A run that cannot go on (non-finite steps it may not skip,
    weights that became NaN or Inf) or that ended without saving raises ``TrainingFailed``."""
    cfg = tr.cfg
    keep_freed_memory()  # each step reuses the last one's freed memory (heap.py)
    prog = TrainingProgress(
        cfg.max_steps, cfg.minutes, tr.step, tr.elapsed, cfg.progress, bpc=tr.task == "lm"
    )
    guard = NonFiniteGuard(cfg.nonfinite)
    first_step, saved, stopped_early = tr.step, 0, False
    if tr.out_of_patience():  # a resumed run that had stopped early
        prog.close()
        log(
            f"the run ends at step {tr.step}, where it stopped early: no better validation {tr.metric} "
            f"in its last {tr.evals_since_best} validations (patience {cfg.patience}). To train on, "
            f"resume it with a larger --patience, or --patience 0"
        )
        return 0
    with StopRequest() as stop, contextlib.closing(prog):  # the bar ends before any last line
        while tr.step < cfg.max_steps:
            t0 = time.perf_counter()
            r = tr.train_step()
            dt = time.perf_counter() - t0
            tr.elapsed, stop_all = tr.dist.agree(prog.elapsed(), stop.requested)  # torchrun: one clock
            if not r["finite"]:
                prog.write(guard.bad(tr))  # or TrainingFailed, when the run must stop
            else:
                guard.ok()
            if not r["weights_ok"]:
                raise guard.diverged(tr)
            rate = r["items"] / dt if dt > 0 else 0.0
            prog.advance(
                tr.step,
                tr.elapsed,
                r["loss"] if r["finite"] else None,
                **{f"{tr.rate_unit}_s": f"{rate:,.0f}"},
                lr=f"{r['lr']:.2e}",
            )
            if tr.step % cfg.log_every == 0 and r["finite"]:
                metrics.write(
                    kind="train",
                    step=tr.step,
                    epoch=tr.epoch,
                    time_s=round(tr.elapsed, 3),
                    lr=r["lr"],
                    loss=r["loss"],
                    **tr.train_row(r, rate),
                )
            last = prog.finished(tr.step, tr.elapsed)
            if tr.step % cfg.eval_every == 0 or last:
                with tr.averaged_weights():
                    v = tr.validate()
                better = tr.record_validation(v)
                metrics.write(kind="val", step=tr.step, time_s=round(tr.elapsed, 3), **tr.val_row(v))
                prog.write(tr.val_line(v) + (" *best*" if better else ""))
                saved += save_or_warn(tr, best=better, log=log) is not None
                if tr.out_of_patience() and not last:
                    stopped_early = True
                    break
            elif tr.step % cfg.save_every == 0:
                saved += save_or_warn(tr, best=False, log=log) is not None
            if last:
                break
            if stop_all:
                prog.close()
                path = save_or_warn(tr, best=False, log=log)
                log(stopped_by_signal(tr, path, tr.resume_command))
                return stop.exit_code
    if tr.step > first_step and not saved and tr.dist.is_main:  # rank 0 alone saves
        raise TrainingFailed(
            f"the run ended at step {tr.step} without saving a checkpoint (see the warnings "
            f"above); {kept_message(tr.out)}"
        )
    if stopped_early:
        log(tr.early_stop_line())
    elif prog.finished(tr.step, tr.elapsed):
        log(tr.done_line())
    return 0
