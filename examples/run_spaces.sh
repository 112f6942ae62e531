#!/usr/bin/env bash
# synchronous many-to-many on real data: restore the spaces of Tiny Shakespeare, a
# unidirectional and a bidirectional stack of the same width (H=128 per direction), plus a
# wider unidirectional stack (H=188) with as many parameters as the bidirectional one.
# Training is capped at MINUTES (default 4) per model on a shared CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-4}
D=examples/data/spaces
python examples/prepare_spaces.py
for dir in uni bi uni188; do
  flag="--hidden 128"; [ "$dir" = bi ] && flag="--hidden 128 --bidirectional"; [ "$dir" = uni188 ] && flag="--hidden 188"
  python -m rnnkit tag train $D/train.tsv --val $D/valid.tsv --out runs/spaces-$dir --force $flag \
    --embed 32 --batch 32 --lr 3e-3 --max-steps 100000 --minutes "$MINUTES" \
    --eval-every 500 --no-progress
  python -m rnnkit tag eval runs/spaces-$dir $D/test.tsv --json
done
echo "Tobeornottobethatisthequestion" | python -m rnnkit tag predict runs/spaces-bi --space-after 1
