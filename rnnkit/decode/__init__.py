"""Turning a model's distributions into text: one sampler (temperature, top-k, top-p, greedy;
``sampler.py``) and one beam search (``beam_search.py``), and the entry points that run them
on the character LM (``lm.py``) and on the forms that write text (``forms.py``)."""

from __future__ import annotations
