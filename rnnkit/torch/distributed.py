"""Data-parallel training with ``torch.distributed``, launched by ``torchrun``.

    torchrun --nproc-per-node N -m rnnkit train input.txt --batch 64 ...

Each of the W processes (ranks) owns a disjoint, contiguous block of the B streams of the
truncated-BPTT batcher: rank r reads columns [r B/W, (r+1) B/W) of every (T, B) chunk and
carries the hidden state of those streams only. After each backward pass the flat
gradient buffer is all-reduced and divided by W. Because the loss is a mean over the
T x B/W positions of a rank and every rank has as many positions, the mean of the W
per-rank gradients is exactly the full-batch gradient of the mean loss over T x B:

    (1/W) sum_r (1/(T B/W)) sum_{i in rank r} dl_i  =  (1/(T B)) sum_i dl_i

so W processes take the same steps as one process with all B streams (up to float32
summation order). Clipping, the non-finite check and the optimizer then see identical
gradients on every rank, and the weights stay identical without ever being sent.

- The all-reduce runs on ``torch.as_tensor(flat.grad)``, the buffer the optimizer reads: for a
  numpy buffer a zero-copy view (Gloo), for the torch engine's device buffer the tensor itself,
  with NCCL on GPUs (each rank on ``cuda:LOCAL_RANK``) and Gloo on CPUs.
- The data position, step, schedule and the trainer's RNG advance identically on every
  rank. Dropout masks are drawn from a per-rank generator seeded from that shared RNG,
  so ranks do not repeat each other's masks.
- Rank 0 alone writes checkpoints, metrics and logs. Saving gathers the carried state of
  all B streams, so a checkpoint looks exactly like a one-process checkpoint.
- Stop signals, the ``--minutes`` clock and the end of training are agreed on every step,
  so all ranks stop at the same step.

Without torchrun (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) ``current()`` is a no-op context
and nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

from rnnkit.errors import RnnkitError

if TYPE_CHECKING:  # annotations only: without torchrun this module imports no model and no torch
    from rnnkit.models.backbone import BackboneModel
    from rnnkit.models.seq2seq import Seq2Seq

    from .lm_engine import TorchCharRNN


class Single:
    """One process: every method is the identity or a no-op."""

    world, rank, local_rank, enabled = 1, 0, 0, False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: str | None) -> str | None:
        return device

    def local_batch(self, B: int) -> int:
        return B

    def shard(self, a: np.ndarray) -> np.ndarray:
        return a

    def gather_streams(self, h: np.ndarray) -> np.ndarray:
        return h

    def shard_streams(self, h: np.ndarray) -> np.ndarray:
        return h

    def shard_examples(self, idx: np.ndarray) -> np.ndarray:
        return idx

    def step_rng(self, rng: np.random.Generator, dropout: float) -> np.random.Generator:
        return rng

    def average_gradients(self, model: BackboneModel | Seq2Seq | TorchCharRNN, loss: float) -> float:
        return loss

    def broadcast_params(self, model: BackboneModel | Seq2Seq | TorchCharRNN) -> None:
        pass

    def agree(self, elapsed: float, stop: bool) -> tuple[float, bool]:
        return elapsed, stop

    def barrier(self) -> None:
        pass

    @contextlib.contextmanager
    def quiet_unless_main(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        pass


class DataParallel(Single):
    """One rank of a ``torchrun`` job; see the module docstring."""

    enabled = True

    def __init__(self, device: str | None):
        from .engines import require_torch

        self.torch = torch = require_torch("data-parallel training (torchrun)")
        import torch.distributed as dist

        self.dist = dist
        env = os.environ
        self.rank, self.world = int(env["RANK"]), int(env["WORLD_SIZE"])
        self.local_rank = int(env.get("LOCAL_RANK", 0))
        self.cuda = (device or "cpu").startswith("cuda")
        if self.cuda:
            if not torch.cuda.is_available():
                raise RnnkitError(f"`device` {device}: PyTorch sees no CUDA GPU on this machine")
            torch.cuda.set_device(self.local_rank)
        self.backend = "nccl" if self.cuda else "gloo"
        timeout = timedelta(seconds=float(env.get("RNNKIT_DIST_TIMEOUT", 1800)))
        if not dist.is_initialized():
            dist.init_process_group(backend=self.backend, timeout=timeout)
        self.comm_device = torch.device("cuda", self.local_rank) if self.cuda else torch.device("cpu")

    def device(self, device: str | None) -> str | None:
        return f"cuda:{self.local_rank}" if self.cuda else device

    def local_batch(self, B: int) -> int:
        if B % self.world:
            raise RnnkitError(
                f"`batch` {B} streams cannot be split evenly over {self.world} processes; "
                f"use a `batch` divisible by the world size (e.g. {B - B % self.world or self.world})"
            )
        return B // self.world

    def _cols(self, B: int) -> slice:
        n = self.local_batch(B)
        return slice(self.rank * n, (self.rank + 1) * n)

    def shard(self, a: np.ndarray) -> np.ndarray:
        """(T, B) -> this rank's streams (T, B/W)."""
        return a[:, self._cols(a.shape[1])]

    def shard_examples(self, idx: np.ndarray) -> np.ndarray:
        """A batch of example indices (n,), n a multiple of W -> this rank's n/W of them."""
        n = len(idx) // self.world
        return idx[self.rank * n : (self.rank + 1) * n]

    def shard_streams(self, h: np.ndarray) -> np.ndarray:
        """Carried state of all streams (L, B, H) -> this rank's (L, B/W, H)."""
        return np.ascontiguousarray(h[:, self._cols(h.shape[1])])

    def gather_streams(self, h: np.ndarray) -> np.ndarray:
        """This rank's carried state (L, B/W, H) -> all streams (L, B, H), on every rank."""
        t = self.torch.from_numpy(np.ascontiguousarray(h)).to(self.comm_device)
        parts = [self.torch.empty_like(t) for _ in range(self.world)]
        self.dist.all_gather(parts, t)
        return np.concatenate([p.cpu().numpy() for p in parts], axis=1)

    def step_rng(self, rng: np.random.Generator, dropout: float) -> np.random.Generator:
        """The shared RNG advances the same way on every rank; dropout draws per rank."""
        if not dropout:
            return rng
        return np.random.default_rng([int(rng.integers(2**63 - 1)), self.rank])

    def average_gradients(self, model: BackboneModel | Seq2Seq | TorchCharRNN, loss: float) -> float:
        """All-reduce (mean) the flat gradient in place; returns the mean loss over ranks."""
        g = self.torch.as_tensor(model.flat.grad)  # no copy: a numpy buffer's view, or the device's tensor
        self.dist.all_reduce(g)
        g.div_(self.world)
        t = self.torch.tensor([loss], dtype=self.torch.float64, device=self.comm_device)
        self.dist.all_reduce(t)
        return float(t[0]) / self.world

    def broadcast_params(self, model: BackboneModel | Seq2Seq | TorchCharRNN) -> None:
        """Start every rank from rank 0's weights (they agree already; this makes sure)."""
        self.dist.broadcast(self.torch.as_tensor(model.flat.data), src=0)

    def agree(self, elapsed: float, stop: bool) -> tuple[float, bool]:
        """Rank 0's clock, and whether any rank was asked to stop."""
        t = self.torch.tensor(
            [elapsed if self.rank == 0 else 0.0, float(stop)],
            dtype=self.torch.float64,
            device=self.comm_device,
        )
        self.dist.all_reduce(t)
        return float(t[0]), bool(t[1] > 0)

    def barrier(self) -> None:
        self.dist.barrier()

    @contextlib.contextmanager
    def quiet_unless_main(self) -> Iterator[None]:
        """Ranks other than 0 print nothing (an exception still reaches stderr afterwards)."""
        if self.is_main:
            yield
            return
        old = sys.stdout, sys.stderr
        with open(os.devnull, "w") as null:
            sys.stdout = sys.stderr = null
            try:
                yield
            finally:
                sys.stdout, sys.stderr = old

    def close(self) -> None:
        if self.dist.is_initialized():
            self.dist.destroy_process_group()


_CURRENT: Single = Single()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def launched_rank() -> int:
    """This process's rank in its torchrun job (0 without torchrun)."""
    return int(os.environ["RANK"]) if launched_by_torchrun() else 0


def init(device: str | None) -> Single:
    """Join the torchrun job if there is one (idempotent); returns the context."""
    global _CURRENT
    if launched_by_torchrun() and not _CURRENT.enabled:
        _CURRENT = DataParallel(device)
    return _CURRENT


def current() -> Single:
    return _CURRENT


def shutdown() -> None:
    global _CURRENT
    _CURRENT.close()
    _CURRENT = Single()
