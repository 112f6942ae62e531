"""rnnkit ships its type hints (PEP 561): the ``py.typed`` marker exists and the package data
that setuptools installs lists it."""

from __future__ import annotations

import pytest
from helpers import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_py_typed_marker_is_shipped():
    assert (REPO / "rnnkit" / "py.typed").is_file()
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["rnnkit"]
