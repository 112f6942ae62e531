"""rnnkit: vanilla (Elman, tanh) RNNs and character language models in NumPy.

Every module pairs ``forward(...) -> (out, cache)`` with a hand-written
``backward(dout, cache) -> (dinputs..., grads)``; PyTorch is the reference in the tests.
"""

from __future__ import annotations

from rnnkit import optim
from rnnkit.errors import RnnkitError, RnnkitWarning, TrainingFailed
from rnnkit.models.char_rnn import CharRNN, ModelConfig
from rnnkit.nn.bidirectional import Bidirectional
from rnnkit.nn.layers import CrossEntropyLoss, Embedding, Linear
from rnnkit.nn.mask import lengths_to_mask
from rnnkit.nn.module import Module
from rnnkit.nn.params import FlatParams
from rnnkit.nn.rnn import RNN
from rnnkit.nn.rnn_layer import RNNLayer
from rnnkit.nn.softmax_cross_entropy import softmax_cross_entropy
from rnnkit.nn.stack import RNNStack
from rnnkit.version import __version__ as __version__  # re-exported

# The models of the Python API (rnnkit/api) stand on the trainer, which loads tqdm and
# safetensors. They are imported on first use (PEP 562), so that ``import rnnkit.nn``,
# which runs this file first, stays NumPy alone.
_API = ("CharLM", "Classifier", "Tagger", "Seq2Seq", "Generator", "load")


def __getattr__(name: str):
    if name in _API:
        import rnnkit.api

        return getattr(rnnkit.api, name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


__all__ = [
    *_API,
    "RNN",
    "Module",
    "CrossEntropyLoss",
    "optim",
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
