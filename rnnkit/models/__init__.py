"""Models built from the engine: the character language model and the four input/output forms
(classifier, generator, encoder-decoder, tagger) on one backbone (``backbone.py``), and the LM stream step."""

from __future__ import annotations
