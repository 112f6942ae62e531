"""Engine selection: ``--engine numpy`` (default, no dependencies) or ``--engine torch``.

PyTorch stays optional: it is imported only here, only when the torch engine (or a
data-parallel run) is asked for, and its absence is one clear line, not a traceback.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from rnnkit.errors import RnnkitError, message_of
from rnnkit.models.char_rnn import CharRNN, ModelConfig

from .distributed import launched_by_torchrun

if TYPE_CHECKING:  # lm_engine imports torch, which this module imports only when asked
    from .lm_engine import TorchCharRNN

ENGINES = ("numpy", "torch")
TORCH_MISSING = "{what} needs PyTorch: pip install 'rnnkit[torch]'"


def require_torch(what: str = "`engine` torch") -> ModuleType:
    """Import and return ``torch``, or raise the one-line ``RnnkitError`` naming the extra."""
    try:
        import torch
    except ImportError:
        raise RnnkitError(TORCH_MISSING.format(what=what)) from None
    return torch


def check_engine(engine: str | None, device: str | None, check_device: bool = True) -> None:
    """Validate an engine and device, for every verb and model: the engine is one of
    ``ENGINES`` (None: numpy); the torch engine, or a torchrun job, needs torch installed;
    a device other than the CPU needs the torch engine (``check_device=False`` leaves that
    to later, when the engine of a resumed run is not known yet)."""
    engine = engine or "numpy"
    if engine not in ENGINES:
        raise RnnkitError(f"`engine` must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "torch":
        require_torch()
    elif launched_by_torchrun():
        require_torch("data-parallel training (torchrun)")
    if check_device and engine != "torch" and device not in (None, "cpu"):
        raise RnnkitError(f"`device` {device} needs `engine` torch (the NumPy engine runs on the CPU)")


# ``settings``: a ``ModelConfig``, or a training configuration of rnnkit/train (a later layer, so
# not named here: ``Any``).
def check_regularisers(settings: Any, engine: str | None) -> None:
    """Refuse a regulariser that training on ``engine`` cannot run (``settings``: a training or
    model configuration). The torch engine runs ``torch.nn.RNN``, which draws its dropout between
    layers afresh at every step (no locked masks) and has no tied head; its DropConnect masks are
    the NumPy engine's (``nn/stack.py`` ``hh_masks``). A tied checkpoint still samples and
    evaluates on either engine: it holds both weights."""
    if (engine or "numpy") != "torch":
        return
    if getattr(settings, "tie_weights", False):
        raise RnnkitError("`tie_weights` is not supported by `engine` torch; train it with `engine` numpy")
    if settings.dropout_mode == "locked":
        raise RnnkitError(
            "`dropout_mode` locked is not supported by `engine` torch (torch.nn.RNN draws its dropout "
            "between layers at every step); train it with `engine` numpy"
        )


def build_lm(
    mcfg: ModelConfig, seed: int = 0, engine: str = "numpy", device: str | None = None
) -> CharRNN | TorchCharRNN:
    """A character LM on the chosen engine. Both start from the same weights for a seed."""
    check_engine(engine, device)
    if engine == "numpy":
        return CharRNN(mcfg, seed=seed)
    from .lm_engine import TorchCharRNN

    try:
        return TorchCharRNN(mcfg, seed=seed, device=device or "cpu")
    except ValueError as e:
        raise RnnkitError(message_of(e)) from None
