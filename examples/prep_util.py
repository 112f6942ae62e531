"""Shared helpers for the data-preparation scripts: deterministic splits, atomic writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def split(items: list, fractions=(0.8, 0.1, 0.1)) -> tuple[list, list, list]:
    """Cut an (already shuffled) list into train / valid / test by fractions."""
    n = len(items)
    a = int(round(n * fractions[0]))
    b = a + int(round(n * fractions[1]))
    return items[:a], items[a:b], items[b:]


def write_tsv(path: Path, rows) -> str:
    """Write ``a<TAB>b`` lines atomically (temp file + rename). Returns 'wrote' or 'unchanged'."""
    text = "".join("\t".join(r) + "\n" for r in rows).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_bytes() == text:
        return "unchanged"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(text)
    os.replace(tmp, path)
    return "wrote"


def report(path: Path, rows: list, status: str) -> None:
    print(f"{status:9s} {path}  ({len(rows)} lines)")
