"""Will a training run fit in memory? An estimate, checked before anything is allocated.

Training holds, in float32 (4 bytes each):

    bytes = 4 * (k * P + A)

    P  parameters, from the model's shapes (``model_shapes.param_count``)
    k  copies of P: the weights, the gradients, the optimizer's scratch buffer, its state
       buffers (Adam/AdamW: 2 moments; SGD, Adagrad, RMSprop: 1), and, while a checkpoint
       is written, a copy of the weights and state and their serialised bytes:
       k = 3 + s + 2 (1 + s) with s state buffers, so 11 for Adam, 8 for SGD
    A  activations kept for BPTT in one step of T steps by B sequences:
       A = T * B * (3 * sum over RNN stacks of L * dirs * H     states, their gradients, a mask
                   + 3 * the output width (V or classes)        logits, softmax, their gradient
                   + 2 * each embedding width)                  vectors and their gradients

It is a careful estimate, not a measurement: NumPy's own temporaries come on top, and the
torch engine on a GPU keeps the activations in GPU memory. The limit is the memory the
system says is available (``MemAvailable`` in /proc/meminfo), or ``--max-memory`` GiB when
given (which may be higher, for swap or a GPU). Where neither is known, nothing is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from rnnkit.errors import RnnkitError
from rnnkit.models.shapes import param_count

GiB = 2**30
STATE_BUFFERS = {"adam": 2, "adamw": 2, "sgd": 1, "adagrad": 1, "rmsprop": 1}


def _size(n: float) -> str:
    return f"{n / GiB:,.1f} GiB" if n >= GiB / 10 else f"{n / 2**20:,.1f} MiB"


def available_bytes() -> int | None:
    """Memory available to a new process: ``MemAvailable`` from /proc/meminfo (Linux), else
    free physical pages (``os.sysconf``), else None. Tests replace this function."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the value is in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def training_bytes(parts: Sequence[tuple], T: int, B: int, optimizer: str) -> tuple[int, int]:
    """-> (bytes for parameters and optimizer state, bytes for one step's activations)."""
    s = STATE_BUFFERS.get(optimizer, 2)
    k = 3 + s + 2 * (1 + s)
    width = 0
    for _, kind, dims in parts:
        if kind == "stack":
            D, H, L, dirs = dims
            width += 3 * L * dirs * H
        elif kind == "linear":
            width += 3 * dims[1]
        else:
            width += 2 * dims[1]
    return 4 * k * param_count(parts), 4 * T * B * width


def check_training(
    parts: Sequence[tuple], T: int, B: int, optimizer: str, max_memory_gib: float = 0.0
) -> None:
    """Refuse (``RnnkitError``, one line with the estimate and the limit) a run whose estimate
    exceeds ``max_memory_gib`` GiB, or, when that is 0, the memory available."""
    params, acts = training_bytes(parts, T, B, optimizer)
    need = params + acts
    if max_memory_gib:
        limit, what = max_memory_gib * GiB, f"`max_memory` {max_memory_gib:g} GiB"
    else:
        limit = available_bytes()
        if limit is None:
            return
        what = f"the {_size(limit)} of memory available"
    if need > limit:
        raise RnnkitError(
            f"this model needs about {_size(need)} to train ({param_count(parts):,} parameters "
            f"with gradients and {optimizer} state: {_size(params)}; activations of one step: "
            f"{_size(acts)}), more than {what}; make `hidden`, `layers` or `batch` smaller, "
            f"or raise `max_memory` (GiB) if you know it fits"
        )
