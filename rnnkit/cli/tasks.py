"""``rnnkit classify|generate|seq2seq|tag``: the four input/output forms as verbs on TSV data.

    rnnkit classify train data.tsv --out DIR [--val val.tsv]     text<TAB>label
    rnnkit classify predict DIR [TEXT ...]                        label<TAB>probability
    rnnkit classify eval DIR test.tsv [--json]                    accuracy
    rnnkit generate train data.tsv --out DIR                      label<TAB>text
    rnnkit generate sample DIR --label L -n N                     N new texts for label L
    rnnkit generate eval DIR test.tsv [--json]                    NLL nats/char
    rnnkit seq2seq train pairs.tsv --out DIR                      source<TAB>target
    rnnkit seq2seq predict DIR [--beam K] [SOURCE ...]            one target per source
    rnnkit seq2seq eval DIR test.tsv [--beam K] [--json]          exact match, token error rate
    rnnkit tag train data.tsv --out DIR                           text<TAB>tags (one per char)
    rnnkit tag predict DIR [TEXT ...]                             the tag string per text
    rnnkit tag eval DIR test.tsv [--json]                         tag accuracy (+ boundary F1)

Training (``tasks/trainer.py``) checkpoints, resumes exactly and reports as ``rnnkit train``
does, with the same flag names.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

from rnnkit.cli.shared_flags import engine_flags
from rnnkit.cli.train_flags import add_train_flags
from rnnkit.decode.forms import generator_sample
from rnnkit.errors import RnnkitError
from rnnkit.torch.engines import check_engine
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.forms import join_tokens, read_examples
from rnnkit.train.load_task import load_task
from rnnkit.train.task_config import TaskTrainConfig
from rnnkit.train.task_trainer import train

FORMS_HELP = {
    "classify": ("many-to-one: label a whole text (sentiment, language ID)", "text<TAB>label"),
    "generate": ("one-to-many: generate text for a label (a new word in language L)", "label<TAB>text"),
    "seq2seq": (
        "encoder-decoder: map a source sequence to a target sequence (spelling -> pronunciation)",
        "source<TAB>target",
    ),
    "tag": (
        "synchronous many-to-many: one tag per input character (segmentation, tagging)",
        "text<TAB>tags, one tag character per text character",
    ),
}


# ---------------------------------------------------------------------------- train flags
def _train_flags(p: argparse.ArgumentParser, verb: str) -> None:
    one_hot = "--embed 0, and --cond-embed 0 for the label" if verb == "generate" else "--embed 0"
    add_train_flags(
        p,
        TaskTrainConfig(verb=verb),
        ("data", "model", "optimisation", "run"),
        out_help=f"run directory for checkpoints and metrics (default {_default_out(verb)})",
        resume_note=" (DATA is read from the path saved in the run)",
        verb=verb,
        words={"format": FORMS_HELP[verb][1], "one_hot": one_hot},
    )
    engine_flags(p)  # not saved: a checkpoint trained with one engine loads with the other


def _default_out(verb: str) -> Path:
    """The run directory when neither --out nor --resume is given."""
    return Path(f"runs/{verb}")


def _engine(args):
    engine, device = getattr(args, "engine", "numpy"), getattr(args, "device", None)
    check_engine(engine, device)
    return engine, device


def cmd_train(args) -> int:
    verb = args.verb
    engine, device = _engine(args)
    names = {f.name for f in fields(TaskTrainConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    for k in ("data", "val"):
        if k in given:
            given[k] = str(Path(given[k]).resolve())
    given["verb"] = verb
    if args.resume is not None:
        if args.out is not None and args.out.resolve() != ckpt.run_of_resume(args.resume):
            raise RnnkitError("--out and --resume name different directories; --resume continues in its own")
        given.pop("data", None)
        return train(None, args.resume, resume=True, given=given, engine=engine, device=device)
    if args.data is None:
        raise RnnkitError(
            f"give the training data: rnnkit {verb} train DATA.tsv --out DIR (lines {FORMS_HELP[verb][1]})"
        )
    cfg = TaskTrainConfig(**given)
    return train(cfg, args.out or _default_out(verb), force=args.force, engine=engine, device=device)


# ---------------------------------------------------------------------------- loading
def _inputs(args) -> list[str]:
    """Texts from the positional arguments, else one per line of stdin (empty lines skipped)."""
    if args.text:
        texts = list(args.text)
    else:
        texts = [l.rstrip("\r\n") for l in sys.stdin]
    texts = [t for t in texts if t != ""]
    if not texts:
        raise RnnkitError("no input: give texts as arguments or one per line on stdin")
    return texts


def _unknown_note(vocab, texts, what="input") -> None:
    unk = sorted({ch for t in texts for ch in t if ch not in vocab.stoi})
    if unk:
        shown = "".join(unk[:20])
        print(
            f"rnnkit: note: {len(unk)} {what} character(s) not seen in training ({shown!r}) "
            f"are read as <unk>",
            file=sys.stderr,
        )


# ---------------------------------------------------------------------------- classify
def cmd_classify_predict(args) -> int:
    if args.top < 1:
        raise RnnkitError(f"--top must be at least 1, got {args.top}")
    form, model, _ = load_task(args.dir, "classify", args.which, *_engine(args))
    texts = _inputs(args)
    _unknown_note(form.vocab, texts)
    P = form.probs(model, texts)  # (N, K)
    for p in P:
        if args.top > 1:
            order = np.argsort(-p)[: args.top]
            print("\t".join(f"{form.labels.labels[k]}\t{p[k]:.4f}" for k in order))
        else:
            k = int(p.argmax())
            print(f"{form.labels.labels[k]}\t{p[k]:.4f}")
    return 0


def _evaluate(args, verb: str, line, **kw) -> int:
    """Score ``args.file`` with the run in ``args.dir``; print ``line(r, checkpoint dir, form)``
    or, with ``--json``, the result itself."""
    form, model, c = load_task(args.dir, verb, args.which, *_engine(args))
    examples = read_examples(verb, args.file)
    data = form.encode(examples, str(args.file))
    if verb == "seq2seq" and args.max_len:
        form.cfg.max_len = args.max_len
    r = form.evaluate(model, data, examples, **kw)
    r["checkpoint"] = str(c.dir)
    print(json.dumps(r) if args.json else line(r, c.dir, form))
    return 0


def cmd_classify_eval(args) -> int:
    return _evaluate(
        args,
        "classify",
        lambda r, where, _: (
            f"{args.file}: accuracy {r['accuracy']:.4f} over {r['examples']:,} examples, "
            f"loss {r['loss']:.4f} nats ({where})"
        ),
    )


# ---------------------------------------------------------------------------- generate
def cmd_generate_sample(args) -> int:
    if args.n < 1:
        raise RnnkitError(f"-n must be at least 1, got {args.n}")
    if args.max_len < 1:
        raise RnnkitError(f"--max-len must be at least 1, got {args.max_len}")
    if not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise RnnkitError(
            f"--temperature must be a finite non-negative number (0 is greedy), got {args.temperature}"
        )
    if args.top_k < 0:
        raise RnnkitError(f"--top-k must be non-negative (0: all), got {args.top_k}")
    if args.seed is not None and args.seed < 0:
        raise RnnkitError(f"--seed must be non-negative, got {args.seed}")
    form, model, _ = load_task(args.dir, "generate", args.which, *_engine(args))
    try:
        label = form.labels.encode([args.label])[0]
    except ValueError as e:
        raise RnnkitError(f"--label: {e}") from None
    rng = np.random.default_rng(args.seed)
    seqs = generator_sample(
        model, np.full(args.n, label, dtype=np.int64), args.max_len, rng, args.temperature, args.top_k
    )
    for s in seqs:
        print(form.vocab.decode(s))
    return 0


def cmd_generate_eval(args) -> int:
    return _evaluate(
        args,
        "generate",
        lambda r, where, _: (
            f"{args.file}: {r['nll']:.4f} nats/char ({r['bpc']:.4f} bits/char, end marker "
            f"included) over {r['predictions']:,} predictions ({where})"
        ),
    )


# ---------------------------------------------------------------------------- seq2seq
def _check_decoding(args) -> None:
    if args.beam < 1:
        raise RnnkitError(f"--beam must be at least 1, got {args.beam}")
    if args.max_len is not None and args.max_len < 1:
        raise RnnkitError(f"--max-len must be at least 1, got {args.max_len}")


def cmd_seq2seq_predict(args) -> int:
    _check_decoding(args)
    form, model, _ = load_task(args.dir, "seq2seq", args.which, *_engine(args))
    texts = _inputs(args)
    S = form.encode_sources(texts)
    for t, s in zip(texts, S):
        if not s:
            raise RnnkitError(f"source {t!r} holds no tokens")
    if form.cfg.source_tokens == "chars":
        _unknown_note(form.src_vocab, texts)
    for hyp in form.decode(model, S, args.beam, args.max_len):
        print(join_tokens(hyp, form.cfg.target_tokens))
    return 0


def cmd_seq2seq_eval(args) -> int:
    _check_decoding(args)

    def line(r, where, form):
        unit = "token" if form.cfg.target_tokens == "words" else "character"
        return (
            f"{args.file}: exact match {r['exact_match']:.4f} (sequence error rate "
            f"{r['sequence_error_rate']:.4f}), {unit} error rate {r['token_error_rate']:.4f} "
            f"over {r['examples']:,} examples, beam {args.beam} ({where})"
        )

    return _evaluate(args, "seq2seq", line, beam=args.beam)


# ---------------------------------------------------------------------------- tag
def cmd_tag_predict(args) -> int:
    form, model, _ = load_task(args.dir, "tag", args.which, *_engine(args))
    texts = _inputs(args)
    _unknown_note(form.vocab, texts)
    for t, tags in zip(texts, form.predict_tags(model, texts)):
        if args.space_after is not None:
            print("".join(ch + (" " if g == args.space_after else "") for ch, g in zip(t, tags)).rstrip(" "))
        else:
            print(tags)
    return 0


def cmd_tag_eval(args) -> int:
    def line(r, where, _):
        text = f"{args.file}: tag accuracy {r['accuracy']:.4f}"
        if "f1" in r:
            text += f", boundary precision {r['precision']:.4f} recall {r['recall']:.4f} F1 {r['f1']:.4f}"
        return text + f" over {r['examples']:,} examples ({where})"

    return _evaluate(args, "tag", line)


# ---------------------------------------------------------------------------- registration
def _dir_flags(p, verb) -> None:
    p.add_argument(
        "dir", type=Path, help=f"a '{verb}' run directory (its best checkpoint) or a checkpoint directory"
    )
    p.add_argument(
        "--which", choices=["best", "last"], default="best", help="which checkpoint of a run directory"
    )
    engine_flags(p)


def _eval_parser(vsub, verb, what, extra=None):
    p = vsub.add_parser(
        "eval",
        help=f"score a labelled TSV: {what}",
        description=f"Score every example of FILE (lines {FORMS_HELP[verb][1]}): {what}.",
    )
    _dir_flags(p, verb)
    p.add_argument("file", type=Path, help=f"UTF-8 TSV, lines {FORMS_HELP[verb][1]}")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a sentence")
    if extra:
        extra(p)
    return p


def _text_args(p, what="texts") -> None:
    p.add_argument("text", nargs="*", help=f"{what} to process; none: read one per line from stdin")


def _intermixed_parser_class():
    from rnnkit.cli import Parser

    class IntermixedParser(Parser):
        """Options may sit between positionals (``predict DIR --top 2 TEXT ...``)."""

        def parse_known_args(self, args=None, namespace=None):
            if getattr(self, "_mixing", False):
                return super().parse_known_args(args, namespace)
            self._mixing = True
            try:
                return self.parse_known_intermixed_args(args, namespace)
            finally:
                self._mixing = False

    return IntermixedParser


def add_parser(sub) -> None:
    IntermixedParser = _intermixed_parser_class()
    for verb, (desc, fmt) in FORMS_HELP.items():
        vp = sub.add_parser(verb, help=desc, description=f"{desc}. Data: UTF-8 TSV, lines {fmt}.")
        vsub = vp.add_subparsers(dest="action", metavar="ACTION", parser_class=IntermixedParser)
        vsub.required = True
        p = vsub.add_parser(
            "train",
            help=f"train a {verb} model on a TSV",
            argument_default=None,
            description=f"Train a {verb} model ({desc}) on DATA, lines {fmt}. Checkpoints "
            f"OUT/best (best validation metric) and OUT/last; --resume OUT continues "
            f"bit-identically. Example: rnnkit {verb} train data.tsv --out runs/{verb} --minutes 4",
        )
        _train_flags(p, verb)
        p.set_defaults(func=cmd_train, verb=verb)

        if verb == "classify":
            p = vsub.add_parser(
                "predict",
                help="print the most probable label and its probability per text",
                description="For each text (arguments, or stdin lines) print label<TAB>probability. "
                "Characters unseen in training are read as <unk> (a note says so).",
            )
            _dir_flags(p, verb)
            _text_args(p)
            p.add_argument(
                "--top", type=int, default=1, help="print the K most probable labels, label<TAB>prob each"
            )
            p.set_defaults(func=cmd_classify_predict)
            _eval_parser(vsub, verb, "accuracy and mean loss").set_defaults(func=cmd_classify_eval)
        elif verb == "generate":
            p = vsub.add_parser(
                "sample",
                help="generate N texts for a label",
                description="Draw N texts conditioned on --label, one per line.",
            )
            _dir_flags(p, verb)
            p.add_argument("--label", required=True, help="the condition: one of the training labels")
            p.add_argument("-n", type=int, default=10, help="how many texts to draw")
            p.add_argument(
                "--temperature",
                type=float,
                default=1.0,
                help="divide logits by this; 0 is greedy, below 1 more conservative",
            )
            p.add_argument(
                "--top-k", type=int, default=0, help="sample among the K most likely characters (0: all)"
            )
            p.add_argument("--max-len", type=int, default=40, help="most characters per text")
            p.add_argument("--seed", type=int, default=None, help="seed for reproducible samples")
            p.set_defaults(func=cmd_generate_sample)
            _eval_parser(vsub, verb, "held-out NLL per character").set_defaults(func=cmd_generate_eval)
        elif verb == "seq2seq":

            def dec_flags(q):
                q.add_argument("--beam", type=int, default=1, help="beam width; 1 is greedy decoding")
                q.add_argument(
                    "--max-len",
                    type=int,
                    default=None,
                    help="most target tokens per output (default: the training --max-len)",
                )

            p = vsub.add_parser(
                "predict",
                help="decode a target for each source",
                description="For each source (arguments, or stdin lines) print the decoded target.",
            )
            _dir_flags(p, verb)
            _text_args(p, "sources")
            dec_flags(p)
            p.set_defaults(func=cmd_seq2seq_predict)
            _eval_parser(
                vsub,
                verb,
                "exact-match rate, sequence error rate, token (or character) error rate",
                dec_flags,
            ).set_defaults(func=cmd_seq2seq_eval)
        else:
            p = vsub.add_parser(
                "predict",
                help="print the tag string of each text",
                description="For each text (arguments, or stdin lines) print one tag per character.",
            )
            _dir_flags(p, verb)
            _text_args(p)
            p.add_argument(
                "--space-after",
                metavar="TAG",
                help="print the text with a space after each character tagged TAG "
                "(space restoration: --space-after 1)",
            )
            p.set_defaults(func=cmd_tag_predict)
            _eval_parser(
                vsub, verb, "tag accuracy, and boundary precision/recall/F1 when the tags are 0/1"
            ).set_defaults(func=cmd_tag_eval)
