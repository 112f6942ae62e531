"""Turning a model's distributions into text: sampling (temperature, top-k, top-p, greedy)
and beam search."""
