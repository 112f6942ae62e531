#!/usr/bin/env bash
# The issue-19 measurements of docs/shakespeare.md, one run after another (run it on a quiet
# machine; ~50 minutes): the 15-minute quality script, the same budget with the size picked
# by rnnkit (`--minutes` alone), and on a corpus never tuned on (Debian's fortunes, made by
# scripts/fortunes_corpus.sh) the recipe before weight decay (OLD) against the picked one at
# 5 minutes each.
# Native BLAS kernels, as on a user's machine: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.
# Usage: bash scripts/budget_runs.sh TINYSHAKESPEARE FORTUNES OUT
set -u
SHK=$1 FORTUNES=$2 Q=$3
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
mkdir -p "$Q"
OLD="--hidden 512 --layers 2 --embed 64 --dropout 0.1 --seq-len 64 --batch 32 --optimizer adam --lr 2e-3 --schedule cosine --warmup 200 --min-lr 1e-4 --clip 5 --eval-every 500"
bash scripts/shakespeare_quality.sh "$SHK" "$Q/shk_tuned" 15 > "$Q/shk_tuned.log" 2>&1
python - "$SHK" "$Q/shk_val.txt" <<'PY'
import sys
t = open(sys.argv[1], encoding="utf-8").read()
open(sys.argv[2], "w", encoding="utf-8").write(t[int(len(t) * 0.9):])
PY
python -m rnnkit train "$SHK" --out "$Q/shk_auto" --force --minutes 15 --val-chars 0 --eval-every 500 \
  --max-steps 100000 > "$Q/shk_auto.log" 2>&1
python -m rnnkit eval "$Q/shk_auto" "$Q/shk_val.txt" --json >> "$Q/shk_auto.log" 2>&1
bash scripts/recipe_compare.sh "$FORTUNES" "$Q/fortunes" 5 "old=$OLD" "auto=" > "$Q/fortunes.log" 2>&1
tail -1 "$Q/shk_tuned.log" "$Q/shk_auto.log"; cat "$Q/fortunes.log"
