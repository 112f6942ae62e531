"""rnnkit: vanilla (Elman, tanh) RNNs and character language models in NumPy.

Every module pairs ``forward(...) -> (out, cache)`` with a hand-written
``backward(dout, cache) -> (dinputs..., grads)``; PyTorch is the reference in the tests.
"""
from .bidirectional import Bidirectional
from .char_rnn import CharRNN, ModelConfig
from .embedding import Embedding
from .linear import Linear
from .mask import lengths_to_mask
from .params import FlatParams
from .rnn_layer import RNNLayer
from .softmax_cross_entropy import softmax_cross_entropy
from .stack import RNNStack

__version__ = "0.1.0"
__all__ = ["Bidirectional", "CharRNN", "ModelConfig", "Embedding", "Linear", "FlatParams",
           "RNNLayer", "RNNStack", "softmax_cross_entropy", "lengths_to_mask"]

