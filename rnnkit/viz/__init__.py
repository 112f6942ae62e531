"""Insight tools, clients of the layers below: training curves, hidden units over the text,
gradient flow through time, and the local web app. Library functions that compute, write files
and return what they wrote; their flags and printed lines are in ``rnnkit/cli/viz.py``."""

from __future__ import annotations
