"""The NumPy engine: RNN layer, bidirectional wrapper, stack, embedding, linear, softmax
cross-entropy, initialisation, flat parameter buffers, masks, dropout and gradient checks.

It imports NumPy and nothing else, so it can be read and used alone.
"""
