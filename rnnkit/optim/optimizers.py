"""Optimizers over the flat parameter buffer (``params.FlatParams``), or over any model.

Each update is a few vectorised operations on the whole (P,) buffer, in place. With
θ the parameters, g the gradient and lr the current learning rate:

- ``sgd``:     v = μ v + g;               θ -= lr v              (momentum μ, 0 = plain SGD)
- ``adagrad``: G += g²;                   θ -= lr g / (sqrt(G) + ε)          (min-char-rnn)
- ``rmsprop``: s = α s + (1-α) g²;        θ -= lr g / (sqrt(s) + ε)          (char-rnn)
- ``adam``:    m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
               θ -= lr (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + ε)
- ``adamw``:   Adam, plus decoupled weight decay θ -= lr λ θ before the step.

The state (moment buffers and step count) is exposed by ``state_dict`` as plain arrays,
so a checkpoint can save it in safetensors and resume exactly.

``params`` is a ``FlatParams`` (the trainer's models) or any object with
``named_parameters()`` and ``named_grads()`` (an ``rnnkit.Module``, say), whose arrays are
copied through a flat buffer for each step (``gathered.py``). The learning rate is given to
the optimizer, or to each ``step`` (the trainer's schedule does that):

>>> import rnnkit
>>> model = rnnkit.Linear(3, 2, seed=0)
>>> opt = Adam(model, lr=1e-2)
>>> _ = model(np.ones((4, 3))); _ = model.backward(np.ones((4, 2)))
>>> opt.step(); model.zero_grad()
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.errors import RnnkitError

from .gathered import as_flat, synced

OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "adamw")


class Optimizer:
    """An update rule over ``params`` (see the module docstring); ``t`` counts the steps, the
    state arrays in ``buffers`` are flat (P,), and ``lr`` is the default of ``step``."""

    buffers: tuple[str, ...] = ()

    def __init__(self, params: Any, lr: float | None = None, **hp: Any):
        if lr is not None and not 0 < lr < float("inf"):
            raise RnnkitError(f"`lr` must be positive, got {lr}")
        self.flat = as_flat(params)
        self.lr = lr
        self.hp = hp
        self.t = 0
        self.state = {name: np.zeros_like(self.flat.data) for name in self.buffers}
        self._tmp = np.empty_like(self.flat.data)  # scratch, reused every step

    def step(self, lr: float | None = None) -> None:
        """One update with ``lr``, or with the optimizer's own ``lr`` when None."""
        lr = self.lr if lr is None else lr
        if lr is None:
            raise RnnkitError("`lr` is not set: give it to the optimizer or to step()")
        with synced(self.flat):
            self.t += 1
            self._update(self.flat.data, self.flat.grad, lr)

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {f"optim.{k}": v for k, v in self.state.items()}
        out["optim.t"] = np.array([self.t], dtype=np.int64)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for k in self.buffers:
            a = state.get(f"optim.{k}")
            if a is None or a.shape != self.state[k].shape:
                raise ValueError(f"optimizer state optim.{k} missing or of the wrong shape")
            self.state[k][...] = a
        self.t = int(state["optim.t"][0])


class SGD(Optimizer):
    """v = μ v + g;  θ -= lr v  (``torch.optim.SGD`` with ``momentum`` μ; 0: plain SGD)."""

    buffers = ("momentum",)

    def __init__(self, params: Any, lr: float | None = None, momentum: float = 0.9):
        super().__init__(params, lr, momentum=momentum)

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        mu = self.hp["momentum"]
        v = self.state["momentum"]
        v *= mu
        v += g
        np.multiply(v, lr, out=self._tmp)
        p -= self._tmp


class _SquaredScaled(Optimizer):
    """θ -= lr g / (sqrt(s) + ε), where s accumulates g² (Adagrad) or averages it (RMSprop)."""

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        s, tmp = self.state[self.buffers[0]], self._tmp
        np.multiply(g, g, out=tmp)  # g²
        a = self.hp["alpha"]  # α of s = α s + (1-α) g²; None: s += g²
        if a is not None:
            s *= a
            tmp *= 1 - a
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.hp["eps"]
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        p -= tmp


class Adagrad(_SquaredScaled):
    """G += g²;  θ -= lr g / (sqrt(G) + ε)  (``torch.optim.Adagrad``; min-char-rnn's)."""

    buffers = ("sum_sq",)

    def __init__(self, params: Any, lr: float | None = None, eps: float = 1e-8):
        super().__init__(params, lr, alpha=None, eps=eps)


class RMSprop(_SquaredScaled):
    """s = α s + (1-α) g²;  θ -= lr g / (sqrt(s) + ε)  (``torch.optim.RMSprop``; char-rnn's)."""

    buffers = ("sq_avg",)

    def __init__(self, params: Any, lr: float | None = None, alpha: float = 0.95, eps: float = 1e-8):
        super().__init__(params, lr, alpha=alpha, eps=eps)


class Adam(Optimizer):
    """``torch.optim.Adam``: bias-corrected moments m, v of g;  θ -= lr m̂ / (sqrt(v̂) + ε).
    ``weight_decay`` λ adds λ θ to g (L2); ``AdamW`` decays θ directly instead."""

    buffers = ("exp_avg", "exp_avg_sq")
    decoupled = False

    def __init__(
        self,
        params: Any,
        lr: float | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        b1, b2 = self.hp["betas"]
        eps, wd = self.hp["eps"], self.hp["weight_decay"]
        m, v, tmp = self.state["exp_avg"], self.state["exp_avg_sq"], self._tmp
        if wd and self.decoupled:
            p *= 1 - lr * wd
        elif wd:
            g = g + wd * p
        m *= b1
        m += (1 - b1) * g
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        bc1, bc2 = 1 - b1**self.t, 1 - b2**self.t
        np.sqrt(v, out=tmp)
        tmp *= 1.0 / np.sqrt(bc2)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / bc1
        p -= tmp


class AdamW(Adam):
    """``torch.optim.AdamW``: θ -= lr λ θ (decoupled ``weight_decay`` λ), then Adam's step."""

    decoupled = True


def make_optimizer(name: str, flat: Any, **hp: Any) -> Optimizer:
    classes = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}
    if name not in classes:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return classes[name](flat, **hp)


def clip_grad_norm(params: Any, max_norm: float) -> float:
    """Scale every gradient of ``params`` (a model with ``named_grads()``, or a ``FlatParams``)
    by min(1, max_norm / ||g||), g all gradients as one vector; returns ||g|| before.

    ``torch.nn.utils.clip_grad_norm_`` divides by ||g|| + 1e-6; this, by ||g|| exactly.
    """
    flat = as_flat(params)
    with synced(flat):
        return clip_gradients(flat.grad, "norm", max_norm)


def clip_gradients(grad: np.ndarray, mode: str, value: float) -> float:
    """Clip in place. Returns the global L2 norm before clipping.

    ``norm``: g *= min(1, value / ||g||);  ``value``: g = clip(g, -value, value);
    ``none`` or value <= 0: unchanged.
    """
    norm = float(np.sqrt(np.dot(grad, grad)))
    if mode == "none" or value <= 0:
        return norm
    if mode == "norm":
        if norm > value:
            grad *= value / norm
    elif mode == "value":
        np.clip(grad, -value, value, out=grad)
    else:
        raise ValueError(f"unknown clip mode {mode!r}; choose norm, value or none")
    return norm
