"""``rnnkit classify|generate|seq2seq|tag``: the four input/output forms as verbs on TSV data.

    rnnkit classify train data.tsv --out DIR [--val val.tsv]     text<TAB>label
    rnnkit classify predict DIR [TEXT ...]                        text<TAB>label<TAB>probability
    rnnkit classify eval DIR test.tsv [--json]                    accuracy, per-class P/R/F1, confusion
    rnnkit generate train data.tsv --out DIR                      label<TAB>text
    rnnkit generate sample DIR --label L -n N [--prime P]         N new texts for label L
    rnnkit generate eval DIR test.tsv [--json]                    NLL nats/char
    rnnkit seq2seq train pairs.tsv --out DIR                      source<TAB>target
    rnnkit seq2seq predict DIR [--beam K] [SOURCE ...]            source<TAB>target
    rnnkit seq2seq eval DIR test.tsv [--beam K] [--json]          exact match, token and char error rates
    rnnkit tag train data.tsv --out DIR                           text<TAB>tags (one per char)
    rnnkit tag predict DIR [TEXT ...]                             text<TAB>tags
    rnnkit tag eval DIR test.tsv [--json]                         tag accuracy, per-tag P/R/F1 (+ boundary F1)

Training (``train/task_trainer.py``) checkpoints, resumes exactly and reports as ``rnnkit
train`` does, with the same flag names. ``predict`` prints one TSV line per input, the input
first, so its output can be piped and joined; an input holding a TAB is refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np

from rnnkit.cli import Parser
from rnnkit.cli.report_table import report_lines
from rnnkit.cli.shared_flags import (
    Command,
    engine_flags,
    run_dir_arg,
    sampling_flags,
    sampling_of,
    which_flag,
)
from rnnkit.cli.train_flags import add_train_flags
from rnnkit.errors import RnnkitError
from rnnkit.torch.engines import check_engine
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.forms import Form, Seq2SeqForm, join_tokens, read_examples, split_tokens
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
PREDICT_NOTE = (
    "The output is a TSV: the input echoed as the first field, so it can be piped; an input "
    "holding a TAB is refused."
)


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
    if verb == "generate":  # the default since issue 18; still accepted, as before
        p.add_argument(
            "--autoregressive",
            action="store_true",
            default=None,
            help="feed back the previous character (the default; --no-autoregressive turns it off)",
        )
    engine_flags(p)  # not saved: a checkpoint trained with one engine loads with the other


def _default_out(verb: str) -> Path:
    """The run directory when neither --out nor --resume is given."""
    return Path(f"runs/{verb}")


def cmd_train(args: argparse.Namespace) -> int:
    verb, engine, device = args.verb, args.engine, args.device
    check_engine(engine, device)
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
    cfg = TaskTrainConfig.from_given(**given)
    return train(cfg, args.out or _default_out(verb), force=args.force, engine=engine, device=device)


def _inputs(args) -> list[str]:
    """Texts from the positional arguments, else one per line of stdin (empty lines skipped).

    ``predict`` echoes each text as the first field of its TSV output line, so a text holding
    a TAB or a line break, which would shift the fields, is refused."""
    if args.text:
        named = [(f"argument {i}", t) for i, t in enumerate(args.text, start=1)]
    else:
        named = [(f"stdin line {i}", l.rstrip("\r\n")) for i, l in enumerate(sys.stdin, start=1)]
    named = [(where, t) for where, t in named if t != ""]
    if not named:
        raise RnnkitError("no input: give texts as arguments or one per line on stdin")
    for where, t in named:
        if "\t" in t or "\n" in t or "\r" in t:
            raise RnnkitError(
                f"{where} holds a TAB or a line break: predict prints input<TAB>prediction lines, "
                f"so each input must be one field (for a TSV, cut -f1 gives its first column)"
            )
    return [t for _, t in named]


def _print_row(*fields: str) -> None:
    """One line of predict's TSV output: the input, then what was predicted for it."""
    print("\t".join(fields))


