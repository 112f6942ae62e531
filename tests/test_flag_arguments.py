"""``cli.shared_flags.flag_arguments``: ``inspect``, ``gradflow`` and ``serve`` call their library
function with every flag they declare, each reaching the parameter of its name (or the one error
messages name it by), so a flag cannot be left behind at its default."""

from __future__ import annotations

import pytest

from rnnkit.cli import build_parser
from rnnkit.cli.shared_flags import flag_arguments
from rnnkit.viz.gradflow import gradflow_report
from rnnkit.viz.inspect_forms import inspect_run
from rnnkit.viz.serve import make_server


@pytest.mark.parametrize(
    "argv, func",
    [
        (
            ["inspect", "d", "--text", "t.txt", "--html", "p.html", "--layer", "1", "--max-chars", "9"],
            inspect_run,
        ),
        (
            ["gradflow", "d", "--text", "t.txt", "--json", "g.json", "--max-len", "99", "--fresh"],
            gradflow_report,
        ),
        (["serve", "d", "--port", "0", "--delay-ms", "5", "--quiet"], make_server),
    ],
)
def test_every_flag_reaches_its_parameter(argv, func):
    args = build_parser().parse_args(argv)
    given = flag_arguments(func, args)
    renamed = {"run_dir": "dir", "text_file": "text", "html_out": "html", "json_out": "json"}
    assert {renamed.get(name, name) for name in given} == set(vars(args)) - {"func", "verb"}
    for name, value in given.items():
        assert value == getattr(args, renamed.get(name, name))


def test_the_renamed_flags():
    args = build_parser().parse_args(["gradflow", "d", "--text", "t.txt", "--json", "g.json", "-o", "o.png"])
    given = flag_arguments(gradflow_report, args)
    assert (str(given["text_file"]), str(given["json_out"]), str(given["output"])) == (
        "t.txt",
        "g.json",
        "o.png",
    )
    given = flag_arguments(inspect_run, build_parser().parse_args(["inspect", "d", "--html", "p.html"]))
    assert str(given["html_out"]) == "p.html" and "log" not in flag_arguments(make_server, args)
