"""Optimizers over the flat parameter buffer (``params.FlatParams``).

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
"""

from __future__ import annotations

import numpy as np

OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "adamw")


class Optimizer:
    buffers: tuple[str, ...] = ()

    def __init__(self, flat, **hp):
        self.flat = flat
        self.hp = hp
        self.t = 0
        self.state = {name: np.zeros_like(flat.data) for name in self.buffers}
        self._tmp = np.empty_like(flat.data)  # scratch, reused every step

    def step(self, lr: float) -> None:
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
    buffers = ("momentum",)

    def _update(self, p, g, lr):
        mu = self.hp.get("momentum", 0.9)
        v = self.state["momentum"]
        v *= mu
        v += g
        np.multiply(v, lr, out=self._tmp)
        p -= self._tmp


class _SquaredScaled(Optimizer):
    """θ -= lr g / (sqrt(s) + ε), where s accumulates g² (Adagrad) or averages it (RMSprop)."""

    decay = None  # α of s = α s + (1-α) g²; None: s += g²

    def _update(self, p, g, lr):
        s, tmp = self.state[self.buffers[0]], self._tmp
        np.multiply(g, g, out=tmp)  # g²
        if self.decay is not None:
            a = self.hp.get("alpha", self.decay)
            s *= a
            tmp *= 1 - a
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.hp.get("eps", 1e-8)
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        p -= tmp


class Adagrad(_SquaredScaled):
    buffers = ("sum_sq",)


class RMSprop(_SquaredScaled):
    buffers = ("sq_avg",)
    decay = 0.95


class Adam(Optimizer):
    buffers = ("exp_avg", "exp_avg_sq")
    decoupled = False

    def _update(self, p, g, lr):
        b1, b2 = self.hp.get("betas", (0.9, 0.999))
        eps, wd = self.hp.get("eps", 1e-8), self.hp.get("weight_decay", 0.0)
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
    decoupled = True


def make_optimizer(name: str, flat, **hp) -> Optimizer:
    classes = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}
    if name not in classes:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return classes[name](flat, **hp)


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