def _unknown_note(
    vocab, token_lists, what: str = "input", unit: str = "character", fate: str = "are read as <unk>"
) -> None:
    """One note on stderr counting the distinct tokens of ``token_lists`` (strings of
    characters, or lists of words) that ``vocab`` lacks, and saying what becomes of them."""
    counts = Counter(tok for toks in token_lists for tok in toks if tok not in vocab.stoi)
    if not counts:
        return
    unk = sorted(counts)
    if unit == "character":
        shown = repr("".join(unk[:20]))
    else:
        shown = ", ".join(map(repr, unk[:10])) + (", ..." if len(unk) > 10 else "")
        shown += f"; {sum(counts.values()):,} occurrence(s)"
    print(f"rnnkit: note: {len(unk)} {what} {unit}(s) not seen in training ({shown}) {fate}", file=sys.stderr)


# ---------------------------------------------------------------------------- classify
def cmd_classify_predict(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise RnnkitError(f"--top must be at least 1, got {args.top}")
    form, model, _ = load_task(args.dir, args.verb, args.which, args.engine, args.device)
    texts = _inputs(args)
    _unknown_note(form.vocab, texts)
    P = form.probs(model, texts)  # (N, K)
    for t, p in zip(texts, P):
        order = np.argsort(-p, kind="stable")[: args.top]  # most probable first (ties: lower id)
        _print_row(t, *(f"{form.labels.labels[k]}\t{p[k]:.4f}" for k in order))
    return 0


def _evaluate(args, line, notes=None, **kw) -> int:
    """Score ``args.file`` with the run in ``args.dir``; print ``line(r, checkpoint dir, form)``
    or, with ``--json``, the result itself. ``notes(form, examples)`` may print notes first."""
    form, model, c = load_task(args.dir, args.verb, args.which, args.engine, args.device)
    examples = read_examples(args.verb, args.file)
    if notes is not None:
        notes(form, examples)
    data = form.encode(examples, str(args.file))
    if args.verb == "seq2seq" and args.max_len:
        form.cfg.max_len = args.max_len
    r = form.evaluate(model, data, examples, **kw)
    r["checkpoint"] = str(c.dir)
    print(json.dumps(r) if args.json else line(r, c.dir, form))
    return 0


def cmd_classify_eval(args: argparse.Namespace) -> int:
    def text(r: dict, where: Path, _: Form) -> str:
        line = (
            f"{args.file}: accuracy {r['accuracy']:.4f} over {r['examples']:,} examples, "
            f"loss {r['loss']:.4f} nats ({where})"
        )
        return "\n".join([line, *report_lines(r, "label")])

    return _evaluate(args, text)


# ---------------------------------------------------------------------------- generate
def cmd_generate_sample(args: argparse.Namespace) -> int:
    sampling = sampling_of(args)
    form, model, _ = load_task(args.dir, args.verb, args.which, args.engine, args.device)
    for text in form.sample(model, args.label, args.n, args.max_len, sampling, args.prime or ""):
        print(text)
    return 0


def cmd_generate_eval(args: argparse.Namespace) -> int:
    return _evaluate(
        args,
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


def _token_unit(mode: str) -> str:
    """How a note names one token of a seq2seq side read as ``mode`` (chars or words)."""
    return "word" if mode == "words" else "character"


def cmd_seq2seq_predict(args: argparse.Namespace) -> int:
    _check_decoding(args)
    form, model, _ = load_task(args.dir, args.verb, args.which, args.engine, args.device)
    texts = _inputs(args)
    S = form.encode_sources(texts)
    for t, s in zip(texts, S):
        if not s:
            raise RnnkitError(f"source {t!r} holds no tokens")
    mode = form.cfg.source_tokens
    _unknown_note(form.src_vocab, [split_tokens(t, mode) for t in texts], "input", _token_unit(mode))
    for t, hyp in zip(texts, form.decode(model, S, args.beam, args.max_len)):
        _print_row(t, join_tokens(hyp, form.cfg.target_tokens))
    return 0


def _seq2seq_notes(form, examples) -> None:
    """Eval's notes: the source tokens read as <unk>, and the target tokens the model cannot
    write (unseen in training, they count as errors)."""
    src, tgt = form.cfg.source_tokens, form.cfg.target_tokens
    _unknown_note(form.src_vocab, [split_tokens(s, src) for s, _ in examples], "source", _token_unit(src))
    targets = [split_tokens(t, tgt) for _, t in examples]
    _unknown_note(
        form.tgt_vocab, targets, "target", _token_unit(tgt), "cannot be predicted (each is an error)"
    )


def cmd_seq2seq_eval(args: argparse.Namespace) -> int:
    _check_decoding(args)

    def line(r: dict, where: Path, form: Seq2SeqForm) -> str:
        if form.cfg.target_tokens == "words":
            rates = (
                f"token error rate {r['token_error_rate']:.4f}, "
                f"character error rate {r['character_error_rate']:.4f}"
            )
        else:  # over characters the two rates are one
            rates = f"character error rate {r['token_error_rate']:.4f}"
        return (
            f"{args.file}: exact match {r['exact_match']:.4f} (sequence error rate "
            f"{r['sequence_error_rate']:.4f}), {rates} "
            f"over {r['examples']:,} examples, beam {args.beam} ({where})"
        )

    return _evaluate(args, line, _seq2seq_notes, beam=args.beam)


# ---------------------------------------------------------------------------- tag
def cmd_tag_predict(args: argparse.Namespace) -> int:
    form, model, _ = load_task(args.dir, args.verb, args.which, args.engine, args.device)
    texts = _inputs(args)
    _unknown_note(form.vocab, texts)
    for t, tags in zip(texts, form.predict_tags(model, texts)):
        shown = tags
        if args.space_after is not None:  # the text, with a space after each character tagged TAG
            shown = "".join(ch + " " if g == args.space_after else ch for ch, g in zip(t, tags)).rstrip(" ")
        _print_row(t, shown)
    return 0


def cmd_tag_eval(args: argparse.Namespace) -> int:
    def line(r: dict, where: Path, _: Form) -> str:
        text = f"{args.file}: tag accuracy {r['accuracy']:.4f}"
        if "f1" in r:
            text += f", boundary precision {r['precision']:.4f} recall {r['recall']:.4f} F1 {r['f1']:.4f}"
        return "\n".join([text + f" over {r['examples']:,} examples ({where})", *report_lines(r, "tag")])

    return _evaluate(args, line)


# ---------------------------------------------------------------------------- registration
def _run_flags(p, verb: str) -> None:
    """DIR, ``--which`` and the engine: the run every action after ``train`` reads."""
    run_dir_arg(p, f"a '{verb}' run directory (its best checkpoint) or a checkpoint directory")
    which_flag(p)
    engine_flags(p)


def _predict(verb: str, func, flags, help: str, prints: str, unseen: str = "", item: str = "text") -> Command:
    """``predict``: reads items (arguments, or stdin lines), prints a TSV line for each; ``flags``
    adds what follows the items."""

    def predict_flags(p: argparse.ArgumentParser) -> None:
        _run_flags(p, verb)
        p.add_argument("text", nargs="*", help=f"{item}s to process; none: read one per line from stdin")
        flags(p)

    description = f"For each {item} (arguments, or stdin lines) print {prints}. {PREDICT_NOTE}"
    return Command("predict", func, predict_flags, help, f"{description} {unseen}" if unseen else description)


def _eval(verb: str, func, reports: str, flags=lambda p: None) -> Command:
    """``eval``: scores a labelled TSV of ``verb`` and prints what it ``reports``."""
    lines = FORMS_HELP[verb][1]

    def eval_flags(p: argparse.ArgumentParser) -> None:
        _run_flags(p, verb)
        p.add_argument("file", type=Path, help=f"UTF-8 TSV, lines {lines}")
        p.add_argument("--json", action="store_true", help="print one JSON object instead of a sentence")
        flags(p)

    description = f"Score every example of FILE (lines {lines}): {reports}."
    return Command("eval", func, eval_flags, f"score a labelled TSV: {reports}", description)


def _top_flag(p) -> None:
    p.add_argument(
        "--top",
        type=int,
        default=1,
        help="print the K most probable labels: text, then label<TAB>probability for each",
    )


def _generate_sample_flags(p) -> None:
    _run_flags(p, "generate")
    p.add_argument("--label", required=True, help="the condition: one of the training labels")
    p.add_argument("-n", type=int, default=10, help="how many texts to draw")
    p.add_argument("--max-len", type=int, default=40, help="most characters per text, after --prime")
    sampling_flags(
        p,
        temperature=1.0,
        prime_help="text every sample starts with, printed in front of it (autoregressive "
        "runs only: the plain form reads zero vectors after t=1)",
        beam_help="beam search with this many hypotheses: the -n most probable texts it "
        "found, best first (0: sample)",
    )


def _decoding_flags(p) -> None:
    p.add_argument("--beam", type=int, default=1, help="beam width; 1 is greedy decoding")
    p.add_argument(
        "--max-len",
        type=int,
        default=None,
        help="most target tokens per output (default: the training --max-len)",
    )


def _space_after_flag(p) -> None:
    p.add_argument(
        "--space-after",
        metavar="TAG",
        help="print text<TAB>the text with a space after each character tagged TAG "
        "(space restoration: --space-after 1)",
    )


# What each form does with a trained run, after ``train``.
RUN_ACTIONS = {
    "classify": (
        _predict(
            "classify",
            cmd_classify_predict,
            _top_flag,
            "print each text with its most probable label and that label's probability",
            "text<TAB>label<TAB>probability",
            "Characters unseen in training are read as <unk> (a note says so).",
        ),
        _eval(
            "classify",
            cmd_classify_eval,
            "accuracy, mean loss, per-class precision/recall/F1/support with macro and weighted "
            "averages, and the confusion matrix",
        ),
    ),
    "generate": (
        Command(
            "sample",
            cmd_generate_sample,
            _generate_sample_flags,
            "generate N texts for a label",
            "Draw N texts conditioned on --label, one per line. Special tokens "
            "(<unk>, padding, begin/end markers) are never written.",
        ),
        _eval("generate", cmd_generate_eval, "held-out NLL per character"),
    ),
    "seq2seq": (
        _predict(
            "seq2seq",
            cmd_seq2seq_predict,
            _decoding_flags,
            "decode a target for each source",
            "source<TAB>target",
            "Source tokens unseen in training are read as <unk> (a note counts them).",
            item="source",
        ),
        _eval(
            "seq2seq",
            cmd_seq2seq_eval,
            "exact-match rate, sequence error rate, token and character error rates",
            _decoding_flags,
        ),
    ),
    "tag": (
        _predict(
            "tag",
            cmd_tag_predict,
            _space_after_flag,
            "print each text with its tag string",
            "text<TAB>tags, one tag per character",
        ),
        _eval(
            "tag",
            cmd_tag_eval,
            "tag accuracy, per-tag precision/recall/F1/support with macro and weighted averages, "
            "the confusion matrix, and boundary precision/recall/F1 when the tags are 0/1",
        ),
    ),
}


class IntermixedParser(Parser):
    """Options may sit between positionals (``predict DIR --top 2 TEXT ...``)."""

    def parse_known_args(
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if getattr(self, "_mixing", False):
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False


def add_parser(sub: argparse._SubParsersAction) -> None:
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

        for action in RUN_ACTIONS[verb]:
            action.add_to(vsub)
