"""Training the character language model with truncated BPTT.

One step, for chunk k of the B parallel streams (see ``batcher.py``):

    h_0^(k) = h_T^(k-1)  (carried; a constant, so no gradient crosses the chunk edge)
    loss    = mean CE over the T x B next-character predictions of chunk k
    g       = d loss / d θ  by BPTT inside the chunk;  clip g;  θ <- optimizer(θ, g, lr(step))

``--no-carry`` starts every chunk from zeros; ``--seq-len`` as long as the streams makes it
full BPTT. Everything that decides the next step — weights, optimizer buffers, the step
(hence the schedule), the data position, the carried state and the RNG — is saved in
every checkpoint, so ``--resume`` continues bit-identically.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from rnnkit.data.batcher import StreamBatcher
from rnnkit.data.corpus import (
    CorpusPlan,
    default_corpus_files,
    find_files,
    load_prepared,
    plan_corpus,
    write_prepared,
)
from rnnkit.data.vocab import Vocab
from rnnkit.errors import UserError
from rnnkit.models.char_rnn import ModelConfig
from rnnkit.models.shapes import model_parts
from rnnkit.optim.optimizers import clip_gradients, make_optimizer
from rnnkit.optim.schedule import learning_rate
from rnnkit.torch import distributed
from rnnkit.torch.engines import build_lm

from . import checkpoint as ckpt
from .evaluate import evaluate_ids
from .heap import keep_freed_memory
from .interrupt import StopAtOnce, Stopped, StopRequest
from .lm_config import RESUMABLE_OVERRIDES, TrainConfig
from .metrics_log import MetricsLog
from .nonfinite import NonFiniteGuard, kept_message, weights_finite
from .progress import TrainingProgress

LN2 = math.log(2)


def model_config(cfg: TrainConfig, V: int) -> ModelConfig:
    return ModelConfig(
        vocab_size=V,
        hidden=cfg.hidden,
        layers=cfg.layers,
        embed=cfg.embed,
        dropout=cfg.dropout,
        init=cfg.init,
        input_init=cfg.input_init,
    )


def check_memory(cfg: TrainConfig, V: int) -> None:
    """Refuse (one line) a model too big to train here: ``memory_budget`` 's estimate for this
    model over a vocabulary of V, one chunk of --seq-len by --batch at a time."""
    cfg.check_memory(model_parts(model_config(cfg, V)), cfg.seq_len, cfg.batch)


def build_optimizer(cfg: TrainConfig, model):
    hp = {
        "sgd": {"momentum": cfg.momentum},
        "adam": {"weight_decay": cfg.weight_decay},
        "adamw": {"weight_decay": cfg.weight_decay},
    }.get(cfg.optimizer, {})
    if hasattr(model, "make_optimizer"):  # the torch engine (on its device)
        return model.make_optimizer(cfg.optimizer, **hp)
    return make_optimizer(cfg.optimizer, model.flat, **hp)


def merge_resume_config(saved: TrainConfig, given: dict) -> TrainConfig:
    """Saved configuration, with the explicitly given flags that may change on resume."""
    d = saved.to_dict()
    for k, v in given.items():
        if k in ("files", "val_files") and not v:
            continue
        if d.get(k) != v:
            if k not in RESUMABLE_OVERRIDES:
                raise UserError(
                    f"--{k.replace('_', '-')} differs from the run being resumed "
                    f"({v!r} given, {d.get(k)!r} saved); drop the flag or start a new run"
                )
            d[k] = v
    return TrainConfig.from_dict(d)


class LMTrainer:
    """Owns the model, optimizer, data position and RNG of one run; saves and restores them."""

    def __init__(self, cfg: TrainConfig, out: Path, data, log=print):
        """``data``: the prepared corpus (``corpus.Prepared``), or its plan (``CorpusPlan``:
        the same vocabulary and sizes) until the prepared one replaces it (``start_run``)."""
        self.cfg, self.out, self.data, self.log = cfg, out, data, log
        self.vocab: Vocab = data.vocab
        self.dist = distributed.current()  # one process, or a torchrun rank
        check_memory(cfg, len(self.vocab))  # before allocating the model
        self.model = build_lm(
            model_config(cfg, len(self.vocab)),
            cfg.seed,
            cfg.engine,
            self.dist.device(cfg.device) if cfg.engine == "torch" else None,
        )
        self.B = self.dist.local_batch(cfg.batch)  # this rank's streams
        self.opt = build_optimizer(cfg, self.model)
        self.batcher = StreamBatcher(data.n_train, cfg.batch, cfg.seq_len)
        self.rng = np.random.default_rng(cfg.seed)
        self.h = self.model.zero_state(self.B)  # (L, B, H) carried
        self.step = 0
        self.epoch, self.chunk = 0, 0
        self.best_val = float("inf")
        self.lr_scale = 1.0
        self.elapsed = 0.0
        if data.n_val < 2:
            raise UserError(
                f"the validation split has {data.n_val} characters; it needs at least 2 "
                f"(more text, a larger --val-fraction, or --val FILE)"
            )

    # ------------------------------------------------------------------ state
    def config_dict(self) -> dict:
        return {"task": "lm", "model": self.model.cfg.to_dict(), "train": self.cfg.to_dict()}

    def save(self, best: bool = False) -> Path:
        state = {
            "step": self.step,
            "epoch": self.epoch,
            "chunk": self.chunk,
            "best_val": self.best_val,
            "lr_scale": self.lr_scale,
            "elapsed_s": self.elapsed,
            "rng": self.rng.bit_generator.state,
            "world_size": self.dist.world,
        }
        trainer = dict(self.opt.state_dict())
        trainer["carry.h"] = self.dist.gather_streams(self.h)  # all B streams
        if not self.dist.is_main:  # rank 0 alone writes
            return None
        return ckpt.save_and_link(
            self.out,
            self.step,
            self.model.flat.state_dict(),
            trainer,
            self.config_dict(),
            self.vocab.to_json(),
            state,
            best,
        )

    def restore(self, c: ckpt.Checkpoint) -> None:
        """Load weights, optimizer, carried state, data position and RNG from ``c``, after
        checking that its model configuration, vocabulary and values fit this run."""
        if c.config.get("model") != self.model.cfg.to_dict():
            raise UserError(
                f"checkpoint {c.dir} does not match this run: its model configuration "
                f"{c.config.get('model')!r} differs from {self.model.cfg.to_dict()!r}"
            )
        if c.vocab_json != self.vocab.to_json():
            raise UserError(
                f"checkpoint {c.dir} does not match this run: its vocabulary differs from "
                f"the prepared data in {self.out / 'data'}"
            )
        for k, v in list(c.model.items()) + list(c.trainer.items()):
            if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
                raise UserError(f"checkpoint {c.dir}: {k} holds NaN or Inf")
        try:
            self.model.flat.load_state_dict(c.model)
            self.opt.load_state_dict(c.trainer)
            h = c.trainer["carry.h"]
            if h.ndim == 3 and h.shape[1] == self.cfg.batch:
                h = self.dist.shard_streams(h)  # this rank's streams
            if h.shape != self.h.shape:
                raise ValueError(f"carried state has shape {h.shape}, expected {self.h.shape}")
            self.h[...] = h
            s = c.state
            self.step, self.epoch, self.chunk = int(s["step"]), int(s["epoch"]), int(s["chunk"])
            if self.step < 0 or self.epoch < 0 or not 0 <= self.chunk < self.batcher.chunks_per_epoch:
                raise ValueError(
                    f"state.json's position (step {self.step}, epoch {self.epoch}, chunk "
                    f"{self.chunk}) is out of range ({self.batcher.chunks_per_epoch} chunks per epoch)"
                )
            self.best_val, self.lr_scale = float(s["best_val"]), float(s["lr_scale"])
            self.elapsed = float(s.get("elapsed_s", 0.0))
            self.rng.bit_generator.state = s["rng"]
        except (KeyError, ValueError, TypeError) as e:
            raise UserError(f"checkpoint {c.dir} does not match this model: {e}") from None

    # ------------------------------------------------------------------- steps
    def lr(self) -> float:
        c = self.cfg
        frac = self.elapsed / (c.minutes * 60) if c.minutes else 0.0
        return self.lr_scale * learning_rate(
            self.step, c.lr, c.schedule, c.max_steps, c.warmup, c.min_lr, c.step_size, c.gamma, frac
        )

    def train_step(self, ids) -> dict:
        """One TBPTT chunk: forward, backward, clip, non-finite check, update, advance."""
        c = self.cfg
        x, y = self.batcher.chunk(ids, self.chunk)  # (T, B) each
        x, y = self.dist.shard(x), self.dist.shard(y)  # (T, B/W): this rank's streams
        h0 = self.h if c.carry else self.model.zero_state(self.B)
        rng = self.dist.step_rng(self.rng, c.dropout)
        loss, h_n, cache = self.model.forward(x, y, h0, train=True, rng=rng)
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
            self.h = h_n
            weights_ok = weights_finite(self.model.flat)
        else:
            self.h = self.model.zero_state(self.B)
        self.step += 1
        self.chunk += 1
        if self.chunk == self.batcher.chunks_per_epoch:  # streams restart
            self.chunk, self.epoch = 0, self.epoch + 1
            self.h = self.model.zero_state(self.B)
        return {
            "loss": loss,
            "grad_norm": norm,
            "lr": lr,
            "finite": finite,
            "weights_ok": weights_ok,
            "chars": x.size * self.dist.world,
        }

    def validate(self) -> dict:
        val = self.data.val_ids()
        if self.cfg.val_chars:
            val = val[: self.cfg.val_chars]
        return evaluate_ids(self.model, val, progress=False)


def plan_data(cfg: TrainConfig, log) -> CorpusPlan:
    """Read the input once and check it fits the configuration; touches no output.

    Every bad-input error (missing, empty, binary or non-UTF-8 files; text too short for
    one batch or for the validation split) is raised here, before ``--out`` is created
    or cleared, so a failed start overwrites nothing.
    """
    files = find_files(cfg.files) if cfg.files else default_corpus_files()
    val_files = find_files(cfg.val_files) if cfg.val_files else None
    if not cfg.files:
        log(
            f"no files given: training on the Python standard library source ({len(files)} files under {files[0].parent})"
        )
    plan = plan_corpus(files, val_files, cfg.val_fraction, cfg.encoding_errors)
    V = len(plan.vocab)
    if cfg.vocab_limit and V > cfg.vocab_limit:
        print(
            f"rnnkit: warning: the vocabulary has {V:,} distinct characters, more than --vocab-limit "
            f"{cfg.vocab_limit:,}; the one-hot input and the softmax grow with it. Consider --embed, "
            f"or cleaning the text",
            file=sys.stderr,
        )
    StreamBatcher(plan.n_train, cfg.batch, cfg.seq_len)  # raises if too short
    check_memory(cfg, V)
    if plan.n_val < 2:
        where = "the validation files" if val_files else f"the last {cfg.val_fraction:g} of the text"
        raise UserError(
            f"the validation split ({where}) has {plan.n_val} characters; it needs at least 2 "
            f"(more text, a larger --val-fraction, or --val FILE)"
        )
    return plan


def absolute_inputs(cfg: TrainConfig, run: Path | None = None) -> TrainConfig:
    """``cfg`` with its input paths absolute, so that a resume reads the same files from any
    directory. Runs saved by earlier versions recorded them as given, relative to the
    directory they were started in: read from there they still resolve; read from elsewhere
    (``run`` given) the run is refused in one line naming that directory's role."""

    def fix(p: str) -> str:
        if run is not None and not os.path.isabs(p) and not os.path.exists(p):
            raise UserError(
                f"{run} recorded its input as {p!r}, relative to the directory it was started in, "
                f"and there is no {p} here ({os.getcwd()}); resume it from that directory"
            )
        return os.path.abspath(p)

    return dataclasses.replace(
        cfg, files=[fix(p) for p in cfg.files], val_files=[fix(p) for p in cfg.val_files]
    )


