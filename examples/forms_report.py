"""Numbers for docs/forms.md that the CLI does not print itself (used by the run_*.sh scripts).

python examples/forms_report.py baselines TRAIN.tsv TEST.tsv
    majority-class and character-bigram naive Bayes accuracy (text<TAB>label files)
python examples/forms_report.py wordgen GEN_RUN LANGID_RUN TRAIN.tsv [-n 200]
    per language: N sampled words; the share the classifier assigns to that language,
    and the share that are not training words (TRAIN: label<TAB>word)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnnkit.cli.tasks import load_task  # noqa: E402
from rnnkit.data import tsv  # noqa: E402
from rnnkit.decode.forms import generator_sample
from rnnkit.models import baselines
from rnnkit.train import task_metrics as metrics


def cmd_baselines(args):
    tr_x, tr_y = tsv.read_text_label(args.train)
    te_x, te_y = tsv.read_text_label(args.test)
    maj = baselines.MajorityClassifier().fit(tr_y).predict(te_x)
    nb = baselines.CharBigramNaiveBayes().fit(tr_x, tr_y).predict(te_x)
    print(
        json.dumps(
            {
                "majority": metrics.accuracy(maj, te_y),
                "bigram_nb": metrics.accuracy(nb, te_y),
                "examples": len(te_y),
            }
        )
    )


def cmd_wordgen(args):
    gform, gmodel, _ = load_task(args.gen, "generate")
    cform, cmodel, _ = load_task(args.cls, "classify")
    labels, words = tsv.read_label_text(args.train)
    seen = set(words)
    rng = np.random.default_rng(args.seed)
    rows, all_ok, all_new = {}, [], []
    for lab in gform.labels.labels:
        k = gform.labels.index[lab]
        seqs = generator_sample(gmodel, np.full(args.n, k, dtype=np.int64), 40, rng, args.temperature)
        ws = [gform.vocab.decode(s) or " " for s in seqs]
        pred = [cform.labels.labels[i] for i in cform.probs(cmodel, ws).argmax(axis=1)]
        ok = [p == lab for p in pred]
        new = [w not in seen for w in ws]
        all_ok += ok
        all_new += new
        rows[lab] = {
            "assigned_to_label": float(np.mean(ok)),
            "not_training_words": float(np.mean(new)),
            "examples": " ".join(ws[:6]),
        }
    print(
        json.dumps(
            {
                "per_label": rows,
                "assigned_to_label": float(np.mean(all_ok)),
                "not_training_words": float(np.mean(all_new)),
                "samples": len(all_ok),
                "temperature": args.temperature,
            },
            ensure_ascii=False,
            indent=1,
        )
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("baselines")
    p.add_argument("train")
    p.add_argument("test")
    p.set_defaults(func=cmd_baselines)
    p = sub.add_parser("wordgen")
    p.add_argument("gen")
    p.add_argument("cls")
    p.add_argument("train")
    p.add_argument("-n", type=int, default=200)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_wordgen)
    args = ap.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
