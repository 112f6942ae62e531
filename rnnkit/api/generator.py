"""``rnnkit.Generator``: one-to-many, the form of ``rnnkit generate``.

s_0 = 0,  s_1 = tanh(W_s [s_0; e(label)]),   then each step's input is the previous
character (``autoregressive``, a language model per label) or a zero vector (the lecture's
one-to-many), and p(c_t | label, c_<t) = softmax(W_hy s_t), until the end marker.
"""

from __future__ import annotations

import numpy as np

from rnnkit.decode.checks import check_sampling
from rnnkit.decode.forms import generator_sample
from rnnkit.errors import RnnkitError, message_of

from .task_model import TaskModel


class Generator(TaskModel):
    """Generates texts for a label (a condition): ``fit(labels, texts)``; ``evaluate(labels,
    texts)`` -> ``rnnkit generate eval --json`` 's dict, with ``nll`` in nats per character.

    >>> gen = Generator(hidden=32).fit(["up", "down"] * 40, ["abc", "cba"] * 40,
    ...                                max_steps=150, progress=False, verbose=False)
    >>> gen.sample("down", n=2, temperature=0)
    ['cba', 'cba']
    """

    verb, fields = "generate", ("labels", "texts")

    def __init__(
        self,
        hidden: int = 128,
        layers: int = 1,
        embed: int = 0,
        cond_embed: int = 0,
        dropout: float = 0.0,
        autoregressive: bool = True,
    ):
        super().__init__(
            hidden, layers, False, embed, dropout, cond_embed=cond_embed, autoregressive=autoregressive
        )
        del self._settings["bidirectional"]  # not a setting of this form

    def sample(
        self,
        label: str,
        n: int = 10,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        max_len: int = 40,
    ) -> list[str]:
        """``n`` texts drawn for ``label``, each at most ``max_len`` characters; ``temperature``
        0 takes the most likely character at each step."""
        self._ready()
        check_sampling(max_len, temperature, top_k, top_p, 0, seed)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise RnnkitError(f"`n` must be a positive integer, got {n!r}")
        try:
            k = self._form.labels.encode([label])[0]
        except ValueError as e:
            raise RnnkitError(f"`label`: {message_of(e)}") from None
        rng = np.random.default_rng(seed)
        cond = np.full(n, k, dtype=np.int64)
        seqs = generator_sample(self.model, cond, max_len, rng, temperature, top_k, top_p)
        return [self._form.vocab.decode(s) for s in seqs]
