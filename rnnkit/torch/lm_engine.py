"""The PyTorch engine: the character LM on ``torch.nn.RNN`` (cuDNN on NVIDIA GPUs).

Same model, same equations, same parameter names as ``char_rnn.CharRNN``:

    x_t = onehot(c_t)  or  E[c_t]                      torch.nn.functional.one_hot / torch.nn.Embedding
    h^(l)_t = tanh(W^(l)_ih x + b^(l)_ih + W^(l)_hh h^(l)_{t-1} + b^(l)_hh)  torch.nn.RNN(nonlinearity="tanh")
    y_t = W_hy h^(L)_t + b_y                           torch.nn.Linear
    loss = mean cross-entropy over the counted (T, B) positions

and the same interface (``forward``/``backward``/``step``/``zero_state``/``flat``/``cfg``),
numpy arrays in and out, so the trainer, evaluation, sampling and checkpoints do not care
which engine runs. A model starts from exactly the weights ``CharRNN`` would draw for the
same seed, and checkpoints are interchangeable both ways (they hold plain numpy arrays).

Where the parameters live — the design choice:

- **CPU** (``device="cpu"``): the numpy ``FlatParams`` buffers are the storage. Every
  ``torch.nn`` parameter is a zero-copy ``torch.from_numpy`` view of ``flat.data`` and its
  ``.grad`` a view of ``flat.grad``. The NumPy optimizers, clipping and checkpoints of
  ``rnnkit`` then work unchanged, on the very memory torch computes with.
- **GPU** (``device="cuda"``): one flat parameter buffer and one flat gradient buffer on the
  GPU, with the ``nn`` parameters as views of them (``DeviceFlat``). Moving 4M parameters
  to the host and back every step would cost more than the step, so the optimizer
  (``TorchFlatOptimizer``: the same five update rules as ``optim.py``, the same state names
  and layout) and gradient clipping run on the GPU too. Values cross to the host only for
  checkpoints (``flat.state_dict()``), which are numpy safetensors as always, so a
  GPU-trained checkpoint loads on a CPU-only machine (``map_location`` behaviour for free).

``device_optimizer=True`` forces the GPU layout on any device; the tests use it on CPU.

The recurrence is the shared adapter, ``recurrence.TorchRecurrence`` over ``net.rnn`` (prefix
masks, DropConnect with the NumPy engine's masks, dropout seeded from the trainer's numpy RNG
each step, so a run is reproducible and resumes exactly); the same inverted dropout comes before
the head. With ``--dropout 0`` the engines agree to float32 rounding. Locked dropout and tied
weights cannot be trained here (``engines.check_regularisers``); a tied checkpoint, which holds
both names, loads into the untied modules for sampling and evaluation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.nn.params import checked_state
from rnnkit.optim.optimizers import OPTIMIZERS, Optimizer, clip_gradients, make_optimizer

from .engines import check_regularisers
from .recurrence import TORCH_DTYPES, TorchRecurrence, resolve_device


class _Net(torch.nn.Module):
    """Embedding (only with embed > 0) -> nn.RNN (tanh) -> nn.Linear, under our names."""

    def __init__(self, cfg: ModelConfig, dtype: torch.dtype):
        super().__init__()
        V, H, L, E = cfg.vocab_size, cfg.hidden, cfg.layers, cfg.embed
        if E:
            self.embedding = torch.nn.Embedding(V, E, dtype=dtype)
        self.rnn = torch.nn.RNN(
            E or V, H, num_layers=L, nonlinearity="tanh", dropout=cfg.dropout if L > 1 else 0.0, dtype=dtype
        )
        self.head = torch.nn.Linear(H, V, dtype=dtype)


class DeviceFlat:
    """``FlatParams``' interface over flat torch buffers on a device.

    ``data``/``grad`` are (P,) torch tensors; ``state_dict``/``load_state_dict`` speak
    numpy (host copies), which is all the checkpoint code sees.
    """

    def __init__(self, host, data: torch.Tensor, grad: torch.Tensor):
        self.dtype = host.dtype
        self.names, self.shapes, self.offsets = host.names, host.shapes, host.offsets
        self.data, self.grad = data, grad

    def __len__(self) -> int:
        return self.data.numel()

    def view(self, name: str, grad: bool = False) -> torch.Tensor:
        off, n = self.offsets[name]
        return (self.grad if grad else self.data)[off : off + n].view(self.shapes[name])

    def state_dict(self) -> dict[str, np.ndarray]:
        host = self.data.detach().cpu().numpy()
        return {n: host[o : o + k].reshape(self.shapes[n]).copy() for n, (o, k) in self.offsets.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for n, a in checked_state(self.shapes, state):
            self.view(n).copy_(torch.from_numpy(np.ascontiguousarray(a, dtype=self.dtype)))


class TorchFlatOptimizer:
    """``optim.py``'s update rules, in torch, over flat (P,) tensors on the model's device.

    Same hyperparameters, same formulas (see ``optim.py``), and the same ``state_dict``
    keys and layouts (``optim.exp_avg`` (P,), ``optim.t``, ...) as numpy arrays, so the
    optimizer state in a checkpoint moves freely between the engines.
    """

    BUFFERS = {
        "sgd": ("momentum",),
        "adagrad": ("sum_sq",),
        "rmsprop": ("sq_avg",),
        "adam": ("exp_avg", "exp_avg_sq"),
        "adamw": ("exp_avg", "exp_avg_sq"),
    }

    def __init__(self, name: str, flat: DeviceFlat, **hp):
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
        self.name, self.flat, self.hp, self.t = name, flat, hp, 0
        self.buffers = self.BUFFERS[name]
        self.state = {b: torch.zeros_like(flat.data) for b in self.buffers}

    @torch.no_grad()
    def step(self, lr: float) -> None:
        self.t += 1
        p, g, s, hp = self.flat.data, self.flat.grad, self.state, self.hp
        if self.name == "sgd":
            v = s["momentum"]
            v.mul_(hp.get("momentum", 0.9)).add_(g)
            p.sub_(v * lr)
        elif self.name == "adagrad":
            G = s["sum_sq"]
            G.addcmul_(g, g)
            p.sub_(g / (G.sqrt() + hp.get("eps", 1e-8)) * lr)
        elif self.name == "rmsprop":
            a, sq = hp.get("alpha", 0.95), s["sq_avg"]
            sq.mul_(a).add_(g * g * (1 - a))
            p.sub_(g / (sq.sqrt() + hp.get("eps", 1e-8)) * lr)
        else:
            b1, b2 = hp.get("betas", (0.9, 0.999))
            eps, wd = hp.get("eps", 1e-8), hp.get("weight_decay", 0.0)
            m, v = s["exp_avg"], s["exp_avg_sq"]
            if wd and self.name == "adamw":
                p.mul_(1 - lr * wd)
            elif wd:
                g = g + wd * p
            m.mul_(b1).add_((1 - b1) * g)
            v.mul_(b2).add_(g * g * (1 - b2))
            bc1, bc2 = 1 - b1**self.t, 1 - b2**self.t
            denom = v.sqrt() * (1.0 / np.sqrt(bc2)) + eps
            p.sub_(m / denom * (lr / bc1))

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {f"optim.{k}": v.detach().cpu().numpy().copy() for k, v in self.state.items()}
        out["optim.t"] = np.array([self.t], dtype=np.int64)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for k in self.buffers:
            a = state.get(f"optim.{k}")
            if a is None or tuple(a.shape) != tuple(self.state[k].shape):
                raise ValueError(f"optimizer state optim.{k} missing or of the wrong shape")
            self.state[k].copy_(torch.from_numpy(np.ascontiguousarray(a, dtype=self.flat.dtype)))
        self.t = int(state["optim.t"][0])


@torch.no_grad()
def clip_gradients_torch(grad: torch.Tensor, mode: str, value: float) -> float:
    """``optim.clip_gradients`` for a torch tensor: clip in place, return the norm before."""
    norm = float(torch.linalg.vector_norm(grad))
    if mode == "none" or value <= 0:
        return norm
    if mode == "norm":
        if norm > value:
            grad.mul_(value / norm)
    elif mode == "value":
        grad.clamp_(-value, value)
    else:
        raise ValueError(f"unknown clip mode {mode!r}; choose norm, value or none")
    return norm


class TorchCharRNN:
    """``CharRNN`` on PyTorch. numpy in, numpy out; see the module docstring.

    >>> m = TorchCharRNN(ModelConfig(vocab_size=5, hidden=8, layers=1), seed=0)
    >>> ids = np.array([[0, 1], [2, 3], [4, 0]])                  # (T=3, B=2)
    >>> loss, h_n, cache = m.forward(ids[:-1], ids[1:])
    >>> dh0 = m.backward(cache)                                  # gradients now in m.flat.grad
    """

    engine = "torch"

    def __init__(
        self,
        cfg: ModelConfig,
        seed: int = 0,
        dtype=np.float32,
        device: str | None = "cpu",
        device_optimizer: bool | None = None,
    ):
        cfg.validate()
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        self.device = resolve_device(device)
        self.tdtype = TORCH_DTYPES[self.dtype]
        # The NumPy engine's init, same seed; untied (``tie_weights`` cannot be trained here, and
        # a tied checkpoint holds both copies, equal).
        host = CharRNN(dataclasses.replace(cfg, tie_weights=False), seed=seed, dtype=dtype).flat
        self.net = _Net(cfg, self.tdtype)
        self.on_device = self.device.type != "cpu" if device_optimizer is None else device_optimizer
        if self.on_device:
            data = torch.from_numpy(host.data).to(self.device).clone()
            grad = torch.zeros_like(data)
            self.flat = DeviceFlat(host, data, grad)
        else:
            data, grad = torch.from_numpy(host.data), torch.from_numpy(host.grad)  # zero copy
            self.flat = host
        self._grad_t = grad  # flat.grad as a tensor (the same memory), zeroed by backward
        params = dict(self.net.named_parameters())
        if sorted(params) != sorted(host.names):
            raise AssertionError(f"torch names {sorted(params)} != numpy names {sorted(host.names)}")
        for name, p in params.items():
            off, n = host.offsets[name]
            p.data = data[off : off + n].view(host.shapes[name])
            p.grad = grad[off : off + n].view(host.shapes[name])
        self._grad_views = {name: p.grad for name, p in params.items()}
        self.recurrence = TorchRecurrence(self.net.rnn, cfg.dropout, cfg.weight_drop, self.dtype, self.device)

    # -------------------------------------------------------- trainer hooks
    def make_optimizer(self, name: str, **hp: Any) -> TorchFlatOptimizer | Optimizer:
        check_regularisers(self.cfg, "torch")  # training: refuse what this engine cannot train
        return (
            TorchFlatOptimizer(name, self.flat, **hp)
            if self.on_device
            else make_optimizer(name, self.flat, **hp)
        )

    def clip_gradients(self, mode: str, value: float) -> float:
        if self.on_device:
            return clip_gradients_torch(self.flat.grad, mode, value)
        return clip_gradients(self.flat.grad, mode, value)

    # ------------------------------------------------------------- helpers
    def zero_state(self, B: int) -> np.ndarray:
        return np.zeros((self.cfg.layers, B, self.cfg.hidden), dtype=self.dtype)

    def _input(self, ids: torch.Tensor) -> torch.Tensor:
        if self.cfg.embed:
            return self.net.embedding(ids)  # (T, B, E)
        # one-hot rows: nn.RNN then computes W_ih onehot(c) = column c of W_ih (H, V)
        return F.one_hot(ids, self.cfg.vocab_size).to(self.tdtype)  # (T, B, V)

    # ------------------------------------------------------------ training
    def forward(
        self,
        ids: ArrayLike,
        targets: ArrayLike,
        h0: np.ndarray | None = None,
        mask: ArrayLike | None = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
        need_grad: bool = True,
    ) -> tuple[float, np.ndarray, dict]:
        """ids, targets (T, B) ints; h0 (L, B, H). Returns (mean loss, h_n (L, B, H) numpy, cache)."""
        T, B = np.shape(ids)
        p, rec = self.cfg.dropout, self.recurrence
        # DropConnect's masks, then torch's seed (for the dropout between layers and before the head)
        weights = rec.prepare(rng, train, need_grad=need_grad, client_dropout=p > 0)
        h0 = self.zero_state(B) if h0 is None else h0
        with torch.set_grad_enabled(need_grad):
            idt, tgt = rec.tensor(ids, torch.int64), rec.tensor(targets, torch.int64)
            h0t = rec.tensor(h0, self.tdtype)
            if need_grad:
                h0t.requires_grad_(True)
            hs, h_n = rec(self._input(idt), h0t, mask, weights)  # (T, B, H), (L, B, H)
            hs = F.dropout(hs, p, training=bool(train) and p > 0)
            logits = self.net.head(hs)  # (T, B, V)
            nll = F.cross_entropy(logits.reshape(T * B, -1), tgt.reshape(-1), reduction="none")  # (T*B,)
            if mask is not None:
                nll = nll * rec.tensor(mask, self.tdtype).reshape(-1)  # uncounted positions weigh 0
            count = T * B if mask is None else float(np.sum(mask))
            loss_t = nll.sum() / max(count, 1)
        total = float(nll.detach().sum(dtype=torch.float64))
        cache = dict(loss=loss_t, h0=h0t, h_n=h_n, total=total, count=count)
        return total / max(count, 1), h_n.detach().cpu().numpy(), cache

    def backward(self, cache: dict, dh_n: np.ndarray | None = None) -> np.ndarray:
        """Fills ``flat.grad`` with d(mean loss)/d(params); returns dL/dh0 (L, B, H) numpy."""
        self._grad_t.zero_()
        outs, grads = [cache["loss"]], [None]
        if dh_n is not None:
            outs.append(cache["h_n"])
            grads.append(self.recurrence.tensor(dh_n, self.tdtype))
        torch.autograd.backward(outs, grads)
        for name, p in self.net.named_parameters():  # autograd accumulated in
            if p.grad is not self._grad_views[name]:  # place; if it ever swaps
                self._grad_views[name].copy_(p.grad)  # the tensor, copy back
                p.grad = self._grad_views[name]
        dh0 = cache["h0"].grad
        return dh0.cpu().numpy() if dh0 is not None else self.zero_state(cache["h0"].shape[1])

    # ----------------------------------------------------------- inference
    @torch.no_grad()
    def step(self, ids: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step for sampling: ids (B,), h (L, B, H) -> logits (B, V), new h (L, B, H)."""
        self.net.eval()
        rec = self.recurrence
        idt = rec.tensor(np.asarray(ids).reshape(1, -1), torch.int64)  # (1, B)
        hs, h_n = rec(self._input(idt), rec.tensor(h, self.tdtype))
        logits = self.net.head(hs[0])  # (B, V)
        return logits.cpu().numpy(), h_n.cpu().numpy()
