"""Engine selection: ``--engine numpy`` (default, no dependencies) or ``--engine torch``.

PyTorch stays optional: it is imported only here, only when the torch engine (or a
data-parallel run) is asked for, and its absence is one clear line, not a traceback.
"""

from __future__ import annotations

from rnnkit.errors import RnnkitError, message_of
from rnnkit.models.char_rnn import CharRNN, ModelConfig

ENGINES = ("numpy", "torch")
TORCH_MISSING = "{what} needs PyTorch: pip install 'rnnkit[torch]'"


def require_torch(what: str = "`engine` torch"):
    """Import and return ``torch``, or raise the one-line ``RnnkitError`` naming the extra."""
    try:
        import torch
    except ImportError:
        raise RnnkitError(TORCH_MISSING.format(what=what)) from None
    return torch


def build_lm(mcfg: ModelConfig, seed: int = 0, engine: str = "numpy", device: str | None = None):
    """A character LM on the chosen engine. Both start from the same weights for a seed."""
    if engine not in ENGINES:
        raise RnnkitError(f"`engine` must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "numpy":
        if device not in (None, "cpu"):
            raise RnnkitError(f"`device` {device} needs `engine` torch (the NumPy engine runs on the CPU)")
        return CharRNN(mcfg, seed=seed)
    require_torch()
    from .lm_engine import TorchCharRNN

    try:
        return TorchCharRNN(mcfg, seed=seed, device=device or "cpu")
    except ValueError as e:
        raise RnnkitError(message_of(e)) from None
