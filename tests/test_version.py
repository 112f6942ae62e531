"""``rnnkit --version`` prints ``rnnkit X.Y.Z`` and exits 0; the number is ``rnnkit.__version__``
(``rnnkit/version.py``), the one ``pyproject.toml`` gives the package."""

from __future__ import annotations

import re

from helpers import REPO
from helpers import rnnkit as cli

import rnnkit


def test_version_flag_prints_the_packages_version():
    p = cli("--version")
    assert (p.returncode, p.stdout, p.stderr) == (0, f"rnnkit {rnnkit.__version__}\n", "")
    assert re.fullmatch(r"\d+\.\d+\.\d+", rnnkit.__version__)


def test_the_version_is_the_one_pyproject_gives():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]  # the [project] table
    assert re.search(r'^version = "([^"]+)"$', project, re.M).group(1) == rnnkit.__version__


def test_version_is_listed_in_the_top_level_help():
    p = cli("--help")
    assert p.returncode == 0 and "--version" in p.stdout
