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

import dataclasses
import math
import warnings
from collections.abc import Callable
from pathlib import Path

from rnnkit.data.batcher import StreamBatcher
from rnnkit.data.corpus import (
    CorpusPlan,
    Prepared,
    default_corpus_files,
    find_files,
    load_prepared,
    plan_corpus,
    scan_ids,
    write_prepared,
)
from rnnkit.data.vocab import Vocab
from rnnkit.errors import RnnkitError, RnnkitWarning
from rnnkit.models.char_rnn import ModelConfig
from rnnkit.models.shapes import model_parts
from rnnkit.torch import distributed
from rnnkit.torch.engines import build_lm

from . import checkpoint as ckpt
from .auto_size import pick_size
from .evaluate import evaluate_ids
from .lm_config import RESUMABLE_OVERRIDES, TrainConfig
from .trainer import Trainer, absolute_input, merge_resume, recorded_config, restart_line, set_up_and_train

LN2 = math.log(2)


def model_config(cfg: TrainConfig, V: int) -> ModelConfig:
    return ModelConfig(vocab_size=V, tie_weights=cfg.tie_weights, **cfg.model_settings())


def check_memory(cfg: TrainConfig, V: int) -> None:
    """Refuse (one line) a model too big to train here: ``memory_budget`` 's estimate for this
    model over a vocabulary of V, one chunk of --seq-len by --batch at a time."""
    cfg.check_memory(model_parts(model_config(cfg, V)), cfg.seq_len, cfg.batch)


def merge_resume_config(saved: TrainConfig, given: dict) -> TrainConfig:
    """Saved configuration, with the explicitly given flags that may change on resume (the
    corpus files need not be given again)."""
    given = {k: v for k, v in given.items() if not (k in ("files", "val_files") and not v)}
    return merge_resume(saved, given, RESUMABLE_OVERRIDES)


