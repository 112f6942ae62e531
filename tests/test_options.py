"""Options declared once (``rnnkit/train/options.py``): each training field's option yields its
flag, its checks and the resume whitelist, for ``rnnkit train`` and the four task verbs."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, fields

import pytest

from rnnkit.cli import build_parser, messages
from rnnkit.errors import RnnkitError
from rnnkit.train.lm_config import RESUMABLE_OVERRIDES, TrainConfig
from rnnkit.train.options import (
    add_flags,
    again,
    check_options,
    flag_of,
    option,
    option_of,
    options_in,
    resumable,
)
from rnnkit.train.task_config import RESUMABLE, TaskTrainConfig

SHARED_RESUMABLE = {
    "max_steps",
    "minutes",
    "eval_every",
    "log_every",
    "save_every",
    "progress",
    "lr",
    "clip",
    "nonfinite",
    "max_memory",
    "fault_nan_step",
    "patience",
}


def test_resume_whitelists_follow_the_fields():
    """The whitelists the trainers check on resume. A shared field has one rule for both."""
    assert RESUMABLE_OVERRIDES == SHARED_RESUMABLE | {"val_chars", "vocab_limit", "engine", "device"}
    assert RESUMABLE == SHARED_RESUMABLE | {"val_max"}
    # what changes the model or the data stays fixed
    assert not {"hidden", "layers", "embed", "seq_len", "batch", "files", "data", "seed", "weight_drop"} & (
        RESUMABLE_OVERRIDES | RESUMABLE
    )


@pytest.mark.parametrize("cls", [TrainConfig, TaskTrainConfig])
def test_every_field_but_the_verb_has_an_option(cls):
    assert [f.name for f in fields(cls) if option_of(cls, f.name) is None] == (
        ["verb"] if cls is TaskTrainConfig else []
    )


def _parser_help(*verb) -> str:
    """The --help text of ``rnnkit VERB...`` (without running it)."""
    p = build_parser()
    for name in verb:
        p = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return " ".join(p.format_help().split())


def _every_parser(p: argparse.ArgumentParser, verb: tuple = ()):
    """(verb path, parser) of ``rnnkit`` and of each of its verbs and actions, depth first."""
    yield verb, p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield from _every_parser(sub, (*verb, name))


def _testing_flags() -> set[str]:
    """The flags of the options declared as testing hooks (hidden=True), of every config."""
    return {
        flag_of(cls, f.name)
        for cls in (TrainConfig, TaskTrainConfig)
        for f in fields(cls)
        if (o := option_of(cls, f.name)) is not None and o.hidden
    }


def test_testing_hooks_are_hidden_from_every_help():
    """No --help of any verb (24 parsers: rnnkit, its verbs, the task verbs' actions) shows a
    testing hook or says "testing"; a hook's help starts "testing", so one declared without
    hidden=True would show it."""
    hooks = _testing_flags()
    assert "--fault-nan-step" in hooks
    for cls in (TrainConfig, TaskTrainConfig):
        for f in fields(cls):
            opt = option_of(cls, f.name)
            helps = opt.help.values() if opt and isinstance(opt.help, dict) else [opt and opt.help]
            if any(h and h.startswith("testing") for h in helps):
                assert opt.hidden, f"{f.name} is a testing hook but shows in --help"
    parsers = list(_every_parser(build_parser()))
    assert len(parsers) >= 24
    for verb, p in parsers:
        text = p.format_help()
        assert not [h for h in hooks if h in text], verb
        assert "testing" not in text.lower(), verb


@pytest.mark.parametrize("verb", [("train",), ("classify", "train"), ("tag", "train")])
def test_a_hidden_testing_hook_is_still_accepted(verb):
    a = build_parser().parse_args([*verb, "data.txt", "--fault-nan-step", "3"])
    assert a.fault_nan_step == 3


def test_help_shows_each_configs_own_default():
    lm, classify = _parser_help("train"), _parser_help("classify", "train")
    seq2seq = _parser_help("seq2seq", "train")
    assert "(default 256)" in lm and "(default 128)" in classify  # --hidden
    assert "(default 100)" in lm and "(default 0)" in classify  # --warmup
    assert "for the measured choice (default uniform)" in seq2seq  # seq2seq's --input-init
    assert "--fault-nan-step" not in lm and "--fault-nan-step" not in classify  # testing only
    assert "--max-len" in seq2seq and "--max-len" not in classify  # a seq2seq flag
    assert "--bidirectional" in classify and "--bidirectional" not in _parser_help("generate", "train")


def test_flags_not_given_are_none_and_given_ones_keep_their_type():
    p = build_parser()
    a = vars(p.parse_args(["train"]))
    assert all(a[f.name] is None for f in fields(TrainConfig) if f.name != "files") and a["files"] == []
    a = p.parse_args(
        ["train", "x.txt", "--no-carry", "--val", "a", "b", "--lr", "0.5", "--fault-nan-step", "3"]
    )
    assert (a.files, a.carry, a.val_files, a.lr, a.fault_nan_step) == (["x.txt"], False, ["a", "b"], 0.5, 3)
    a = p.parse_args(["generate", "train", "d.tsv", "--autoregressive", "--no-progress", "--cond-embed", "4"])
    assert (a.autoregressive, a.progress, a.cond_embed) == (True, False, 4)
    assert "bidirectional" not in a  # not a flag of generate


@pytest.mark.parametrize(
    "cls,name,value,message",
    [
        (TrainConfig, "hidden", 0, "--hidden must be positive, got 0"),
        (TrainConfig, "seed", -1, "--seed must be non-negative, got -1"),
        (TrainConfig, "lr", 1e300, "--lr must lie in (0, 100], got 1e+300"),
        (TrainConfig, "momentum", 1.0, "--momentum must lie in [0, 1), got 1.0"),
        (TrainConfig, "gamma", 2.0, "--gamma must be positive and at most 1 (a decay factor), got 2.0"),
        (TrainConfig, "minutes", math.nan, "--minutes must be a finite number, got nan"),
        (TrainConfig, "optimizer", "lion", "--optimizer must be one of sgd, adagrad, rmsprop, adam, adamw"),
        (TrainConfig, "val_chars", 1, "--val-chars must be 0 (all) or at least 2"),
        (TaskTrainConfig, "max_len", 0, "--max-len must be positive, got 0"),
        (TaskTrainConfig, "source_tokens", "bytes", "--source-tokens must be one of chars, words"),
    ],
)
def test_validate_names_the_field_and_its_bounds_and_the_cli_its_flag(cls, name, value, message):
    with pytest.raises(RnnkitError) as e:
        cls(**{name: value}).validate()
    assert message in messages.error_line(e.value)  # the command line names the flag
    assert message.replace(messages.flag(name), name) in str(e.value)  # Python, the field


def test_a_subclass_keeps_the_option_of_a_field_it_declares_again():
    @dataclass
    class Base:
        n: int = option(1, "how many", group="g", ge=1, resumable=True)

    @dataclass
    class Plain(Base):
        n: int = 5

    @dataclass
    class Reworded(Base):
        n: int = again(Base, "n", help="how many, reworded")

    assert resumable(Plain) == {"n"} and Reworded().n == 1
    with pytest.raises(RnnkitError, match="^n must be positive, got 0$"):
        check_options(Plain(n=0))
    for cfg, shown in ((Plain(), "how many (default 5)"), (Reworded(), "how many, reworded (default 1)")):
        p = argparse.ArgumentParser()
        add_flags(p.add_argument_group("g"), "g", cfg)
        assert shown in " ".join(p.format_help().split())
        assert p.parse_args(["--n", "3"]).n == 3 and p.parse_args([]).n is None


def test_the_option_of_a_group_is_option_with_that_group():
    """``options_in(group)`` declares the same option as ``option(..., group=group)``."""

    @dataclass
    class Grouped:
        n: int = options_in("g")(1, "how many", ge=1, resumable=True, metavar="N")

    @dataclass
    class Plain:
        n: int = option(1, "how many", group="g", ge=1, resumable=True, metavar="N")

    assert option_of(Grouped, "n") == option_of(Plain, "n")
    assert option_of(Grouped, "n").group == "g" and Grouped().n == 1


@pytest.mark.parametrize("cls", [TrainConfig, TaskTrainConfig])
def test_minutes_without_max_steps_is_a_time_budget(cls):
    """Given --minutes and no --max-steps, the default 2,000 steps do not cut the budget short."""
    from rnnkit.train.settings import NO_STEP_LIMIT

    assert cls.from_given(minutes=15).max_steps == NO_STEP_LIMIT
    assert cls.from_given(minutes=15, max_steps=500).max_steps == 500
    assert cls.from_given().max_steps == cls().max_steps == 2000
    assert cls.from_given(minutes=0.0).max_steps == 2000  # 0 minutes: no time limit


def test_a_cli_run_given_only_minutes_records_no_step_limit(tmp_path):
    """The flag path: ``rnnkit train --minutes`` with no ``--max-steps`` saves the budget's step
    limit in the run's configuration, and the run ends by time."""
    import json

    from helpers import rnnkit as cli
    from helpers import write_text

    from rnnkit.train.settings import NO_STEP_LIMIT

    text = write_text(tmp_path / "t.txt", n_words=800)
    flags = ["--hidden", "8", "--layers", "1", "--batch", "4", "--seq-len", "16", "--no-progress"]
    p = cli("train", text, "--out", tmp_path / "r", "--minutes", "0.01", "--eval-every", "100000", *flags)
    assert p.returncode == 0, p.stderr
    config = json.loads((tmp_path / "r" / "last" / "config.json").read_text())
    assert config["train"]["max_steps"] == NO_STEP_LIMIT
    assert "done at step" in p.stdout
