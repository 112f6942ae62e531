#!/usr/bin/env bash
# The 5-minute settings sweep recorded in docs/shakespeare.md: seven runs side by side, each
# pinned to its own 2 cores (so each sees a 2-core machine). Needs 16 cores.
# Usage: OUT=sweep_out MIN=5.2 bash scripts/shakespeare_sweep.sh [CORPUS]
set -u
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2
C=${1:-../shared/data/tinyshakespeare.txt}
MIN=${MIN:-5.2}
OUT=${OUT:-sweep_out}
mkdir -p "$OUT"
run() { name=$1; cores=$2; shift 2
  taskset -c "$cores" python3 -m rnnkit train "$C" --out "/tmp/sw_$name" --force --no-progress --minutes "$MIN" \
    --max-steps 100000 --eval-every 400 --val-chars 0 --lr 2e-3 --warmup 200 --min-lr 1e-4 --clip 5 \
    --seed 1337 "$@" > "$OUT/$name.log" 2>&1
  cp "/tmp/sw_$name/metrics.jsonl" "$OUT/$name.jsonl" 2>/dev/null; }
run A 2,3 --hidden 512 --layers 1 --dropout 0.2 &
run B 4,5 --hidden 512 --layers 2 --dropout 0.25 &
run C 6,7 --hidden 384 --layers 2 --dropout 0.2 &
run D 8,9 --hidden 768 --layers 1 --dropout 0.3 &
run E 10,11 --hidden 384 --layers 3 --dropout 0.2 &
run F 12,13 --hidden 1024 --layers 1 --dropout 0.4 &
run G 14,15 --hidden 512 --layers 2 --dropout 0.1 --embed 64 &
wait
for f in "$OUT"/*.log; do echo "== $f"; grep -E "model:|val" "$f" | tail -2; done