def start_run(cfg: TrainConfig, out: Path, force: bool, log, claim: ckpt.RunClaim) -> LMTrainer:
    """A new run in ``out``: check everything, then let ``claim`` take ``out`` and prepare the data.

    Every check comes before ``out`` is touched: the configuration, the input (read once
    in full), that no input lies in what ``--force`` replaces, and the model on its engine
    and device (built here, from the plan). A start that fails after that is undone by
    ``claim`` (``checkpoint.RunClaim``), which also puts back a run ``--force`` replaced.
    """
    cfg = absolute_inputs(cfg)
    cfg.validate()
    ckpt.check_out_dir(out, force)
    plan = plan_data(cfg, log)
    if force:
        ckpt.check_inputs_outside(out, list(plan.files) + list(plan.val_files))
    trainer = LMTrainer(cfg, out, plan, log)  # builds the model; the plan stands in for the data
    claim.start(out, force, train_config=cfg.to_dict())
    trainer.data = write_prepared(plan, out / "data", log=log)
    return trainer


def check_prepared_ids(data, what: Path) -> None:
    """Refuse prepared ids outside the vocabulary (a damaged ``ids.bin``). Read in blocks with
    plain reads, not a memory map, so the scan leaves this process's resident memory flat."""
    V, top = len(data.vocab), 0
    try:
        with open(data.path, "rb") as f:
            while top < V and (block := np.fromfile(f, dtype=data.dtype, count=1 << 22)).size:
                top = int(block.max())
    except OSError as e:
        raise UserError(f"cannot read {data.path}: {e.strerror or e}") from None
    if top >= V:
        raise UserError(
            f"{data.path} holds id {top}, outside the vocabulary of {V} characters: the prepared "
            f"data of {what} is damaged; start the run again with --force"
        )


