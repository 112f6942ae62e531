#!/usr/bin/env bash
# Quality benchmark (issue 3): Tiny Shakespeare, nanoGPT's split (first 90% train, last 10%
# validation, vocabulary from the whole text), 15 minutes of training on this machine's CPU.
# Usage: bash scripts/shakespeare_quality.sh [CORPUS] [OUT] [MINUTES]
# It prints the final `rnnkit eval` of the best checkpoint on the validation text.
set -euo pipefail
CORPUS=${1:-../shared/data/tinyshakespeare.txt}
OUT=${2:-runs/shakespeare}
MINUTES=${3:-15}
VAL=$(mktemp --suffix=.txt)
trap 'rm -f "$VAL"' EXIT
# The exact validation text nanoGPT uses: the last 10% of the characters.
python - "$CORPUS" "$VAL" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
n = len(text)
open(sys.argv[2], "w", encoding="utf-8").write(text[int(n * 0.9):])
PY
rnnkit train "$CORPUS" --out "$OUT" --force \
  --hidden 384 --layers 3 --embed 64 --dropout 0.1 --seq-len 64 --batch 32 \
  --optimizer adamw --weight-decay 0.1 --ema 0.999 --lr 2e-3 --schedule cosine --warmup 200 --min-lr 1e-4 \
  --clip 5 --max-steps 100000 --minutes "$MINUTES" --eval-every 1000 --val-chars 0 --seed 1337
rnnkit eval "$OUT" "$VAL" --json
