"""Optimizers (SGD, Adam, AdamW) over a flat parameter buffer, gradient clipping, and
learning-rate schedules."""