class LMTrainer(Trainer):
    """The language model's part of a run: the corpus's B streams cut into chunks of T steps
    (truncated BPTT, the state carried across chunks), and the validation loss in nats/char."""

    task, metric, higher_better, rate_unit = "lm", "loss_nats", False, "chars"

    def __init__(self, cfg: TrainConfig, out: Path, data, log=print):
        """``data``: the prepared corpus (``corpus.Prepared``), or its plan (``CorpusPlan``:
        the same vocabulary and sizes) until the prepared one replaces it (``start_run``)."""
        self.data = data
        self.vocab: Vocab = data.vocab
        dist = distributed.current()
        check_memory(cfg, len(self.vocab))  # before allocating the model
        model = build_lm(
            model_config(cfg, len(self.vocab)),
            cfg.seed,
            cfg.engine,
            dist.device(cfg.device) if cfg.engine == "torch" else None,
        )
        super().__init__(cfg, out, log, model, best=float("inf"))
        self.B = self.dist.local_batch(cfg.batch)  # this rank's streams
        self.batcher = StreamBatcher(data.n_train, cfg.batch, cfg.seq_len, cfg.rotate_epochs, cfg.seed)
        self.h = self.model.zero_state(self.B)  # (L, B, H) carried
        self.h_next = None  # (L, B, H) the state after the current chunk
        self.chunk = 0
        self.ids = None  # the training ids, memory-mapped
        self.data_sha = None  # SHA-256 of the prepared ids.bin, once known (rank 0)
        if data.n_val < 2:
            raise RnnkitError(
                f"the validation split has {data.n_val} characters; it needs at least 2 "
                f"(more text, a larger `val_fraction`, or `val_files` FILE)"
            )

    # ------------------------------------------------------------------ state
    def vocab_json(self) -> str:
        return self.vocab.to_json()

    def extra_state(self) -> tuple[dict, dict]:
        state = {"chunk": self.chunk, "best_val": self.best, "world_size": self.dist.world}
        if self.data_sha is not None:
            state["data_sha256"] = {"ids": self.data_sha}
        return state, {"carry.h": self.dist.gather_streams(self.h)}  # all B streams

    def check_checkpoint(self, c: ckpt.Checkpoint) -> None:
        saved = c.state.get("data_sha256")  # absent in checkpoints before it was recorded
        if saved is not None and self.data_sha is not None and saved != {"ids": self.data_sha}:
            raise RnnkitError(
                f"the prepared data in {self.out / 'data'} changed since checkpoint {c.dir} was "
                f"written; an exact resume needs the same data (start a new run with `force`)"
            )
        if c.vocab_json != self.vocab.to_json():
            raise RnnkitError(
                f"checkpoint {c.dir} does not match this run: its vocabulary differs from "
                f"the prepared data in {self.out / 'data'}"
            )

    def load_extra_state(self, s: dict, tensors: dict) -> None:
        h = tensors["carry.h"]
        if h.ndim == 3 and h.shape[1] == self.cfg.batch:
            h = self.dist.shard_streams(h)  # this rank's streams
        if h.shape != self.h.shape:
            raise ValueError(f"carried state has shape {h.shape}, expected {self.h.shape}")
        self.h[...] = h
        self.chunk = int(s["chunk"])
        if self.step < 0 or self.epoch < 0 or not 0 <= self.chunk < self.batcher.chunks_per_epoch:
            raise ValueError(
                f"state.json's position (step {self.step}, epoch {self.epoch}, chunk "
                f"{self.chunk}) is out of range ({self.batcher.chunks_per_epoch} chunks per epoch)"
            )
        self.best = self.best_loss = float(s["best_val"])

    # ------------------------------------------------------------------- steps
    def forward_batch(self) -> tuple[float, dict, int]:
        """Chunk ``self.chunk`` of the B streams: inputs and next-character targets (T, B)."""
        c = self.cfg
        if self.ids is None or self.step % 200 == 0:
            # nanoGPT's trick: a fresh memmap now and then, so pages read long ago
            # stop counting towards this process's resident memory.
            self.ids = self.data.train_ids()
        x, y = self.batcher.chunk(self.ids, self.chunk, self.epoch)  # (T, B) each
        x, y = self.dist.shard(x), self.dist.shard(y)  # (T, B/W): this rank's streams
        h0 = self.h if c.carry else self.model.zero_state(self.B)
        rng = self.dist.step_rng(self.rng, c.dropout or c.weight_drop)
        loss, self.h_next, cache = self.model.forward(x, y, h0, train=True, rng=rng)
        return loss, cache, x.size

    def advance(self, finite: bool) -> None:
        """Carry the state into the next chunk (zeros after a skipped step or at an epoch's end)."""
        self.h = self.h_next if finite else self.model.zero_state(self.B)
        self.h_next = None
        self.chunk += 1
        if self.chunk == self.batcher.chunks_per_epoch:  # streams restart
            self.chunk, self.epoch = 0, self.epoch + 1
            self.h = self.model.zero_state(self.B)

    def validate(self) -> dict:
        val = self.data.val_ids()
        if self.cfg.val_chars:
            val = val[: self.cfg.val_chars]
        return evaluate_ids(self.model, val)

    # --------------------------------------------------------------- reporting
    def train_row(self, r: dict, rate: float) -> dict:
        return {"bpc": r["loss"] / LN2, "grad_norm": r["grad_norm"], "chars_per_s": rate}

    def val_row(self, v: dict) -> dict:
        return {"loss": v["loss_nats"], "bpc": v["bpc"], "perplexity": v["perplexity"]}

    def val_line(self, v: dict) -> str:
        return (
            f"step {self.step}: val {v['loss_nats']:.4f} nats/char, {v['bpc']:.4f} bpc, "
            f"perplexity {v['perplexity']:.2f} ({v['predictions']:,} chars)"
        )

    def done_line(self) -> str:
        return (
            f"done at step {self.step}: best val {self.best:.4f} nats/char "
            f"({self.best / LN2:.4f} bpc); checkpoints in {self.out}/best and {self.out}/last"
        )

    def describe(self) -> str:
        m, c = self.model, self.cfg
        return (
            f"model: {m.cfg.layers} x {m.cfg.hidden} tanh RNN, vocabulary {len(self.vocab)}, "
            f"{len(m.flat):,} parameters; {c.batch} streams x {c.seq_len} steps, "
            f"{self.batcher.chunks_per_epoch} chunks per epoch; out: {self.out}"
        )

    @property
    def resume_command(self) -> str:
        return f"rnnkit train --resume {self.out}"


