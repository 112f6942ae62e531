"""``rnnkit train``, ``rnnkit eval`` and ``rnnkit sample``: the character language model verbs."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import fields
from pathlib import Path

from rnnkit.data.corpus import iter_text_file
from rnnkit.decode.lm import lm_beam_search, lm_sample
from rnnkit.errors import UserError
from rnnkit.nn.init import INPUT_INITS, RECURRENT_INITS
from rnnkit.torch import distributed
from rnnkit.torch.engines import require_torch
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.evaluate import evaluate_pieces
from rnnkit.train.lm_config import TrainConfig
from rnnkit.train.lm_trainer import train
from rnnkit.train.load_lm import load_lm
from rnnkit.train.settings import add_memory_flag, add_optimisation_flags

D = TrainConfig()  # defaults, shown in --help
EVAL_PIECE_BYTES = 1 << 20  # `rnnkit eval` reads its file 1 MiB at a time


def _engine_flags(p: argparse.ArgumentParser, train: bool = False) -> None:
    g = p.add_argument_group("engine")
    g.add_argument(
        "--engine",
        choices=["numpy", "torch"],
        default=None if train else "numpy",
        help="numpy (default; no dependencies) or torch (torch.nn.RNN, cuDNN on a GPU; needs the torch extra)",
    )
    g.add_argument(
        "--device",
        default=None,
        help="torch engine: cpu, cuda or cuda:N (default cpu). Under torchrun, cuda means cuda:LOCAL_RANK",
    )


def _check_engine(args) -> None:
    if args.engine == "torch":
        require_torch()
    elif os.environ.get("WORLD_SIZE", "1") not in ("", "1"):
        require_torch("data-parallel training (torchrun)")
    if args.device not in (None, "cpu") and args.engine != "torch" and getattr(args, "resume", None) is None:
        raise UserError(f"--device {args.device} needs --engine torch (the NumPy engine runs on the CPU)")


def _train_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "files",
        nargs="*",
        help="UTF-8 text files or directories of them (default: the Python standard library's source)",
    )
    g.add_argument(
        "--val",
        dest="val_files",
        nargs="+",
        metavar="FILE",
        help="validation text from these files instead of the last part of the training text",
    )
    g.add_argument(
        "--val-fraction",
        type=float,
        help=f"share of the text, taken from its end, used for validation (default {D.val_fraction})",
    )
    g.add_argument(
        "--encoding-errors",
        choices=["strict", "replace"],
        help="'replace' turns invalid UTF-8 into U+FFFD instead of refusing the file (default strict)",
    )
    g.add_argument(
        "--vocab-limit",
        type=int,
        metavar="N",
        help=f"warn, showing the count, when the text has more than N distinct characters; 0 never warns (default {D.vocab_limit})",
    )
    g = p.add_argument_group("model")
    g.add_argument("--hidden", type=int, help=f"hidden units H per layer (default {D.hidden})")
    g.add_argument("--layers", type=int, help=f"stacked RNN layers L (default {D.layers})")
    g.add_argument(
        "--embed",
        type=int,
        help="0 feeds one-hot characters (layer 0's W_ih is the embedding); E>0 adds an E-wide embedding table (default 0)",
    )
    g.add_argument(
        "--dropout",
        type=float,
        help=f"dropout between layers and before the output layer (default {D.dropout})",
    )
    g.add_argument(
        "--init",
        choices=RECURRENT_INITS,
        help="recurrent weight init: uniform ±1/√H (as PyTorch), orthogonal, or identity (default uniform)",
    )
    g.add_argument(
        "--input-init",
        choices=INPUT_INITS,
        help=f"one-hot input only: layer 0's W_ih, the characters' embedding, drawn N(0, 1) as torch.nn.Embedding (normal) or ±1/√H as torch.nn.RNN (uniform); normal trains much faster (docs/input_init.md) (default {D.input_init})",
    )
    g = p.add_argument_group("truncated BPTT")
    g.add_argument(
        "--seq-len", type=int, help=f"chunk length T: steps backpropagated through (default {D.seq_len})"
    )
    g.add_argument("--batch", type=int, help=f"B parallel streams the text is cut into (default {D.batch})")
    g.add_argument(
        "--no-carry",
        dest="carry",
        action="store_false",
        default=argparse.SUPPRESS,
        help="start every chunk from a zero state instead of carrying the state over",
    )
    add_optimisation_flags(p, D)
    g = p.add_argument_group("run")
    g.add_argument(
        "--out", type=Path, help="run directory for checkpoints, data and metrics (default runs/lm)"
    )
    g.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the run in DIR exactly where its last checkpoint left it",
    )
    g.add_argument(
        "--force",
        action="store_true",
        default=False,
        help="start over in an existing --out directory, deleting its checkpoints",
    )
    g.add_argument("--max-steps", type=int, help=f"stop after this many steps (default {D.max_steps})")
    g.add_argument(
        "--minutes", type=float, help="also stop after this much training time (default: no limit)"
    )
    g.add_argument("--seed", type=int, help=f"seed for initialisation and dropout (default {D.seed})")
    g.add_argument("--eval-every", type=int, help=f"validate every N steps (default {D.eval_every})")
    g.add_argument(
        "--val-chars",
        type=int,
        help=f"validation characters scored during training, 0 for all (default {D.val_chars})",
    )
    g.add_argument("--save-every", type=int, help=f"checkpoint every N steps (default {D.save_every})")
    g.add_argument(
        "--log-every", type=int, help=f"write a metrics line every N steps (default {D.log_every})"
    )
    g.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        default=argparse.SUPPRESS,
        help="no progress bar",
    )
    add_memory_flag(g)
    _engine_flags(p, train=True)
    g.add_argument(
        "--fault-nan-step", type=int, help="testing: poison the gradient at this step to exercise --nonfinite"
    )


def cmd_train(args) -> int:
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
            raise UserError("--out and --resume name different directories; --resume continues in its own")
        return train(TrainConfig(), args.resume, resume=args.resume, given=given)
    cfg = TrainConfig(**given)
    return train(cfg, args.out or Path("runs/lm"), force=args.force)


def cmd_eval(args) -> int:
    _check_engine(args)
    model, vocab, c = load_lm(args.dir, args.which, args.engine, args.device)
    # Read, encoded and scored a piece at a time: memory stays flat whatever the file's size.
    text = iter_text_file(args.file, args.encoding_errors, EVAL_PIECE_BYTES)
    ids = vocab.encode_pieces(text, what=str(args.file))
    r = evaluate_pieces(model, ids, progress=not args.json and sys.stderr.isatty(), what=str(args.file))
    r["checkpoint"] = str(c.dir)
    if args.json:
        print(json.dumps(r))
    else:
        print(
            f"{args.file}: {r['loss_nats']:.4f} nats/char, {r['bpc']:.4f} bits/char, "
            f"perplexity {r['perplexity']:.3f} over {r['predictions']:,} predictions ({c.dir})"
        )
    return 0


def cmd_sample(args) -> int:
    if args.length < 0:
        raise UserError(f"--length must be non-negative, got {args.length}")
    if not math.isfinite(args.temperature):
        raise UserError(f"--temperature must be a finite number, got {args.temperature}")
    if not args.greedy and args.beam == 0 and not args.temperature > 0:
        raise UserError(f"--temperature must be positive (or use --greedy), got {args.temperature}")
    if not 0 < args.top_p <= 1:
        raise UserError(f"--top-p must lie in (0, 1], got {args.top_p}")
    if args.top_k < 0 or args.beam < 0:
        raise UserError("--top-k and --beam must be non-negative")
    if args.greedy and args.beam:
        raise UserError("--greedy and --beam are two different decoders; give one of them")
    if args.seed is not None and args.seed < 0:
        raise UserError(f"--seed must be non-negative, got {args.seed}")
    _check_engine(args)
    model, vocab, _ = load_lm(args.dir, args.which, args.engine, args.device)
    prime = args.prime if args.prime is not None else ("\n" if "\n" in vocab.index else vocab.chars[0])
    if prime == "":
        raise UserError("--prime must hold at least one character")
    prime_ids = vocab.encode(prime, what="--prime")
    out = sys.stdout
    out.write(prime)
    if args.beam:
        ids, _ = lm_beam_search(model, prime_ids, args.length, args.beam)
        out.write(vocab.decode(ids))
    else:

        def emit(c):
            out.write(vocab.chars[c])
            out.flush()

        lm_sample(
            model,
            prime_ids,
            args.length,
            args.temperature,
            args.top_k,
            args.top_p,
            args.greedy,
            args.seed,
            emit,
        )
    out.write("\n")
    out.flush()
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a character language model",
        argument_default=None,
        description="Train a character-level RNN language model with truncated BPTT. "
        "Example: rnnkit train input.txt --out runs/shakespeare --hidden 512 --minutes 15",
    )
    _train_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "eval",
        help="score a text: nats/char, bits/char, perplexity",
        description="Read FILE as one sequence from a zero state and report the mean "
        "cross-entropy of its N-1 next-character predictions.",
    )
    p.add_argument("dir", type=Path, help="run directory (its best checkpoint) or a checkpoint directory")
    p.add_argument("file", type=Path, help="UTF-8 text to score")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: loss_nats, bpc, perplexity, chars, predictions",
    )
    p.add_argument(
        "--which", choices=["best", "last"], default="best", help="which checkpoint of a run directory"
    )
    p.add_argument(
        "--encoding-errors",
        choices=["strict", "replace"],
        default="strict",
        help="'replace' turns invalid UTF-8 into U+FFFD",
    )
    _engine_flags(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "sample",
        help="generate text from a trained model",
        description="Generate text character by character; each output becomes the next input.",
    )
    p.add_argument("dir", type=Path, help="run directory (its best checkpoint) or a checkpoint directory")
    p.add_argument("--prime", help="text to start from (default: a newline)")
    p.add_argument("--length", type=int, default=500, help="characters to generate")
    p.add_argument(
        "--temperature", type=float, default=0.8, help="divide logits by this; lower is more conservative"
    )
    p.add_argument("--top-k", type=int, default=0, help="sample among the K most likely characters (0: all)")
    p.add_argument(
        "--top-p", type=float, default=1.0, help="sample among the smallest set with this much probability"
    )
    p.add_argument("--greedy", action="store_true", help="always take the most likely character")
    p.add_argument(
        "--beam", type=int, default=0, help="beam search with this many hypotheses (prints at the end)"
    )
    p.add_argument("--seed", type=int, default=None, help="seed for reproducible samples")
    p.add_argument(
        "--which", choices=["best", "last"], default="best", help="which checkpoint of a run directory"
    )
    _engine_flags(p)
    p.set_defaults(func=cmd_sample)
