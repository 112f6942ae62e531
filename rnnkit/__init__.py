"""rnnkit: vanilla (Elman, tanh) RNNs and character language models in NumPy.

Every module pairs ``forward(...) -> (out, cache)`` with a hand-written
``backward(dout, cache) -> (dinputs..., grads)``; PyTorch is the reference in the tests.
"""

from rnnkit.errors import RnnkitError, RnnkitWarning, TrainingFailed
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.nn.bidirectional import Bidirectional
from rnnkit.nn.embedding import Embedding
from rnnkit.nn.linear import Linear
from rnnkit.nn.mask import lengths_to_mask
from rnnkit.nn.params import FlatParams
from rnnkit.nn.rnn import RNN
from rnnkit.nn.rnn_layer import RNNLayer
from rnnkit.nn.softmax_cross_entropy import softmax_cross_entropy
from rnnkit.nn.stack import RNNStack
from rnnkit.version import __version__ as __version__  # re-exported

__all__ = [
    "RNN",
    "Bidirectional",
    "CharRNN",
    "ModelConfig",
    "Embedding",
    "Linear",
    "FlatParams",
    "RNNLayer",
    "RNNStack",
    "softmax_cross_entropy",
    "lengths_to_mask",
    "RnnkitError",
    "RnnkitWarning",
    "TrainingFailed",
]
