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
"""

from __future__ import annotations

import os


def _decode(path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(
            f"{path}: invalid UTF-8 at byte offset {e.start} (line {line}): {e.reason}"
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_tsv(path: str | os.PathLike, fields: int = 2, names: tuple[str, ...] = ("first", "second")):
    """path -> list of (line_number, fields tuple). See the module docstring for the rules."""
    with open(path, "rb") as f:
        text = _decode(path, f.read())
    rows = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.endswith("\r"):
            line = line[:-1]
        if line == "":
            continue
        parts = line.split("\t")
        if len(parts) != fields:
            raise ValueError(
                f"{path}:{lineno}: expected {fields} tab-separated fields "
                f"({'<TAB>'.join(names)}), found {len(parts)}"
            )
        for name, p in zip(names, parts):
            if p == "":
                raise ValueError(f"{path}:{lineno}: the {name} field is empty")
        rows.append((lineno, tuple(parts)))
    return rows


def read_text_label(path) -> tuple[list[str], list[str]]:
    """``text<TAB>label`` lines -> (texts, labels)."""
    rows = read_tsv(path, 2, ("text", "label"))
    return [r[0] for _, r in rows], [r[1] for _, r in rows]


def read_label_text(path) -> tuple[list[str], list[str]]:
    """``label<TAB>text`` lines -> (labels, texts)."""
    rows = read_tsv(path, 2, ("label", "text"))
    return [r[0] for _, r in rows], [r[1] for _, r in rows]


def read_source_target(path) -> tuple[list[str], list[str]]:
    """``source<TAB>target`` lines -> (sources, targets)."""
    rows = read_tsv(path, 2, ("source", "target"))
    return [r[0] for _, r in rows], [r[1] for _, r in rows]


def read_text_tags(path) -> tuple[list[str], list[str]]:
    """``text<TAB>tags`` lines -> (texts, tags); one tag character per text character."""
    rows = read_tsv(path, 2, ("text", "tags"))
    for lineno, (text, tags) in rows:
        if len(text) != len(tags):
            raise ValueError(
                f"{path}:{lineno}: tags must have one character per text character: "
                f"text has {len(text)} characters, tags has {len(tags)}"
            )
    return [r[0] for _, r in rows], [r[1] for _, r in rows]