def _start_run_ranks(cfg: TrainConfig, out: Path, force: bool, log, claim: ckpt.RunClaim) -> LMTrainer:
    """``start_run`` on rank 0; other torchrun ranks wait for its prepared data, then read it."""
    dist = distributed.current()
    if dist.is_main:
        trainer = start_run(cfg, out, force, log, claim)
        dist.barrier()
        return trainer
    dist.barrier()
    cfg.validate()
    return LMTrainer(cfg, out, load_prepared(out / "data"), log)


def train(
    cfg: TrainConfig,
    out: Path,
    resume: Path | None = None,
    given: dict | None = None,
    force: bool = False,
    log=print,
) -> int:
    """Run training; returns the process exit status (0 done, 130 interrupted, 1 diverged).

    ``--resume`` of a run that was killed before its first checkpoint starts it over from
    step 0 with the configuration recorded in its run marker (the same result, since runs
    are deterministic). Ctrl-C or SIGTERM before the first step (reading and preparing the
    data has no step boundary to stop at) end the run at once with a line saying how to
    continue, and the same exit status as a stop during training.

    The run directory is locked for the whole run (``run_lock``: a second writer is
    refused), and a new run that ends without a checkpoint is undone, putting back the run
    ``--force`` was replacing (``checkpoint.RunClaim``).
    """
    # Under torchrun the ranks wait for each other in barriers, where a handler cannot run:
    # there a signal keeps its default action, and torchrun ends the job.
    single = distributed.current().world == 1
    claim = ckpt.RunClaim(keep_on=(Stopped,))
    try:
        with claim:
            with StopAtOnce() if single else contextlib.nullcontext():
                trainer, out, resumed = _set_up(cfg, out, resume, given, force, log, claim)
            trainer.dist.broadcast_params(trainer.model)  # torchrun: rank 0's weights
            metrics = MetricsLog(
                out / "metrics.jsonl",
                resume_step=trainer.step if resumed else None,
                enabled=trainer.dist.is_main,
            )
            m = trainer.model
            log(
                f"model: {m.cfg.layers} x {m.cfg.hidden} tanh RNN, vocabulary {len(trainer.vocab)}, "
                f"{len(m.flat):,} parameters; {trainer.cfg.batch} streams x {trainer.cfg.seq_len} steps, "
                f"{trainer.batcher.chunks_per_epoch} chunks per epoch; out: {out}"
            )
            return _loop(trainer, metrics, log)
    except Stopped as e:
        target = resume if resume is not None else out
        if claim.restored and resume is None:
            log(
                f"stopped by signal before the first step; {out} holds the run it held before. "
                f"Run the command again to start over"
            )
        elif resume is not None or ckpt.is_run_dir(out):  # a marker or a checkpoint to go on from
            log(f"stopped by signal before the first step. Continue with: rnnkit train --resume {target}")
        else:
            log(
                "stopped by signal while reading the data, before anything was written; run the command again"
            )
        return e.exit_code


