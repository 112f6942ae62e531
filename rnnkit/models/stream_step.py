"""One stream's step for generation, with the weights laid out for matrix-vector speed.

Generating text is one character at a time, so each step is a chain of matrix-vector
products (GEMVs) that read every recurrent weight once: at H=512, L=2 that is 3 MB per
character. The time is those GEMVs plus NumPy's fixed cost per call (~0.5 µs), so this
class computes exactly ``CharRNN.step``'s equations with as few calls as possible:

    layer 0:    h_0 <- tanh(E[c] + W_hh0 h_0)          E = onehot-or-embedding · W_ih0^T + b_0   (V, H)
    layer k>0:  h_k <- tanh([W_ih_k  W_hh_k] [h_{k-1}; h_k] + b_k)       one GEMV, (H, 2H)·(2H,)
    logits:     y = W_hy h_{L-1} + b_y                                    (V,)

which is the lecture's ``h_t = tanh(W_h [h_{t-1}; x_t])`` with the two blocks in the other
order, and with layer 0's input product precomputed for every character (a one-hot times
``W_ih0`` is one of its columns, so ``E`` holds all V possible results, biases folded in).

The states of all layers live in one buffer ``S = [h_0; h_1; ...; h_{L-1}]`` (L·H,), so the
vector ``[h_{k-1}; h_k]`` that layer k multiplies is the view ``S[(k-1)H:(k+1)H]``: no copy
per step. Layer k reads the *new* h_{k-1} (written just before) and its own *old* h_k,
which is exactly the recurrence's order.

Same math as ``CharRNN.step``; the float rounding differs (the GEMV over ``[x; h]`` sums in
another order and ``E`` adds the biases first), which the tests bound to float tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .char_rnn import CharRNN


class StreamStep:
    """A NumPy ``CharRNN`` stepped one character at a time (batch of one, eval mode).

    It holds a snapshot of the weights in its own layout, taken when it is built.

    >>> from rnnkit import CharRNN, ModelConfig
    >>> s = StreamStep(CharRNN(ModelConfig(vocab_size=5, hidden=8, layers=2), seed=0))
    >>> s.step(3).shape                                          # logits of the next char
    (5,)
    """

    def __init__(self, model):
        layers = model.rnn.layers
        dt = model.dtype
        H = model.cfg.hidden
        self.H, self.L = H, len(layers)
        P0 = layers[0].params
        b0 = P0[layers[0].k_bih] + P0[layers[0].k_bhh]  # (H,)
        if model.embedding is None:
            E = P0[layers[0].k_ih].T + b0  # (V, H): column c of W_ih0
        else:
            E = model.embedding.params["weight"] @ P0[layers[0].k_ih].T + b0  # (V, E)·(E, H)
        self.E = np.ascontiguousarray(E, dtype=dt)  # (V, H)
        # Layer 0 as h @ W_hh0^T with the transpose stored contiguous: OpenBLAS's fastest
        # GEMV form for a square matrix in our measurements (about 15% over W_hh0 @ h).
        self.W0T = np.ascontiguousarray(P0[layers[0].k_hh].T)  # (H, H)
        self.Wcat = [
            np.ascontiguousarray(np.concatenate([l.params[l.k_ih], l.params[l.k_hh]], axis=1))
            for l in layers[1:]
        ]  # (H, 2H) each
        self.bias = [l.params[l.k_bih] + l.params[l.k_bhh] for l in layers[1:]]  # (H,) each
        self.W_hy = model.head.params["weight"].copy()  # (V, H) a snapshot, like the rest
        self.b_y = model.head.params["bias"].copy()  # (V,)
        self.S = np.zeros(self.L * H, dtype=dt)  # (L*H,) all states
        self.z = np.empty(H, dtype=dt)  # (H,) scratch
        self.logits = np.empty(len(self.b_y), dtype=dt)  # (V,)

    def reset(self) -> None:
        """Back to the zero initial state."""
        self.S[:] = 0

    @property
    def state(self) -> np.ndarray:
        """The current states, shaped like ``CharRNN.step``'s: (L, 1, H) (a copy)."""
        return self.S.reshape(self.L, 1, self.H).copy()

    def step(self, c: int) -> np.ndarray:
        """Feed character id ``c``; returns the next character's logits (V,).

        The returned array is this object's buffer, overwritten by the next call.
        """
        H, S, z = self.H, self.S, self.z
        np.dot(S[:H], self.W0T, out=z)  # W_hh0 h_0
        z += self.E[c]
        np.tanh(z, out=S[:H])
        for k, (W, b) in enumerate(zip(self.Wcat, self.bias), start=1):
            np.dot(W, S[(k - 1) * H : (k + 1) * H], out=z)  # [W_ih W_hh][h_{k-1}; h_k]
            z += b
            np.tanh(z, out=S[k * H : (k + 1) * H])
        np.dot(self.W_hy, S[(self.L - 1) * H :], out=self.logits)
        self.logits += self.b_y
        return self.logits


class ModelStream:
    """The same interface over any model with ``zero_state`` and ``step`` (the torch engine)."""

    def __init__(self, model):
        self.model = model
        self.h = model.zero_state(1)  # (L, 1, H)

    def reset(self) -> None:
        self.h = self.model.zero_state(1)

    @property
    def state(self) -> np.ndarray:
        return self.h.copy()

    def step(self, c: int) -> np.ndarray:
        logits, self.h = self.model.step(np.array([c]), self.h)  # (1, V), (L, 1, H)
        return logits[0]


def stream_for(model: Any) -> StreamStep | ModelStream:
    """The fastest one-stream stepper for ``model``: ``StreamStep`` for a NumPy CharRNN."""
    return StreamStep(model) if isinstance(model, CharRNN) else ModelStream(model)
