#!/usr/bin/env bash
# A second English corpus for recipe comparisons (issue 19), never used for tuning: Debian's
# `fortunes` package (about 2.6 M characters of quotations, jokes and definitions; the
# ascii-art file left out), joined into one UTF-8 file (invalid bytes become U+FFFD).
# Usage (as root): bash scripts/fortunes_corpus.sh OUT.txt
set -euo pipefail
OUT=${1:?give the output file}
[ -d /usr/share/games/fortunes ] || { apt-get update && apt-get install -y fortunes; }
cd /usr/share/games/fortunes
# shellcheck disable=SC2046  # one argument per data file
cat $(ls | grep -v -e '\.dat$' -e '\.u8$' -e '^ascii-art$') |
  python3 -c "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().decode('utf-8', 'replace').encode())" > "$OUT"
wc -c "$OUT"