def _set_up(
    cfg: TrainConfig,
    out: Path,
    resume: Path | None,
    given: dict | None,
    force: bool,
    log,
    claim: ckpt.RunClaim,
) -> tuple[LMTrainer, Path, bool]:
    """-> (trainer, run directory, whether it continues from a checkpoint)."""
    if resume is not None and ckpt.is_run_dir(resume) and not ckpt.has_checkpoint(resume):
        saved = ckpt.read_run_marker(resume).get("train")
        if not isinstance(saved, dict):
            raise UserError(
                f"{resume} holds no checkpoint yet and no recorded configuration; "
                f"start it again with --out {resume} --force"
            )
        cfg = merge_resume_config(absolute_inputs(TrainConfig.from_dict(saved), resume), given or {})
        log(f"{resume} holds no checkpoint yet (stopped before the first save): starting it over from step 0")
        return _start_run_ranks(cfg, resume, True, log, claim), resume, False
    if resume is None:
        return _start_run_ranks(cfg, out, force, log, claim), out, False
    if distributed.current().is_main:
        claim.resume(ckpt.run_of_resume(resume))  # rank 0 alone writes
    c = ckpt.load(resume, task="lm", which="last")
    run = ckpt.run_dir_of(c.dir)
    saved = TrainConfig.from_dict(c.config.get("train", {}))
    cfg = merge_resume_config(saved, given or {})
    cfg.validate()
    data = load_prepared(run / "data")
    check_prepared_ids(data, run)
    trainer = LMTrainer(cfg, run, data, log)
    trainer.restore(c)
    if trainer.step > cfg.max_steps:
        raise UserError(
            f"--max-steps {cfg.max_steps} is below the step this run is at ({trainer.step}): a resume "
            f"cannot go back. Give --max-steps above {trainer.step}, or start a new run"
        )
    log(f"resumed {c.dir} at step {trainer.step} (epoch {trainer.epoch}, chunk {trainer.chunk})")
    saved_world = int(c.state.get("world_size", 1))
    if saved_world != trainer.dist.world:
        log(
            f"note: this run was saved by {saved_world} process(es) and continues on {trainer.dist.world}; "
            f"the carried state of all {cfg.batch} streams is in the checkpoint, so the same streams go on "
            f"(the same steps up to float rounding; dropout masks are drawn differently)"
        )
    return trainer, run, True


