"""The scripts in ``examples/`` still import: a name they use from rnnkit that moves or goes is
caught here, not by the next person who runs them (their ``main`` is not run: each needs data
prepared from the network)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_an_example_script_imports(path, monkeypatch):
    monkeypatch.syspath_prepend(str(path.parent))  # they import their neighbour prep_util
    namespace = runpy.run_path(str(path), run_name="example_under_test")  # not "__main__"
    assert namespace["__doc__"]  # each says what it is for and how to run it
