"""Training the four task forms (classify, generate, seq2seq, tag): their part of a run.

``TaskTrainer`` supplies what the form's run adds to the one trainer (``trainer.py``): the
TSV data and its held-out split, minibatches of examples in a fresh seeded order each
epoch, the form's loss and its validation metric (``forms.py``). The epoch's permutation
and the position in it go into every checkpoint with the rest, so ``--resume`` continues
bit-identically: k steps in one run give the same weights as k/2 steps, then a resume to k.
``train`` sets a run up (new, ``--force`` or ``--resume``) and hands it to ``train_run``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rnnkit.errors import RnnkitError, message_of
from rnnkit.models.shapes import model_parts
from rnnkit.torch import distributed
from rnnkit.torch.engines import check_engine, check_regularisers
from rnnkit.torch.task_engines import use_engine

from . import checkpoint as ckpt
from .forms import Form, make_form, read_examples
from .task_config import RESUMABLE, TaskTrainConfig
from .trainer import Trainer, absolute_input, merge_resume, recorded_config, restart_line, set_up_and_train


def file_sha256(path: str | Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as e:
        raise RnnkitError(f"cannot read {path}: {e.strerror or e}") from None


def split_data(cfg: TaskTrainConfig) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """-> (train examples, validation examples), both lists of field pairs."""
    train = read_examples(cfg.verb, cfg.data)
    if cfg.val:
        return train, read_examples(cfg.verb, cfg.val)
    n_val = int(round(len(train) * cfg.val_fraction))
    if n_val < 1 or n_val >= len(train):
        raise RnnkitError(
            f"{cfg.data} has {len(train)} examples: too few to hold out `val_fraction` "
            f"{cfg.val_fraction:g} for validation; give `val` FILE or more data"
        )
    order = np.random.default_rng([cfg.seed, 7]).permutation(len(train))  # own stream: not the trainer's
    held = set(order[:n_val].tolist())
    return ([e for i, e in enumerate(train) if i not in held], [e for i, e in enumerate(train) if i in held])


class TaskTrainer(Trainer):
    """A task form's part of a run (``forms.py``): minibatches of B examples in a fresh seeded
    order each epoch, the form's loss, and its validation metric.

        perm_e  = rng.permutation(N)                  at the start of epoch e
        batch_k = perm_e[k B : (k+1) B]               (the last batch of an epoch may be smaller)
    """

    rate_unit = "ex"

    def __init__(
        self,
        cfg: TaskTrainConfig,
        out: Path,
        log=print,
        vocab_obj: dict | None = None,
        engine: str | None = None,
        device: str | None = None,
    ):
        check_regularisers(cfg, engine)
        self.form: Form = make_form(cfg.verb, cfg)
        self.task, self.higher_better = cfg.verb, self.form.higher_better
        self.train_ex, self.val_ex = split_data(cfg)
        if vocab_obj is None:
            self.form.fit_vocab(self.train_ex)
        else:
            self.form.load_vocab(vocab_obj)
        self.metric = self.form.metric  # the tagger's depends on its tags
        self.train_data = self.form.encode(self.train_ex, cfg.data)
        if cfg.val_max and len(self.val_ex) > cfg.val_max:
            self.val_ex = self.val_ex[: cfg.val_max]
        self.val_data = self.form.encode(self.val_ex, cfg.val or cfg.data)
        model_cfg = self.form.model_config()
        # Before allocating: the memory of one batch of the longest example (both fields' lengths
        # plus BOS/EOS bound its steps, in characters or tokens).
        longest = max(len(a) + len(b) + 2 for a, b in self.train_ex)
        cfg.check_memory(model_parts(model_cfg), longest, min(cfg.batch, len(self.train_ex)))
        try:
            model = self.form.build_model(model_cfg.to_dict(), cfg.seed)
        except ValueError as e:
            raise RnnkitError(message_of(e)) from None
        if engine == "torch":
            device = distributed.current().device(device)  # torchrun: this rank's GPU
        use_engine(model, engine, device)  # not saved: checkpoints fit either engine
        super().__init__(cfg, out, log, model)
        self.dist.local_batch(cfg.batch)  # torchrun: refuses a batch that does not split evenly
        self.N = len(self.train_ex)
        self.pos = 0
        self.perm = self.rng.permutation(self.N)
        self.batch_size = 0  # examples in the current batch
        self.data_sha = {"data": file_sha256(cfg.data), "val": file_sha256(cfg.val) if cfg.val else ""}

    # ------------------------------------------------------------------ state
    def vocab_json(self) -> str:
        return self.form.vocab_json()

    def extra_state(self) -> tuple[dict, dict]:
        state = {
            "pos": self.pos,
            "best": self.best,
            "best_loss": self.best_loss,
            "metric": self.form.metric,
            "data_sha256": self.data_sha,
        }
        return state, {"data.perm": self.perm.astype(np.int64)}

    def check_checkpoint(self, c: ckpt.Checkpoint) -> None:
        if c.state.get("data_sha256") != self.data_sha:
            raise RnnkitError(
                f"the training or validation file changed since checkpoint {c.dir} was written; "
                f"an exact resume needs the same data (start a new run with `out`)"
            )

    def load_extra_state(self, s: dict, tensors: dict) -> None:
        perm = tensors["data.perm"]
        if perm.shape != (self.N,):
            raise ValueError(f"data order has shape {perm.shape}, expected ({self.N},)")
        if not np.array_equal(np.sort(perm), np.arange(self.N)):
            raise ValueError(f"data order is not an ordering of the {self.N} training examples")
        self.perm = perm.astype(np.int64)
        self.pos = int(s["pos"])
        if self.step < 0 or self.epoch < 0 or not 0 <= self.pos < self.N:
            raise ValueError(
                f"state.json's position (step {self.step}, epoch {self.epoch}, example "
                f"{self.pos}) is out of range ({self.N} training examples)"
            )
        self.best, self.best_loss = s.get("best"), float(s.get("best_loss", "inf"))

    # ------------------------------------------------------------------ steps
    def forward_batch(self) -> tuple[float, dict, int]:
        """The next B examples of the epoch's order; under torchrun, this rank's share of them
        (an epoch's last, smaller batch is cut to a multiple of the W ranks, so shares are equal)."""
        W = self.dist.world
        idx = self.perm[self.pos : self.pos + self.cfg.batch]
        idx = idx[: len(idx) - len(idx) % W]
        self.batch_size = len(idx)
        local = self.dist.shard_examples(idx)  # (B/W,) this rank's examples
        rng = self.dist.step_rng(self.rng, self.cfg.dropout or self.cfg.weight_drop)
        loss, cache = self.form.loss(self.model, self.train_data, local, rng)
        return loss, cache, len(local)

    def advance(self, finite: bool) -> None:
        self.pos += self.batch_size
        if self.pos + self.dist.world > self.N:  # fewer left than one example per rank
            self.epoch, self.pos = self.epoch + 1, 0
            self.perm = self.rng.permutation(self.N)

    def validate(self) -> dict:
        kw = {"decode_max": 500} if self.cfg.verb == "seq2seq" else {}
        return self.form.evaluate(self.model, self.val_data, self.val_ex, **kw)

    # --------------------------------------------------------------- reporting
    def train_row(self, r: dict, rate: float) -> dict:
        return {"grad_norm": r["grad_norm"], "examples_per_s": rate}

    def val_line(self, v: dict) -> str:
        return f"step {self.step}: val {self.metric} {v[self.metric]:.4f}, loss {v['loss']:.4f}"

    def done_line(self) -> str:
        best = "none" if self.best is None else f"{self.best:.4f}"
        return (
            f"done at step {self.step}: best val {self.metric} {best}; "
            f"checkpoints in {self.out}/best and {self.out}/last"
        )

    def describe(self) -> str:
        m = self.model.cfg
        bi = "bidirectional " if getattr(m, "bidirectional", False) else ""
        return (
            f"{self.cfg.verb}: {m.layers} x {m.hidden} {bi}tanh RNN, {len(self.model.flat):,} parameters; "
            f"{self.N:,} training and {len(self.val_ex):,} validation examples, batch {self.cfg.batch}; "
            f"out: {self.out}"
        )

    @property
    def resume_command(self) -> str:
        return f"rnnkit {self.cfg.verb} train --resume {self.out}"


def absolute_data(cfg: TaskTrainConfig, run: Path | None = None) -> TaskTrainConfig:
    """``cfg`` with absolute data paths (``trainer.absolute_input``); a resumed run that keeps its
    data (``keep_data``) finds it in its own ``data/``, wherever the run was copied or moved."""

    def fix(p: str) -> str:
        if not p:
            return p
        kept = run / "data" / Path(p).name if run is not None else None
        if kept is not None and Path(p).parent.name == "data" and not os.path.exists(p) and kept.is_file():
            return str(kept.resolve())
        return absolute_input(p, run, "data")

    return dataclasses.replace(cfg, data=fix(cfg.data), val=fix(cfg.val))


def _kept_data(cfg: TaskTrainConfig, out: Path) -> TaskTrainConfig:
    """``cfg`` with its data files named as their copies in ``OUT/data/`` (``keep_data``)."""
    where = Path(out).resolve() / "data"
    return dataclasses.replace(
        cfg, data=str(where / "train.tsv"), val=str(where / "val.tsv") if cfg.val else ""
    )


def _copy_data(cfg: TaskTrainConfig, kept: TaskTrainConfig) -> None:
    Path(kept.data).parent.mkdir(exist_ok=True)
    for src, dst in ((cfg.data, kept.data), (cfg.val, kept.val)):
        if src:
            shutil.copyfile(src, dst)


def train(
    cfg: TaskTrainConfig | None,
    out: Path,
    resume: bool = False,
    given: dict | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
    engine: str | None = None,
    device: str | None = None,
    keep_data: bool = False,
    stop_lines: bool = True,
) -> int:
    """Train a task model; returns the exit status (0 done, 130 interrupted), or raises
    ``TrainingFailed`` for a run that diverged or ended without saving a checkpoint.

    ``keep_data``: a new run copies its data files into ``OUT/data/`` and records those
    copies, so the run resumes without the originals (the Python API trains from lists,
    written to temporary files).

    ``engine``/``device``: ``numpy`` (default) or ``torch`` on ``cpu``/``cuda`` (``torch/task_engines.py``).
    ``stop_lines``: see ``trainer.set_up_and_train`` (False for the Python API).
    Every check (configuration, data, model on its engine and device) comes before ``out``
    is touched. The run directory is locked for the whole run, and a new run that ends
    without a checkpoint is undone, putting back the run ``--force`` was replacing
    (``checkpoint.RunClaim``). As for the LM (``trainer.set_up_and_train``): a signal while the
    data is read ends the run in one line, and ``resume`` of a run killed before its first
    checkpoint starts it over from step 0 with the configuration its marker recorded.
    """
    check_engine(engine, device)
    dist = distributed.init(device)  # torchrun: join the job

    def set_up(claim: ckpt.RunClaim) -> tuple[TaskTrainer, bool]:
        return _set_up(cfg, out, resume, given, force, log, engine, device, claim, keep_data)

    def resume_command() -> str:  # the verb: the new run's, the one given (the CLI's), or the run's own
        verb = cfg.verb if cfg is not None else (given or {}).get("verb")
        if verb is None:
            recorded = ckpt.read_run_marker(out).get("train")
            verb = recorded.get("verb") if isinstance(recorded, dict) else None
        return f"rnnkit {verb or '<verb>'} train --resume {out}"

    try:
        with dist.quiet_unless_main():  # rank 0 alone prints
            return set_up_and_train(set_up, out, resume, resume_command, log, stop_lines)
    finally:
        distributed.shutdown()


def _set_up(
    cfg, out, resume, given, force, log, engine, device, claim: ckpt.RunClaim, keep_data=False
) -> tuple[TaskTrainer, bool]:
    """-> (trainer, whether it continues from a checkpoint)."""
    main = distributed.current().is_main  # rank 0 alone writes the run directory
    restart = recorded_config(out, TaskTrainConfig) if resume else None
    if restart is not None:  # killed before its first checkpoint: a new run, in the same place
        _check_verb(restart, given, out)
        cfg = absolute_data(merge_resume(restart, _resumable(given), RESUMABLE), out)
        if cfg.data == _kept_data(cfg, out).data:
            raise RnnkitError(  # a run made from Python keeps its data in data/, which a new start replaces
                f"{out} holds no checkpoint yet, and its data is the copy kept inside it, which a new "
                f"start would replace: fit the model again, or train again on the original files"
            )
        log(restart_line(out))
        resume, force = False, True
    if resume:
        if main:
            claim.resume(ckpt.run_of_resume(out))
        c = ckpt.load(out, which="last")
        if c.config.get("task") not in ("classify", "generate", "seq2seq", "tag"):
            raise RnnkitError(f"{out} is a run of task {c.config.get('task')!r}, not a task verb's run")
        saved = TaskTrainConfig.from_dict(c.config.get("train", {}))
        _check_verb(saved, given, out)
        run = ckpt.run_dir_of(c.dir)
        cfg = absolute_data(merge_resume(saved, _resumable(given), RESUMABLE), run)
        cfg.validate()
        tr = TaskTrainer(cfg, run, log, vocab_obj=json.loads(c.vocab_json), engine=engine, device=device)
        tr.restore(c)
        log(f"resumed {c.dir} at step {tr.step} (epoch {tr.epoch}, example {tr.pos} of {tr.N})")
        return tr, True
    cfg = absolute_data(cfg)
    cfg.validate()
    if main:
        ckpt.check_out_dir(out, force)
        if force:
            ckpt.check_inputs_outside(out, [p for p in (cfg.data, cfg.val) if p])
    # Reads and checks all data, and builds the model, before out is touched.
    tr = TaskTrainer(cfg, out, log, engine=engine, device=device)
    kept = _kept_data(cfg, out) if keep_data else cfg
    if main:
        claim.start(out, force, train_config=kept.to_dict())
        if keep_data:
            _copy_data(cfg, kept)
    tr.cfg = kept
    return tr, False


def _check_verb(saved: TaskTrainConfig, given: dict | None, out: Path) -> None:
    if (given or {}).get("verb", saved.verb) != saved.verb:
        raise RnnkitError(
            f"{out} is a '{saved.verb}' run; resume it with rnnkit {saved.verb} train --resume {out}"
        )


def _resumable(given: dict | None) -> dict:
    """The given settings a resume may compare with the saved ones (the data and verb are the run's)."""
    return {k: v for k, v in (given or {}).items() if k not in ("data", "verb")}
