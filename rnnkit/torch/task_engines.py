"""Engines for the task models: ``numpy`` (the default, ``stack.RNNStack``) or ``torch``.

The task models build their recurrent parts as NumPy ``RNNStack`` s. ``use_engine`` swaps
each for a ``stack.TorchRNNStack`` that computes with the very same parameter and
gradient arrays (views of the model's ``FlatParams`` buffer), so nothing else changes:
heads, losses, optimizer, clipping and checkpoints stay NumPy, and a checkpoint written
under one engine loads under the other. Nothing engine-specific is saved.
"""

from __future__ import annotations

from rnnkit.errors import RnnkitError, message_of
from rnnkit.models.backbone import BackboneModel
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.nn.stack import RNNStack

from .engines import check_engine

STACKS = ("rnn", "encoder", "decoder")  # the attributes holding a model's RNN stacks


def use_engine(
    model: BackboneModel | Seq2Seq, engine: str | None = "numpy", device: str | None = None
) -> BackboneModel | Seq2Seq:
    """Run ``model`` 's RNN stacks on ``engine`` (in place); returns the model."""
    check_engine(engine, device)
    engine = engine or "numpy"
    for name in STACKS:
        stack = getattr(model, name, None)
        stack = getattr(stack, "np_stack", stack)  # a torch stack computes with its NumPy stack's arrays
        if isinstance(stack, RNNStack):
            setattr(model, name, stack if engine == "numpy" else _on_torch(stack, device))
    model.engine = engine
    return model


def _on_torch(stack: RNNStack, device: str | None):
    """``stack`` run by torch, with the one-line error for a device torch refuses."""
    from .stack import TorchRNNStack

    try:
        return TorchRNNStack.wrap(stack, device or "cpu")
    except ValueError as e:
        raise RnnkitError(message_of(e)) from None
