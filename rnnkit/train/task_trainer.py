"""One training loop for the four task verbs (classify, generate, seq2seq, tag).

Each step takes the next B example indices of the epoch's permutation, computes the
form's mean loss and its gradient, clips, and updates:

    perm_e  = rng.permutation(N)                  at the start of epoch e
    batch_k = perm_e[k B : (k+1) B]               (the last batch of an epoch may be smaller)
    g       = d loss(batch_k) / d θ;   clip g;   θ <- optimizer(θ, g, lr(step))

Dropout masks are drawn from the same seeded generator. Everything that decides the next
step — weights, optimizer buffers, step, epoch, the epoch's permutation and the position
in it, the generator's state, the learning-rate scale — goes into every checkpoint (via
``rnnkit.train.checkpoint``), so ``--resume`` continues bit-identically: k steps in one run give
the same weights as k/2 steps, then a resume to k.

Validation runs every ``eval_every`` steps and at the end, scoring the form's metric
(``forms.py``); the best value so far is pointed to by ``OUT/best``, the newest by
``OUT/last``. Training lines and validation lines go to ``OUT/metrics.jsonl``.
SIGINT/SIGTERM save a checkpoint and exit 130/0. A NaN/Inf loss or gradient skips the
step and halves the learning rate (``--nonfinite skip``), or stops (``stop``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from rnnkit.errors import UserError
from rnnkit.models.shapes import model_parts
from rnnkit.optim.optimizers import clip_gradients, make_optimizer
from rnnkit.optim.schedule import learning_rate
from rnnkit.torch.task_engines import check_engine, use_engine

from . import checkpoint as ckpt
from .forms import Form, make_form, read_examples
from .heap import keep_freed_memory
from .interrupt import StopRequest
from .metrics_log import MetricsLog
from .nonfinite import NonFiniteGuard, kept_message, weights_finite
from .progress import TrainingProgress
from .task_config import RESUMABLE, TaskTrainConfig


def file_sha256(path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None


def split_data(cfg: TaskTrainConfig):
    """-> (train examples, validation examples), both lists of field pairs."""
    train = read_examples(cfg.verb, cfg.data)
    if cfg.val:
        return train, read_examples(cfg.verb, cfg.val)
    n_val = int(round(len(train) * cfg.val_fraction))
    if n_val < 1 or n_val >= len(train):
        raise UserError(
            f"{cfg.data} has {len(train)} examples: too few to hold out --val-fraction "
            f"{cfg.val_fraction:g} for validation; give --val FILE or more data"
        )
    order = np.random.default_rng([cfg.seed, 7]).permutation(len(train))  # own stream: not the trainer's
    held = set(order[:n_val].tolist())
    return ([e for i, e in enumerate(train) if i not in held], [e for i, e in enumerate(train) if i in held])


class TaskTrainer:
    """Owns the form, model, optimizer, data order and RNG of one run; saves and restores them."""

    def __init__(
        self,
        cfg: TaskTrainConfig,
        out: Path,
        log=print,
        vocab_obj: dict | None = None,
        engine: str | None = None,
        device: str | None = None,
    ):
        self.cfg, self.out, self.log = cfg, out, log
        self.form: Form = make_form(cfg.verb, cfg)
        self.train_ex, self.val_ex = split_data(cfg)
        if vocab_obj is None:
            self.form.fit_vocab(self.train_ex)
        else:
            self.form.load_vocab(vocab_obj)
        self.train_data = self.form.encode(self.train_ex, cfg.data)
        if cfg.val_max and len(self.val_ex) > cfg.val_max:
            self.val_ex = self.val_ex[: cfg.val_max]
        self.val_data = self.form.encode(self.val_ex, cfg.val or cfg.data)
        self.model_cfg = self.form.model_config()
        # Before allocating: the memory of one batch of the longest example (both fields' lengths
        # plus BOS/EOS bound its steps, in characters or tokens).
        longest = max(len(a) + len(b) + 2 for a, b in self.train_ex)
        cfg.check_memory(model_parts(self.model_cfg), longest, min(cfg.batch, len(self.train_ex)))
        try:
            self.model = self.form.build_model(self.model_cfg.to_dict(), cfg.seed)
        except ValueError as e:
            raise UserError(str(e)) from None
        use_engine(self.model, engine, device)  # not saved: checkpoints fit either engine
        hp = {
            "sgd": {"momentum": cfg.momentum},
            "adam": {"weight_decay": cfg.weight_decay},
            "adamw": {"weight_decay": cfg.weight_decay},
        }.get(cfg.optimizer, {})
        self.opt = make_optimizer(cfg.optimizer, self.model.flat, **hp)
        self.rng = np.random.default_rng(cfg.seed)
        self.N = len(self.train_ex)
        self.step, self.epoch, self.pos = 0, 0, 0
        self.perm = self.rng.permutation(self.N)
        self.best, self.best_loss = None, float("inf")  # best metric value, its val loss
        self.lr_scale = 1.0
        self.elapsed = 0.0
        self.data_sha = {"data": file_sha256(cfg.data), "val": file_sha256(cfg.val) if cfg.val else ""}

    # ------------------------------------------------------------------ state
    def config_dict(self) -> dict:
        return {"task": self.cfg.verb, "model": self.model_cfg.to_dict(), "train": self.cfg.to_dict()}

    def save(self, best: bool = False) -> Path:
        state = {
            "step": self.step,
            "epoch": self.epoch,
            "pos": self.pos,
            "best": self.best,
            "best_loss": self.best_loss,
            "metric": self.form.metric,
            "lr_scale": self.lr_scale,
            "elapsed_s": self.elapsed,
            "rng": self.rng.bit_generator.state,
            "data_sha256": self.data_sha,
        }
        trainer = dict(self.opt.state_dict())
        trainer["data.perm"] = self.perm.astype(np.int64)
        return ckpt.save_and_link(
            self.out,
            self.step,
            self.model.flat.state_dict(),
            trainer,
            self.config_dict(),
            self.form.vocab_json(),
            state,
            best,
        )

    def restore(self, c: ckpt.Checkpoint) -> None:
        if c.config.get("model") != self.model_cfg.to_dict():
            raise UserError(f"checkpoint {c.dir} does not match this run: model configuration differs")
        s = c.state
        if s.get("data_sha256") != self.data_sha:
            raise UserError(
                f"the training or validation file changed since checkpoint {c.dir} was written; "
                f"an exact resume needs the same data (start a new run with --out)"
            )
        for k, v in list(c.model.items()) + list(c.trainer.items()):
            if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
                raise UserError(f"checkpoint {c.dir}: {k} holds NaN or Inf")
        try:
            self.model.flat.load_state_dict(c.model)
            self.opt.load_state_dict(c.trainer)
            perm = c.trainer["data.perm"]
            if perm.shape != (self.N,):
                raise ValueError(f"data order has shape {perm.shape}, expected ({self.N},)")
            if not np.array_equal(np.sort(perm), np.arange(self.N)):
                raise ValueError(f"data order is not an ordering of the {self.N} training examples")
            self.perm = perm.astype(np.int64)
            self.step, self.epoch, self.pos = int(s["step"]), int(s["epoch"]), int(s["pos"])
            if self.step < 0 or self.epoch < 0 or not 0 <= self.pos < self.N:
                raise ValueError(
                    f"state.json's position (step {self.step}, epoch {self.epoch}, example "
                    f"{self.pos}) is out of range ({self.N} training examples)"
                )
            self.best, self.best_loss = s.get("best"), float(s.get("best_loss", "inf"))
            self.lr_scale = float(s["lr_scale"])
            self.elapsed = float(s.get("elapsed_s", 0.0))
            self.rng.bit_generator.state = s["rng"]
        except (KeyError, ValueError, TypeError) as e:
            raise UserError(f"checkpoint {c.dir} does not match this model: {e}") from None

    # ------------------------------------------------------------------ steps
    def lr(self) -> float:
        c = self.cfg
        frac = self.elapsed / (c.minutes * 60) if c.minutes else 0.0
        return self.lr_scale * learning_rate(
            self.step, c.lr, c.schedule, c.max_steps, c.warmup, c.min_lr, c.step_size, c.gamma, frac
        )

    def train_step(self) -> dict:
        c = self.cfg
        idx = self.perm[self.pos : self.pos + c.batch]
        loss, cache = self.form.loss(self.model, self.train_data, idx, self.rng)
        self.model.backward(cache)
        if self.step == c.fault_nan_step:
            self.model.flat.grad[0] = np.nan
        norm = clip_gradients(self.model.flat.grad, c.clip_mode, c.clip)
        lr = self.lr()
        finite = math.isfinite(loss) and math.isfinite(norm)
        weights_ok = True
        if finite:
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is caught just below
                self.opt.step(lr)
            weights_ok = weights_finite(self.model.flat)
        self.step += 1
        self.pos += len(idx)
        if self.pos >= self.N:
            self.epoch, self.pos = self.epoch + 1, 0
            self.perm = self.rng.permutation(self.N)
        return {
            "loss": float(loss),
            "grad_norm": norm,
            "lr": lr,
            "finite": finite,
            "weights_ok": weights_ok,
            "examples": len(idx),
        }

    def validate(self) -> dict:
        kw = {"decode_max": 500} if self.cfg.verb == "seq2seq" else {}
        return self.form.evaluate(self.model, self.val_data, self.val_ex, **kw)


def _describe(tr: TaskTrainer) -> str:
    m = tr.model_cfg
    bi = "bidirectional " if getattr(m, "bidirectional", False) else ""
    return (
        f"{tr.cfg.verb}: {m.layers} x {m.hidden} {bi}tanh RNN, {len(tr.model.flat):,} parameters; "
        f"{tr.N:,} training and {len(tr.val_ex):,} validation examples, batch {tr.cfg.batch}; out: {tr.out}"
    )


def absolute_data(cfg: TaskTrainConfig, run: Path | None = None) -> TaskTrainConfig:
    """``cfg`` with absolute data paths (see ``train.absolute_inputs``: a run recorded with
    relative ones resumes from the directory it was started in, and is refused elsewhere)."""

    def fix(p: str) -> str:
        if not p:
            return p
        if run is not None and not os.path.isabs(p) and not os.path.exists(p):
            raise UserError(
                f"{run} recorded its data as {p!r}, relative to the directory it was started in, "
                f"and there is no {p} here ({os.getcwd()}); resume it from that directory"
            )
        return os.path.abspath(p)

    return dataclasses.replace(cfg, data=fix(cfg.data), val=fix(cfg.val))


def train(
    cfg: TaskTrainConfig | None,
    out: Path,
    resume: bool = False,
    given: dict | None = None,
    force: bool = False,
    log=print,
    engine: str | None = None,
    device: str | None = None,
) -> int:
    """Train a task model; returns the exit status (0 done, 130 interrupted, 1 diverged).

    ``engine``/``device``: ``numpy`` (default) or ``torch`` on ``cpu``/``cuda`` (``tasks/engine.py``).
    Every check (configuration, data, model on its engine and device) comes before ``out``
    is touched. The run directory is locked for the whole run, and a new run that ends
    without a checkpoint is undone, putting back the run ``--force`` was replacing
    (``checkpoint.RunClaim``).
    """
    check_engine(engine, device)
    with ckpt.RunClaim() as claim:
        return _train(cfg, out, resume, given, force, log, engine, device, claim)


def _train(cfg, out, resume, given, force, log, engine, device, claim: ckpt.RunClaim) -> int:
    if resume:
        claim.resume(ckpt.run_of_resume(out))
        c = ckpt.load(out, which="last")
        if c.config.get("task") not in ("classify", "generate", "seq2seq", "tag"):
            raise UserError(f"{out} is a run of task {c.config.get('task')!r}, not a task verb's run")
        saved = TaskTrainConfig.from_dict(c.config.get("train", {}))
        d = saved.to_dict()
        for k, v in (given or {}).items():
            if k in ("data", "verb"):
                continue
            if d.get(k) != v:
                if k not in RESUMABLE:
                    raise UserError(
                        f"--{k.replace('_', '-')} differs from the run being resumed "
                        f"({v!r} given, {d.get(k)!r} saved); drop the flag or start a new run"
                    )
                d[k] = v
        if (given or {}).get("verb", saved.verb) != saved.verb:
            raise UserError(
                f"{out} is a '{saved.verb}' run; resume it with rnnkit {saved.verb} train --resume {out}"
            )
        run = ckpt.run_dir_of(c.dir)
        cfg = absolute_data(TaskTrainConfig.from_dict(d), run)
        cfg.validate()
        tr = TaskTrainer(cfg, run, log, vocab_obj=json.loads(c.vocab_json), engine=engine, device=device)
        tr.restore(c)
        if tr.step > cfg.max_steps:
            raise UserError(
                f"--max-steps {cfg.max_steps} is below the step this run is at ({tr.step}): a resume "
                f"cannot go back. Give --max-steps above {tr.step}, or start a new run"
            )
        out = tr.out
        log(f"resumed {c.dir} at step {tr.step} (epoch {tr.epoch}, example {tr.pos} of {tr.N})")
    else:
        cfg = absolute_data(cfg)
        cfg.validate()
        ckpt.check_out_dir(out, force)
        if force:
            ckpt.check_inputs_outside(out, [p for p in (cfg.data, cfg.val) if p])
        tr = TaskTrainer(
            cfg, out, log, engine=engine, device=device
        )  # reads and checks all data before touching out
        claim.start(out, force, train_config=cfg.to_dict())
    metrics = MetricsLog(out / "metrics.jsonl", resume_step=tr.step if resume else None)
    log(_describe(tr))
    return _loop(tr, metrics, log)


def _loop(tr: TaskTrainer, metrics: MetricsLog, log) -> int:
    cfg = tr.cfg
    keep_freed_memory()  # each step reuses the last one's freed memory (heap.py)
    prog = TrainingProgress(cfg.max_steps, cfg.minutes, tr.step, tr.elapsed, cfg.progress)
    guard = NonFiniteGuard(cfg.nonfinite)
    first_step, saved = tr.step, 0
    with StopRequest() as stop:
        while tr.step < cfg.max_steps:
            t0 = time.perf_counter()
            r = tr.train_step()
            dt = time.perf_counter() - t0
            tr.elapsed = prog.elapsed()
            if not r["finite"]:
                msg = guard.bad(tr)
                if msg is not None:
                    prog.close()
                    print(msg, file=sys.stderr)
                    return 1
            else:
                guard.ok()
            if not r["weights_ok"]:
                prog.close()
                print(guard.diverged(tr), file=sys.stderr)
                return 1
            eps = r["examples"] / dt if dt > 0 else 0.0
            prog.advance(
                tr.step,
                tr.elapsed,
                r["loss"] if r["finite"] else None,
                ex_s=f"{eps:,.0f}",
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
                    grad_norm=r["grad_norm"],
                    examples_per_s=eps,
                )
            last = prog.finished(tr.step, tr.elapsed)
            if tr.step % cfg.eval_every == 0 or last:
                v = tr.validate()
                value = v[tr.form.metric]
                better = tr.form.better(value, tr.best) or (value == tr.best and v["loss"] < tr.best_loss)
                if better:
                    tr.best, tr.best_loss = value, v["loss"]
                metrics.write(
                    kind="val",
                    step=tr.step,
                    time_s=round(tr.elapsed, 3),
                    **{k: x for k, x in v.items() if isinstance(x, (int, float))},
                )
                prog.write(
                    f"step {tr.step}: val {tr.form.metric} {value:.4f}, loss {v['loss']:.4f}"
                    + (" *best*" if better else "")
                )
                saved += ckpt.save_or_warn(tr, better, log) is not None
            if last:
                break
            if stop.requested:
                prog.close()
                path = ckpt.save_or_warn(tr, False, log)
                log(ckpt.stopped_by_signal(tr, path, f"rnnkit {cfg.verb} train --resume {tr.out}"))
                return stop.exit_code
        prog.close()
    if tr.step > first_step and not saved:
        print(
            f"rnnkit: error: the run ended at step {tr.step} without saving a checkpoint (see the warnings "
            f"above); {kept_message(tr.out)}",
            file=sys.stderr,
        )
        return 1
    best = "none" if tr.best is None else f"{tr.best:.4f}"
    log(
        f"done at step {tr.step}: best val {tr.form.metric} {best}; "
        f"checkpoints in {tr.out}/best and {tr.out}/last"
    )
    return 0
