#!/usr/bin/env bash
# many-to-one on real data: word -> language (Debian word lists), against two baselines.
# Needs: apt-get install -y wamerican wfrench wngerman witalian wspanish wportuguese wdutch
# Training is capped at MINUTES (default 4) of CPU time on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-4}
D=examples/data/langid
python examples/prepare_wordlists.py
python -m rnnkit classify train $D/train.tsv --val $D/valid.tsv --out runs/langid --force \
  --bidirectional --embed 32 --hidden 192 --batch 128 --lr 3e-3 --max-steps 100000 --minutes "$MINUTES" \
  --eval-every 500 --no-progress
python -m rnnkit classify eval runs/langid $D/test.tsv --json
python examples/forms_report.py baselines $D/train.tsv $D/test.tsv
