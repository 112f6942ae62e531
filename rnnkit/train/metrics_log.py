"""The metrics log: one JSON object per line (``metrics.jsonl``), for plots and comparisons.

Training lines: {"kind": "train", "step", "epoch", "time_s", "lr", "loss", "bpc", "grad_norm",
"chars_per_s"}. Validation lines: {"kind": "val", "step", "time_s", "loss", "bpc", "perplexity"}.
On resume, lines past the checkpoint's step are dropped first: they belong to steps that are
about to be replayed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError, write_error


class MetricsLog:
    def __init__(self, path: Path, resume_step: int | None = None, enabled: bool = True):
        self.path = path
        self.enabled = enabled
        if enabled and resume_step is not None and path.is_file():
            # Rows past the checkpoint are replayed by the resume; a line that is not a JSON
            # object (cut short by a crash, or damaged) is dropped.
            keep = [
                json.dumps(r) for r in iter_metrics(path) if r is not None and _step_at_most(r, resume_step)
            ]
            tmp = path.with_suffix(".tmp")
            try:
                tmp.write_text("".join(l + "\n" for l in keep), encoding="utf-8")
                os.replace(tmp, path)
            except OSError as e:
                raise RnnkitError(f"could not rewrite {path} for the resume: {e.strerror or e}") from None

    def write(self, **row: Any) -> None:
        if not self.enabled:
            return
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        except OSError as e:
            raise write_error(
                e,
                str(self.path),
                f"the last checkpoint is intact. Free space and continue with: "
                f"rnnkit train --resume {self.path.parent}",
            ) from None


def _step_at_most(row: dict, step: int) -> bool:
    s = row.get("step", 0)
    return isinstance(s, (int, float)) and not isinstance(s, bool) and s <= step


def iter_metrics(path: Path) -> Iterator[dict | None]:
    """Each non-blank line of ``path`` as a dict, or None for a line that is not a JSON object
    (binary, not UTF-8, cut short by a crash). Read line by line: any file size, any bytes."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise RnnkitError(f"cannot read {path}: {e.strerror or e}") from None
    with f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                row = None
            yield row if isinstance(row, dict) else None
