"""rnnkit: vanilla (Elman, tanh) RNNs and character language models in NumPy.

Every module pairs ``forward(...) -> (out, cache)`` with a hand-written
``backward(dout, cache) -> (dinputs..., grads)``; PyTorch is the reference in the tests.
"""
from .bidirectional import Bidirectional
from .char_rnn import CharRNN, ModelConfig
from .embedding import Embedding
from .linear import Linear
from .params import FlatParams
from .rnn_layer import RNNLayer
from .softmax_cross_entropy import softmax_cross_entropy
from .stack import RNNStack

__version__ = "0.1.0"
__all__ = ["Bidirectional", "CharRNN", "ModelConfig", "Embedding", "Linear", "FlatParams",
           "RNNLayer", "RNNStack", "softmax_cross_entropy", "lengths_to_mask"]


def lengths_to_mask(lengths, T: int, dtype="float32"):
    """lengths (B,) -> mask (T, B): 1 where t < length[b] (right padding)."""
    import numpy as np
    lengths = np.asarray(lengths)
    if lengths.size and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(f"lengths must lie in [0, {T}], got {lengths.tolist()}")
    return (np.arange(T)[:, None] < lengths[None, :]).astype(dtype)
