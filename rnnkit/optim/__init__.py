"""Optimizers (SGD, Adagrad, RMSprop, Adam, AdamW) over a flat parameter buffer or any model
with ``named_parameters()`` and ``named_grads()``, gradient clipping, and learning-rate
schedules.

>>> import rnnkit
>>> model = rnnkit.Linear(3, 2, seed=0)
>>> opt = rnnkit.optim.SGD(model, lr=0.1, momentum=0.0)
"""

from __future__ import annotations

from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "clip_grad_norm"]