def plan_data(cfg: TrainConfig, log: Callable[[str], None]) -> CorpusPlan:
    """Read the input once and check it fits the configuration; touches no output.

    Every bad-input error (missing, empty, binary or non-UTF-8 files; text too short for
    one batch or for the validation split) is raised here, before ``--out`` is created
    or cleared, so a failed start overwrites nothing.
    """
    files = find_files(cfg.files) if cfg.files else default_corpus_files()
    val_files = find_files(cfg.val_files) if cfg.val_files else None
    if not cfg.files:
        log(
            f"no files given: training on the Python standard library source "
            f"({len(files)} files under {files[0].parent})"
        )
    plan = plan_corpus(files, val_files, cfg.val_fraction, cfg.encoding_errors)
    V = len(plan.vocab)
    if cfg.vocab_limit and V > cfg.vocab_limit:
        warnings.warn(
            RnnkitWarning(
                f"the vocabulary has {V:,} distinct characters, more than `vocab_limit` "
                f"{cfg.vocab_limit:,}; the one-hot input and the softmax grow with it. Consider `embed`, "
                f"or cleaning the text"
            ),
            stacklevel=2,
        )
    StreamBatcher(plan.n_train, cfg.batch, cfg.seq_len)  # raises if too short
    check_memory(cfg, V)
    if plan.n_val < 2:
        where = "the validation files" if val_files else f"the last {cfg.val_fraction:g} of the text"
        raise RnnkitError(
            f"the validation split ({where}) has {plan.n_val} characters; it needs at least 2 "
            f"(more text, a larger `val_fraction`, or `val_files` FILE)"
        )
    return plan


def absolute_inputs(cfg: TrainConfig, run: Path | None = None) -> TrainConfig:
    """``cfg`` with its corpus paths absolute (``trainer.absolute_input``)."""
    files, val_files = ([absolute_input(p, run) for p in paths] for paths in (cfg.files, cfg.val_files))
    return dataclasses.replace(cfg, files=files, val_files=val_files)


