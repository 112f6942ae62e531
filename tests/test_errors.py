"""Library errors are library errors (``rnnkit/errors.py``, ``rnnkit/cli/messages.py``).

Library code raises an ``RnnkitError`` (a ``ValueError``) whose message names parameters in
backquotes: Python sees the names, the command line sees the flags, in one line with exit
status 2 (1 for a failed training run). Warnings are ``RnnkitWarning`` s, one line each on the
command line. No module below ``rnnkit/cli`` prints or exits.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest
from helpers import REPO

import rnnkit
from rnnkit.cli import main, messages
from rnnkit.cli import viz as cli_viz
from rnnkit.errors import RnnkitError, RnnkitWarning, TrainingFailed, message_of, plain


def test_a_message_names_parameters_for_python_and_flags_for_the_command_line():
    e = RnnkitError("`max_chars` must be positive, got 0; see `rnnkit train` and `Hidden`")
    assert isinstance(e, ValueError) and rnnkit.RnnkitError is RnnkitError
    assert str(e) == "max_chars must be positive, got 0; see `rnnkit train` and `Hidden`"
    assert e.message == "`max_chars` must be positive, got 0; see `rnnkit train` and `Hidden`"
    assert messages.error_line(e) == (
        "rnnkit: error: --max-chars must be positive, got 0; see `rnnkit train` and `Hidden`"
    )
    assert (e.exit_status, TrainingFailed("x").exit_status) == (2, 1)
    assert plain("`a` and `b_c`") == "a and b_c"
    # quoted inside another error, the names stay marked
    assert message_of(e) == e.message and message_of(KeyError("k")) == "'k'"


@pytest.mark.parametrize(
    "name,flag",
    [
        ("hidden", "--hidden"),
        ("max_steps", "--max-steps"),
        ("val_files", "--val"),  # the LM's option declares flag="--val"
        ("val", "--val"),  # the forms' option of that name
        ("carry", "--no-carry"),  # a switch that defaults to True
        ("progress", "--no-progress"),
        ("bidirectional", "--bidirectional"),
        ("files", "files"),  # positionals
        ("data", "data"),
        ("output", "-o"),  # viz parameters spelled otherwise by their verbs
        ("json_out", "--json"),
        ("html_out", "--html"),
        ("text_file", "--text"),
        ("run_dir", "DIR"),
        ("max_chars", "--max-chars"),  # the default rule
        ("delay_ms", "--delay-ms"),
    ],
)
def test_each_parameter_is_shown_as_its_flag(name, flag):
    assert messages.flag(name) == flag


def test_the_flags_named_are_real_flags():
    """Every training option's flag, as messages show it, is one the parser accepts."""
    from rnnkit.cli import build_parser
    from rnnkit.train.lm_config import TrainConfig

    p = build_parser()
    train = p._subparsers._group_actions[0].choices["train"]
    accepted = {s for a in train._actions for s in a.option_strings} | {
        a.dest for a in train._actions if not a.option_strings
    }
    for name in TrainConfig.__dataclass_fields__:
        assert messages.flag(name) in accepted, name


def _fake_plot(*warn_with, fail=None):
    def plot(dirs, out, *a):
        for w in warn_with:
            warnings.warn(w, stacklevel=2)
        if fail is not None:
            raise fail
        return Path("x.png")

    return plot


def test_the_command_line_shows_each_warning_as_one_line(monkeypatch, capsys):
    w = RnnkitWarning("`dpi` is unusual")
    monkeypatch.setattr(cli_viz, "plot_curves", _fake_plot(w, w))  # the same twice: shown twice
    assert main(["plot", "d"]) == 0
    out, err = capsys.readouterr()
    assert out == "wrote x.png\n"
    assert err == "rnnkit: warning: --dpi is unusual\n" * 2


def test_other_warnings_go_where_they_went_before(monkeypatch, capsys):
    monkeypatch.setattr(cli_viz, "plot_curves", _fake_plot(DeprecationWarning("old")))
    with pytest.warns(DeprecationWarning, match="old"):  # the handler before main's (pytest's)
        assert main(["plot", "d"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "error,status,line",
    [
        (RnnkitError("`smooth` must lie in [0, 1), got 2"), 2, "--smooth must lie in [0, 1), got 2"),
        (TrainingFailed("diverged; lower `lr`"), 1, "diverged; lower --lr"),
    ],
)
def test_an_error_is_one_line_and_its_exit_status(monkeypatch, capsys, error, status, line):
    monkeypatch.setattr(cli_viz, "plot_curves", _fake_plot(fail=error))
    assert main(["plot", "d"]) == status
    assert capsys.readouterr() == ("", f"rnnkit: error: {line}\n")


def test_under_torchrun_rank_0_alone_reports_a_failed_run(monkeypatch, capsys):
    monkeypatch.setattr(cli_viz, "plot_curves", _fake_plot(fail=TrainingFailed("diverged")))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(["plot", "d"]) == 1
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    assert main(["plot", "d"]) == 1
    assert capsys.readouterr().err == "rnnkit: error: diverged\n"


# Each module below cli allowed to write to stdout or stderr, and why.
ALLOWED = {
    "rnnkit/__main__.py": "python -m rnnkit: exits with main()'s status",
    "rnnkit/train/progress.py": "the training progress bar, and lines written above it",
    "rnnkit/viz/serve.py": "the request log's default destination (stderr_line)",
    "rnnkit/torch/distributed.py": "silences the ranks other than 0 under torchrun",
}


def _prints_or_exits(path: Path) -> list[int]:
    """Lines of ``print(...)``, ``sys.exit`` and any use of ``sys.stdout``/``sys.stderr``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            found.append(node.lineno)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
            and node.attr in ("exit", "stdout", "stderr")
        ):
            found.append(node.lineno)
    return found


def test_no_module_below_cli_prints_or_exits():
    root = REPO / "rnnkit"
    offenders = {}
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(REPO).as_posix()
        if name.startswith("rnnkit/cli/") or name in ALLOWED:
            continue
        if lines := _prints_or_exits(path):
            offenders[name] = lines
    assert offenders == {}
    for name in ALLOWED:  # each allowance still needed
        assert _prints_or_exits(REPO / name), name