def _loop(tr: LMTrainer, metrics: MetricsLog, log) -> int:
    cfg = tr.cfg
    keep_freed_memory()  # each step reuses the last one's freed memory (heap.py)
    prog = TrainingProgress(cfg.max_steps, cfg.minutes, tr.step, tr.elapsed, cfg.progress, bpc=True)
    guard = NonFiniteGuard(cfg.nonfinite)
    ids = None
    first_step, saved = tr.step, 0
    with StopRequest() as stop:
        while tr.step < cfg.max_steps:
            if ids is None or tr.step % 200 == 0:
                # nanoGPT's trick: a fresh memmap now and then, so pages read long ago
                # stop counting towards this process's resident memory.
                ids = tr.data.train_ids()
            t0 = time.perf_counter()
            r = tr.train_step(ids)
            dt = time.perf_counter() - t0
            tr.elapsed, stop_all = tr.dist.agree(
                prog.elapsed(), stop.requested
            )  # torchrun: one clock, one stop
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
            cps = r["chars"] / dt
            prog.advance(
                tr.step,
                tr.elapsed,
                r["loss"] if r["finite"] else None,
                chars_s=f"{cps:,.0f}",
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
                    bpc=r["loss"] / LN2,
                    grad_norm=r["grad_norm"],
                    chars_per_s=cps,
                )
            last = prog.finished(tr.step, tr.elapsed)
            if tr.step % cfg.eval_every == 0 or last:
                v = tr.validate()
                better = v["loss_nats"] < tr.best_val
                if better:
                    tr.best_val = v["loss_nats"]
                metrics.write(
                    kind="val",
                    step=tr.step,
                    time_s=round(tr.elapsed, 3),
                    loss=v["loss_nats"],
                    bpc=v["bpc"],
                    perplexity=v["perplexity"],
                )
                prog.write(
                    f"step {tr.step}: val {v['loss_nats']:.4f} nats/char, {v['bpc']:.4f} bpc, "
                    f"perplexity {v['perplexity']:.2f} ({v['predictions']:,} chars)"
                    + (" *best*" if better else "")
                )
                saved += ckpt.save_or_warn(tr, best=better, log=log) is not None
            elif tr.step % cfg.save_every == 0:
                saved += ckpt.save_or_warn(tr, best=False, log=log) is not None
            if last:
                break
            if stop_all:
                prog.close()
                path = ckpt.save_or_warn(tr, best=False, log=log)
                log(ckpt.stopped_by_signal(tr, path, f"rnnkit train --resume {tr.out}"))
                return stop.exit_code
        prog.close()
    if tr.step > first_step and not saved and tr.dist.is_main:  # rank 0 alone saves
        print(
            f"rnnkit: error: the run ended at step {tr.step} without saving a checkpoint (see the warnings "
            f"above); {kept_message(tr.out)}",
            file=sys.stderr,
        )
        return 1
    if prog.finished(tr.step, tr.elapsed):
        log(
            f"done at step {tr.step}: best val {tr.best_val:.4f} nats/char "
            f"({tr.best_val / LN2:.4f} bpc); checkpoints in {tr.out}/best and {tr.out}/last"
        )
    return 0