def start_run(
    cfg: TrainConfig,
    out: Path,
    force: bool,
    log: Callable[[str], None],
    claim: ckpt.RunClaim,
    auto_size: tuple[str, ...] = (),
) -> LMTrainer:
    """A new run in ``out``: check everything, then let ``claim`` take ``out`` and prepare the data.

    ``auto_size``: the settings named (of hidden, layers, embed, dropout, optimizer, weight_decay, ema) are
    picked for the ``--minutes`` budget from the corpus and this machine's measured speed (``auto_size.py``).

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
    if auto_size:
        choice = pick_size(cfg.minutes, plan.n_train, len(plan.vocab), cfg.batch, cfg.seq_len)
        log(choice.line(cfg.minutes, plan.n_train))
        cfg = dataclasses.replace(cfg, **{k: getattr(choice, k) for k in auto_size})
    trainer = LMTrainer(cfg, out, plan, log)  # builds the model; the plan stands in for the data
    claim.start(out, force, train_config=cfg.to_dict())
    trainer.data = write_prepared(plan, out / "data", log=log)
    trainer.data_sha = scan_ids(trainer.data)[1]
    return trainer


def check_prepared_ids(data: Prepared, what: Path) -> str:
    """Refuse prepared ids outside the vocabulary (a damaged ``ids.bin``); -> its SHA-256."""
    top, sha = scan_ids(data)
    if top >= len(data.vocab):
        raise RnnkitError(
            f"{data.path} holds id {top}, outside the vocabulary of {len(data.vocab)} characters: the "
            f"prepared data of {what} is damaged; start the run again with `force`"
        )
    return sha


def _start_run_ranks(
    cfg: TrainConfig, out: Path, force: bool, log, claim: ckpt.RunClaim, auto_size: tuple[str, ...] = ()
) -> LMTrainer:
    """``start_run`` on rank 0; other torchrun ranks wait for its prepared data, then read it.
    (Under torchrun the size is not picked for the budget: every rank must build the same model.)"""
    dist = distributed.current()
    if dist.is_main:
        trainer = start_run(cfg, out, force, log, claim, auto_size if dist.world == 1 else ())
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
    log: Callable[[str], None] = print,
    auto_size: tuple[str, ...] = (),
    stop_lines: bool = True,
) -> int:
    """Run training; returns the process exit status (0 done, 130 interrupted), or raises
    ``TrainingFailed`` for a run that diverged or ended without saving a checkpoint.
    ``auto_size``: the settings a new run picks for its ``--minutes`` (``start_run``).

    ``--resume`` of a run that was killed before its first checkpoint starts it over from
    step 0 with the configuration recorded in its run marker (the same result, since runs
    are deterministic). Ctrl-C or SIGTERM before the first step (reading and preparing the
    data has no step boundary to stop at) end the run at once with a line saying how to
    continue, and the same exit status as a stop during training (without ``stop_lines``, the
    Python API, they keep Python's own actions: ``trainer.set_up_and_train``).

    The run directory is locked for the whole run (``run_lock``: a second writer is
    refused), and a new run that ends without a checkpoint is undone, putting back the run
    ``--force`` was replacing (``checkpoint.RunClaim``).
    """
    target = resume if resume is not None else out

    def set_up(claim: ckpt.RunClaim) -> tuple[LMTrainer, bool]:
        return _set_up(cfg, out, resume, given, force, log, claim, auto_size)

    def resume_command() -> str:
        return f"rnnkit train --resume {target}"

    return set_up_and_train(set_up, target, resume is not None, resume_command, log, stop_lines)


def _set_up(
    cfg: TrainConfig,
    out: Path,
    resume: Path | None,
    given: dict | None,
    force: bool,
    log,
    claim: ckpt.RunClaim,
    auto_size: tuple[str, ...] = (),
) -> tuple[LMTrainer, bool]:
    """-> (trainer, whether it continues from a checkpoint)."""
    restart = recorded_config(resume, TrainConfig) if resume is not None else None
    if restart is not None:
        cfg = merge_resume_config(absolute_inputs(restart, resume), given or {})
        log(restart_line(resume))
        return _start_run_ranks(cfg, resume, True, log, claim), False
    if resume is None:
        return _start_run_ranks(cfg, out, force, log, claim, auto_size), False
    if distributed.current().is_main:
        claim.resume(ckpt.run_of_resume(resume))  # rank 0 alone writes
    c = ckpt.load(resume, task="lm", which="last")
    run = ckpt.run_dir_of(c.dir)
    saved = TrainConfig.from_dict(c.config.get("train", {}))
    cfg = merge_resume_config(saved, given or {})
    cfg.validate()
    data = load_prepared(run / "data")
    sha = check_prepared_ids(data, run)
    trainer = LMTrainer(cfg, run, data, log)
    trainer.data_sha = sha
    trainer.restore(c)
    log(f"resumed {c.dir} at step {trainer.step} (epoch {trainer.epoch}, chunk {trainer.chunk})")
    saved_world = int(c.state.get("world_size", 1))
    if saved_world != trainer.dist.world:
        log(
            f"note: this run was saved by {saved_world} process(es) and continues on {trainer.dist.world}; "
            f"the carried state of all {cfg.batch} streams is in the checkpoint, so the same streams go on "
            f"(the same steps up to float rounding; dropout masks are drawn differently)"
        )
    return trainer, True
