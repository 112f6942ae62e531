"""Debian word lists -> TSVs for language ID (many-to-one) and word generation (one-to-many).

    python examples/prepare_wordlists.py [--per-lang 10000] [--seed 0]

Needs the word lists (at least 6 of them) under /usr/share/dict:

    apt-get install -y wamerican wfrench wngerman witalian wspanish wportuguese wdutch

Each word is lower-cased (German capitalises nouns, which would give the language away)
and kept when it has at least 2 characters, all letters (accents included; no
apostrophes, hyphens or digits; English possessives "'s" drop out). A word found in more
than one list is dropped: its language is ambiguous. Then each language keeps
``--per-lang`` words drawn at random (seeded), so the classes are balanced, and is cut
80/10/10 into train/valid/test: the held-out words were never seen in training.

Writes, under examples/data/ (rerunning gives byte-identical files):
    langid/{train,valid,test}.tsv    word<TAB>lang      (rnnkit classify)
    wordgen/{train,valid,test}.tsv   lang<TAB>word      (rnnkit generate)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from prep_util import DATA, report, split, write_tsv

LISTS = {  # language code -> (file under /usr/share/dict, Debian package)
    "en": ("american-english", "wamerican"),
    "fr": ("french", "wfrench"),
    "de": ("ngerman", "wngerman"),
    "it": ("italian", "witalian"),
    "es": ("spanish", "wspanish"),
    "pt": ("portuguese", "wportuguese"),
    "nl": ("dutch", "wdutch"),
}


def read_words(path: Path) -> set[str]:
    words = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        w = line.strip().lower()
        if len(w) >= 2 and w.isalpha():
            words.add(w)
    return words


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dict-dir", default="/usr/share/dict", help="where the word lists are")
    ap.add_argument("--per-lang", type=int, default=10000, help="words kept per language")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample and the split")
    ap.add_argument("--out", default=str(DATA), help="output directory")
    args = ap.parse_args(argv)
    ddir, out = Path(args.dict_dir), Path(args.out)
    found = {lang: ddir / f for lang, (f, _) in LISTS.items() if (ddir / f).is_file()}
    missing = [pkg for lang, (f, pkg) in LISTS.items() if lang not in found]
    if len(found) < 6:
        print(
            f"need at least 6 word lists in {ddir}, found {len(found)}; install them with:\n"
            f"  apt-get install -y {' '.join(missing)}",
            file=sys.stderr,
        )
        return 1
    if missing:
        print(f"note: missing {' '.join(missing)}; using {len(found)} languages")
    words = {lang: read_words(p) for lang, p in sorted(found.items())}
    seen: dict[str, int] = {}
    for ws in words.values():
        for w in ws:
            seen[w] = seen.get(w, 0) + 1
    rng = np.random.default_rng(args.seed)
    parts = {"train": [], "valid": [], "test": []}
    for lang, ws in words.items():
        unique = sorted(w for w in ws if seen[w] == 1)
        pick = [unique[i] for i in rng.permutation(len(unique))[: args.per_lang]]
        print(f"{lang}: {len(ws)} words, {len(unique)} in no other list, kept {len(pick)}")
        for name, chunk in zip(parts, split(pick)):
            parts[name] += [(w, lang) for w in chunk]
    for name, rows in parts.items():
        rows = [rows[i] for i in rng.permutation(len(rows))]
        p = out / "langid" / f"{name}.tsv"
        report(p, rows, write_tsv(p, rows))
        gen = [(lang, w) for w, lang in rows]
        p = out / "wordgen" / f"{name}.tsv"
        report(p, gen, write_tsv(p, gen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
