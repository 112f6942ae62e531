"""Trace a text through a character LM: every layer's hidden state and the next-char distribution.

For characters c_1..c_N read from a zero state, position t holds

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

from rnnkit.nn.softmax_cross_entropy import softmax


def trace(model, ids: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
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
        x = ids[s : s + chunk].astype(np.int64)[:, None]  # (T, 1)
        if model.embedding is not None:
            x, _ = model.embedding.forward(x)  # (T, 1, E)
        (top, h), (caches, _) = model.rnn.forward(x, h)  # (T, 1, H), (L, 1, H)
        for l, c in enumerate(caches):
            S = c[1]  # (T+1, 1, H): h_0..h_T
            states[s : s + len(top), l] = S[1:, 0]
        logits, _ = model.head.forward(top)  # (T, 1, V)
        probs[s : s + len(top)] = softmax(logits[:, 0].astype(np.float64))
    return states, probs
