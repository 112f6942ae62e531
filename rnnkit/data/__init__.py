"""Text to ids: character and token vocabularies, corpus preparation (memory-mapped ids),
the truncated-BPTT stream batcher, padding of variable-length examples, TSV readers."""

from __future__ import annotations
