#!/usr/bin/env bash
# Recipes side by side on one corpus at equal time or equal steps (issue 19): each trains for
# BUDGET on the first 90% of the characters and is scored by `rnnkit eval` (best checkpoint) on
# the last 10%, the split nanoGPT uses for Tiny Shakespeare. BUDGET is minutes (`15`), and then
# the runs go one after the other so that each has the machine to itself, or steps (`9000steps`),
# which gives the same numbers however loaded the machine is (recipes of one step time only).
#
# Usage: bash scripts/recipe_compare.sh CORPUS OUT BUDGET NAME='FLAGS' [NAME='FLAGS' ...]
#   e.g. bash scripts/recipe_compare.sh fortunes.txt runs/cmp 5 old='--hidden 512 ...' auto=''
# Prints one line per recipe: NAME, steps, best validation during training, eval on the last 10%.
set -euo pipefail
CORPUS=$1 OUT=$2 BUDGET=$3
shift 3
if [[ $BUDGET == *steps ]]; then LIMIT="--max-steps ${BUDGET%steps}"; else LIMIT="--minutes $BUDGET --max-steps 1000000"; fi
mkdir -p "$OUT"
VAL="$OUT/val.txt"
python - "$CORPUS" "$VAL" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
open(sys.argv[2], "w", encoding="utf-8").write(text[int(len(text) * 0.9):])
PY
for recipe in "$@"; do
  name=${recipe%%=*} flags=${recipe#*=}
  # shellcheck disable=SC2086  # the budget's and the recipe's flags are meant to split into words
  python -m rnnkit train "$CORPUS" --out "$OUT/$name" --force --no-progress $LIMIT \
    --val-chars 0 --seed 1337 $flags > "$OUT/$name.log" 2>&1
  python -m rnnkit eval "$OUT/$name" "$VAL" --json > "$OUT/$name.eval.json"
  python - "$name" "$OUT/$name" "$OUT/$name.eval.json" <<'PY'
import json, sys
name, run, ev = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
rows = [json.loads(l) for l in open(f"{run}/metrics.jsonl") if l.strip()]
val = [r for r in rows if r.get("kind") == "val"]
steps = max(r["step"] for r in rows)
print(f"{name}: {steps} steps, best val {min(r['loss'] for r in val):.4f}, eval {ev['loss_nats']:.4f} nats/char")
PY
done
