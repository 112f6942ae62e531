"""The optional PyTorch engine (``torch.nn.RNN``, cuDNN on a GPU), engine selection, and
data parallelism under ``torchrun``. PyTorch is imported only when asked for."""

from __future__ import annotations
