"""``rnnkit train``, ``rnnkit eval`` and ``rnnkit sample``: the character language model verbs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

from rnnkit.cli.shared_flags import (
    engine_flags,
    run_dir_arg,
    sampling_flags,
    sampling_of,
    verb_parser,
    which_flag,
)
from rnnkit.cli.train_flags import add_train_flags
from rnnkit.data.corpus import iter_text_file
from rnnkit.decode.lm import default_prime, sample_text
from rnnkit.errors import RnnkitError
from rnnkit.torch import distributed
from rnnkit.torch.engines import check_engine
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.evaluate import evaluate_text
from rnnkit.train.lm_config import TrainConfig
from rnnkit.train.lm_trainer import train
from rnnkit.train.load_lm import load_lm

DEFAULT_OUT = Path("runs/lm")  # the run directory when neither --out nor --resume is given
EVAL_PIECE_BYTES = 1 << 20  # `rnnkit eval` reads its file 1 MiB at a time


def _check_engine(args) -> None:
    # On resume the run's saved engine is not read yet: its device is checked with it.
    check_engine(args.engine, args.device, check_device=getattr(args, "resume", None) is None)


def cmd_train(args: argparse.Namespace) -> int:
    _check_engine(args)
    dist = distributed.init(args.device)  # torchrun: join the job
    try:
        with dist.quiet_unless_main():  # rank 0 alone prints
            return _cmd_train(args)
    finally:
        distributed.shutdown()


def _cmd_train(args) -> int:
    names = {f.name for f in fields(TrainConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    for k in ("files", "val_files"):
        if k in given:
            given[k] = [os.path.abspath(x) for x in given[k]]  # a resume may run elsewhere
    if args.resume is not None:
        if args.out is not None and args.out.resolve() != ckpt.run_of_resume(args.resume):
            raise RnnkitError("--out and --resume name different directories; --resume continues in its own")
        return train(TrainConfig(), args.resume, resume=args.resume, given=given)
    cfg = TrainConfig.from_given(**given)
    # --minutes on the NumPy engine with no size given: the size is picked for the budget, and
    # with it each of these groups of settings that no flag sets.
    pick = ()
    if cfg.minutes and cfg.engine == "numpy" and not given.keys() & {"hidden", "layers", "embed"}:
        groups = (("hidden", "layers", "embed"), ("dropout",), ("optimizer", "weight_decay"), ("ema",))
        pick = tuple(name for group in groups if not given.keys() & set(group) for name in group)
    return train(cfg, args.out or DEFAULT_OUT, force=args.force, auto_size=pick)


def cmd_eval(args: argparse.Namespace) -> int:
    _check_engine(args)
    model, vocab, c = load_lm(args.dir, args.which, args.engine, args.device)
    # Read, encoded and scored a piece at a time: memory stays flat whatever the file's size.
    text = iter_text_file(args.file, args.encoding_errors, EVAL_PIECE_BYTES)
    r = evaluate_text(
        model,
        vocab,
        text,
        str(args.file),
        args.unknown,
        progress=not args.json and sys.stderr.isatty(),
        hint="; --unknown skip scores the text without them",
    )
    r["checkpoint"] = str(c.dir)
    if args.json:
        print(json.dumps(r))
    else:
        n = r["skipped"]
        skipped = f", {n:,} unknown character{'s' * (n != 1)} skipped" if args.unknown == "skip" else ""
        print(
            f"{args.file}: {r['loss_nats']:.4f} nats/char, {r['bpc']:.4f} bits/char, "
            f"perplexity {r['perplexity']:.3f} over {r['predictions']:,} predictions{skipped} ({c.dir})"
        )
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    _check_engine(args)
    model, vocab, _ = load_lm(args.dir, args.which, args.engine, args.device)
    prime = args.prime if args.prime is not None else default_prime(vocab)
    out = sys.stdout

    def emit(text: str) -> None:
        out.write(text)
        out.flush()

    if prime:
        emit(prime)
    sample_text(model, vocab, prime, args.length, sampling_of(args), emit)
    emit("\n")
    return 0


def _train_flags(p: argparse.ArgumentParser) -> None:
    add_train_flags(
        p,
        TrainConfig(),
        ("data", "model", "truncated BPTT", "optimisation", "run", "engine"),
        out_help=f"run directory for checkpoints, data and metrics (default {DEFAULT_OUT})",
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(
        sub,
        "train",
        cmd_train,
        help="train a character language model",
        description="Train a character-level RNN language model with truncated BPTT. "
        "Example: rnnkit train input.txt --out runs/shakespeare --hidden 512 --minutes 15",
        argument_default=None,
    )
    _train_flags(p)

    p = verb_parser(
        sub,
        "eval",
        cmd_eval,
        help="score a text: nats/char, bits/char, perplexity",
        description="Read FILE as one sequence from a zero state and report the mean "
        "cross-entropy of its N-1 next-character predictions.",
    )
    run_dir_arg(p)
    p.add_argument("file", type=Path, help="UTF-8 text to score")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: loss_nats, bpc, perplexity, chars, predictions, skipped",
    )
    p.add_argument(
        "--unknown",
        choices=["error", "skip"],
        default="error",
        help="a character outside the model's vocabulary: refuse the text (error), or score the text "
        "as if the character were absent, neither predicted nor read, and count it (skip)",
    )
    which_flag(p)
    p.add_argument(
        "--encoding-errors",
        choices=["strict", "replace"],
        default="strict",
        help="'replace' turns invalid UTF-8 into U+FFFD",
    )
    engine_flags(p)

    p = verb_parser(
        sub,
        "sample",
        cmd_sample,
        help="generate text from a trained model",
        description="Generate text character by character; each output becomes the next input.",
    )
    run_dir_arg(p)
    p.add_argument("--length", type=int, default=500, help="characters to generate")
    sampling_flags(
        p,
        temperature=0.8,
        prime_help="text to start from (default: a newline)",
        beam_help="beam search with this many hypotheses: the most probable text found (prints at the end)",
    )
    which_flag(p)
    engine_flags(p)
