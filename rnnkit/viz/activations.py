"""Read a sequence through a model's stack and keep every layer's hidden state.

``stack_states`` is what every insight view shares: the LM's trace below, the forms'
traces (``form_trace.py``), and ``rnnkit serve``'s form page. For an input read from a state
h0 (zero unless given), position t holds

    states[t, l] = h^(l)_t                   (W,)   W = H, or 2H = [h→_t ; h←_t] bidirectional

exactly the states the stack's own forward pass computes (in evaluation: no dropout).

``trace`` follows a character LM through a text, position t holding

    states[t, l] = h^(l)_t          (L, H)  hidden state of layer l after reading c_t
    probs[t]     = softmax(y_t)     (V,)    the model's distribution of c_{t+1}

These are exactly the values ``CharRNN.step`` produces one character at a time
(``tests/test_viz.py`` checks that); here the whole text runs as one (T, 1) sequence
through the stack, so the input projections are one matrix product per layer.

>>> from rnnkit.models.char_rnn import CharRNN, ModelConfig
>>> m = CharRNN(ModelConfig(vocab_size=5, hidden=8, layers=2))
>>> states, probs = trace(m, np.array([0, 1, 2, 3]))      # (4, 2, 8), (4, 5)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.models.backbone import Backbone
from rnnkit.models.char_rnn import CharRNN
from rnnkit.nn.linear import Linear
from rnnkit.nn.softmax_cross_entropy import softmax
from rnnkit.nn.stack import RNNStack


def stack_states(
    stack: RNNStack, x: np.ndarray, h0: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """x (T, B, D) or ids (T, B), h0 (L*dirs, B, H) or None -> (states (T, B, L, dirs*H), h_n (L*dirs, B, H)).

    The layers of ``stack`` (an ``RNNStack``) run one after the other, as ``RNNStack.forward``
    runs them without dropout, and each layer's output is kept.
    """
    T, B = x.shape[:2]
    states = np.empty((T, B, stack.L, stack.out_size), dtype=stack.dtype)  # (T, B, L, W)
    finals = []
    h = x
    for k, layer in enumerate(stack.layers):
        h0_k = None if h0 is None else (h0[k] if stack.dirs == 1 else h0[2 * k : 2 * k + 2])
        (h, h_n), _ = layer.forward(h, h0_k)  # (T, B, W)
        states[:, :, k] = h
        finals.append(h_n[None] if stack.dirs == 1 else h_n)
    return states, np.concatenate(finals, axis=0)


def backbone_states(
    backbone: Backbone, ids: ArrayLike, h0: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A ``Backbone`` (embedding or one-hot ids, then its stack) over ids (T,) from h0 (L*dirs, 1, H)
    -> (states (T, L, W), h_n (L*dirs, 1, H)): one sequence."""
    x = np.asarray(ids, dtype=np.int64)[:, None]  # (T, 1)
    if backbone.embedding is not None:
        x, _ = backbone.embedding.forward(x)  # (T, 1, E)
    states, h_n = stack_states(backbone.rnn, x, h0)  # (T, 1, L, W)
    return states[:, 0], h_n


def head_probs(head: Linear, top: np.ndarray) -> np.ndarray:
    """The head's distribution over its outputs for top-layer states (..., W) -> (..., K), float64."""
    logits, _ = head.forward(top)
    return softmax(logits.astype(np.float64))


def trace(model: CharRNN, ids: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """ids (N,) -> (states (N, L, H) float32, probs (N, V) float32), from a zero state.

    Runs in chunks of ``chunk`` characters with the state carried, so memory stays bounded
    for long texts (forward values are the same as one long pass).
    """
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids must be (N,), got {ids.shape}")
    if model.rnn.dirs != 1:
        raise ValueError("trace needs a left-to-right model")
    N = ids.size
    L, H, V = model.cfg.layers, model.cfg.hidden, model.cfg.vocab_size
    states = np.empty((N, L, H), dtype=np.float32)  # (N, L, H)
    probs = np.empty((N, V), dtype=np.float32)  # (N, V)
    h = model.zero_state(1)  # (L, 1, H)
    for s in range(0, N, chunk):
        S, h = backbone_states(model.backbone, ids[s : s + chunk], h)  # (T, L, H), (L, 1, H)
        states[s : s + len(S)] = S
        probs[s : s + len(S)] = head_probs(model.head, S[:, -1])  # (T, V)
    return states, probs
