#!/usr/bin/env bash
# one-to-many on real data: language -> a new word. Held-out NLL/char, the share of samples
# the language-ID classifier (run_langid.sh; run it first) assigns to the requested
# language, and the share that are not training words.
# Training is capped at MINUTES (default 4) of CPU time on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-4}
D=examples/data/wordgen
python examples/prepare_wordlists.py
[ -e runs/langid/best ] || { echo "run examples/run_langid.sh first (its classifier judges the samples)" >&2; exit 1; }
python -m rnnkit generate train $D/train.tsv --val $D/valid.tsv --out runs/wordgen --force --autoregressive \
  --cond-embed 16 --embed 32 --hidden 192 --batch 128 --lr 3e-3 --max-steps 100000 --minutes "$MINUTES" \
  --eval-every 500 --no-progress
python -m rnnkit generate eval runs/wordgen $D/test.tsv --json
for L in en de fr; do python -m rnnkit generate sample runs/wordgen --label $L -n 5 --seed 0 | tr '\n' ' '; echo "($L)"; done
python examples/forms_report.py wordgen runs/wordgen runs/langid $D/train.tsv -n 200
