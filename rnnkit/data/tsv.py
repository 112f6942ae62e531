"""TSV readers for the task formats. UTF-8, one example per line, fields split on TAB.

    text<TAB>label      many-to-one classification          read_text_label
    label<TAB>text      one-to-many conditioned generation  read_label_text
    source<TAB>target   encoder-decoder pairs               read_source_target
    text<TAB>tags       synchronous tagging, len(tags) == len(text)   read_text_tags

Rules, the same for every format:

- The file must be valid UTF-8; otherwise a ValueError names the file, the byte offset
  and the line. A UTF-8 byte-order mark at the start is ignored.
- Line ends ``\\n`` or ``\\r\\n``. Empty lines (after stripping the line end) are skipped.
- Each other line must have exactly two fields and neither may be empty; otherwise a
  ValueError names the file and the 1-based line number. Fields are not stripped:
  spaces are data.
- A header is skipped, with a warning (``RnnkitWarning``) naming the file: the first
  non-empty line is a header when its fields are two different column names
  (``HEADER_NAMES``: text, label(s), tag(s), source, target, input, output), compared
  without case or surrounding spaces, in any order: ``text<TAB>label``, ``Label<TAB>Text``,
  ``source<TAB>target``, ``text<TAB>tags``. Only the first line can be one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

from rnnkit.errors import RnnkitWarning

# Column names that make a first line a header (``looks_like_header``).
HEADER_NAMES = frozenset({"text", "label", "labels", "tag", "tags", "source", "target", "input", "output"})


def looks_like_header(fields: Sequence[str]) -> bool:
    """Whether a line's fields are two different column names (case and spaces ignored).

    >>> looks_like_header(["Text", "label"]), looks_like_header(["the text", "label"])
    (True, False)
    """
    names = [f.strip().lower() for f in fields]
    return len(names) == 2 and len(set(names)) == 2 and all(n in HEADER_NAMES for n in names)


def _decode(path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(
            f"{path}: invalid UTF-8 at byte offset {e.start} (line {line}): {e.reason}"
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_tsv(path: str | os.PathLike, names: tuple[str, ...]) -> list[tuple[int, tuple[str, ...]]]:
    """path -> list of (line_number, fields tuple), one field per name in ``names``. See the
    module docstring for the rules."""
    with open(path, "rb") as f:
        text = _decode(path, f.read())
    rows = []
    first = True  # the first non-empty line, the one that may be a header
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.endswith("\r"):
            line = line[:-1]
        if line == "":
            continue
        parts = line.split("\t")
        header, first = first and looks_like_header(parts), False
        if header:
            warnings.warn(
                RnnkitWarning(f"{path}:{lineno}: skipped a header line ({'<TAB>'.join(parts)})"), stacklevel=3
            )
            continue
        if len(parts) != len(names):
            raise ValueError(
                f"{path}:{lineno}: expected {len(names)} tab-separated fields "
                f"({'<TAB>'.join(names)}), found {len(parts)}"
            )
        for name, p in zip(names, parts):
            if p == "":
                raise ValueError(f"{path}:{lineno}: the {name} field is empty")
        rows.append((lineno, tuple(parts)))
    return rows


def read_text_label(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``text<TAB>label`` lines -> (texts, labels)."""
    rows = read_tsv(path, ("text", "label"))
    return [r[0] for _, r in rows], [r[1] for _, r in rows]


def read_label_text(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``label<TAB>text`` lines -> (labels, texts)."""
    rows = read_tsv(path, ("label", "text"))
    return [r[0] for _, r in rows], [r[1] for _, r in rows]


def read_source_target(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``source<TAB>target`` lines -> (sources, targets)."""
    rows = read_tsv(path, ("source", "target"))
    return [r[0] for _, r in rows], [r[1] for _, r in rows]


def read_text_tags(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``text<TAB>tags`` lines -> (texts, tags); one tag character per text character."""
    rows = read_tsv(path, ("text", "tags"))
    for lineno, (text, tags) in rows:
        if len(text) != len(tags):
            raise ValueError(
                f"{path}:{lineno}: tags must have one character per text character: "
                f"text has {len(text)} characters, tags has {len(tags)}"
            )
    return [r[0] for _, r in rows], [r[1] for _, r in rows]
