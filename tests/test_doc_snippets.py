"""Every ```python block of the README, docs/api.md and docs/tutorial.md runs as written.

A page's blocks run in order in one namespace, as a reader would paste them into one
session, in a fresh temporary directory (a block may write files there). A page that is
missing or has no block fails: the check must not pass by finding nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from helpers import REPO

PAGES = ["README.md", "docs/api.md", "docs/tutorial.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """(line number, code) of each ```python block of ``page``."""
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_extractor_finds_blocks_and_their_lines(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("intro\n```python\nx = 1\n```\ntext\n```bash\nls\n```\n```python\ny = x\n```\n")
    assert python_blocks(page) == [(3, "x = 1\n"), (10, "y = x\n")]


@pytest.mark.parametrize("name", PAGES)
def test_every_python_block_runs(name, tmp_path, monkeypatch):
    page = REPO / name
    blocks = python_blocks(page)
    assert blocks, f"{name} has no ```python block"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__doc_snippet__"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{name}:{line}", "exec"), namespace)  # our own docs, not user input
        except Exception as e:  # name the block that failed
            raise AssertionError(f"{name}, block at line {line}: {type(e).__name__}: {e}") from e
    assert os.getcwd() == str(tmp_path)
