"""The NumPy engine: RNN layer, bidirectional wrapper, stack, embedding, linear, softmax
cross-entropy, initialisation, flat parameter buffers, masks, dropout and gradient checks.

It imports NumPy and nothing else of note (of rnnkit, only ``rnnkit.errors``, for the error
class its public layers raise), so it can be read and used alone. The public layers follow
one protocol (``module.py``): ``rnn.py`` (``RNN``) and ``layers.py`` (``Embedding``,
``Linear``, ``CrossEntropyLoss``), over the engine pieces the models use.
"""

from __future__ import annotations
