"""Space restoration data: text with its spaces removed, tagged with where they were.

    python examples/prepare_spaces.py [--input ../shared/data/tinyshakespeare.txt]

Each non-empty line of the text becomes one example. Its words (split on whitespace) are
joined without spaces, and each character gets a tag:

    1  a space followed this character in the original line
    0  it did not (the line's last character is always 0)

    "To be, or not"  ->  "Tobe,ornot<TAB>0100010010"

so ``len(tags) == len(text)`` (rnnkit tag). Whether a space follows character t depends on
the characters after t, which a bidirectional stack sees and a left-to-right one does
not. Lines are split in order, as nanoGPT splits Tiny Shakespeare: the first 90% train,
the next 5% valid, the last 5% test. Any UTF-8 text works as --input (Korean word
spacing is the same task).

Writes, under examples/data/spaces/ (rerunning gives byte-identical files):
    {train,valid,test}.tsv    text<TAB>tags
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prep_util import DATA, report, split, write_tsv

DEFAULT_INPUT = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def tag_line(line: str) -> tuple[str, str] | None:
    """'To be' -> ('Tobe', '0100'); None for a line with no words."""
    words = line.split()
    if not words:
        return None
    text = "".join(words)
    tags = "".join("0" * (len(w) - 1) + ("1" if i < len(words) - 1 else "0") for i, w in enumerate(words))
    return text, tags


def restore(text: str, tags: str) -> str:
    """The inverse: insert a space after every character tagged 1."""
    return "".join(c + (" " if t == "1" else "") for c, t in zip(text, tags))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", default=str(DEFAULT_INPUT), help="a UTF-8 text file")
    ap.add_argument("--out", default=str(DATA / "spaces"), help="output directory")
    args = ap.parse_args(argv)
    src = Path(args.input)
    if not src.is_file():
        print(f"{src} not found; give a UTF-8 text with --input", file=sys.stderr)
        return 1
    rows = [r for r in map(tag_line, src.read_text(encoding="utf-8").splitlines()) if r]
    print(f"{src}: {len(rows)} non-empty lines")
    out = Path(args.out)
    for name, part in zip(("train", "valid", "test"), split(rows, (0.9, 0.05, 0.05))):
        p = out / f"{name}.tsv"
        report(p, part, write_tsv(p, part))
    return 0


if __name__ == "__main__":
    sys.exit(main())
