"""``rnnkit.Generator``: one-to-many, the form of ``rnnkit generate``.

s_0 = 0,  s_1 = tanh(W_s [s_0; e(label)]),   then each step's input is the previous
character (``autoregressive``, a language model per label) or a zero vector (the lecture's
one-to-many), and p(c_t | label, c_<t) = softmax(W_hy s_t), until the end marker.
"""

from __future__ import annotations

from rnnkit.decode.sampler import Sampling
from rnnkit.train.task_config import TaskTrainConfig

from .base import settings_signature
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

    # No `bidirectional` (a generator reads only its label), and the label's embedding before
    # `dropout`, where positional arguments have always taken it.
    __signature__ = settings_signature(
        TaskTrainConfig, ("hidden", "layers", "embed", "cond_embed", "dropout", "autoregressive")
    )

    def sample(
        self,
        label: str,
        n: int = 10,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        max_len: int = 40,
        prime: str = "",
        beam: int = 0,
    ) -> list[str]:
        """``n`` texts for ``label``, each ``prime`` and at most ``max_len`` characters after it
        (a prime needs the autoregressive form); ``temperature`` 0 takes the most likely
        character at each step; ``beam`` > 0 returns the ``n`` most likely texts a beam search
        found, best first. ``rnnkit generate sample`` prints the same for the same settings."""
        self._ready()
        sampling = Sampling(temperature, top_k, top_p, beam=beam, seed=seed)
        return self._form.sample(self.model, label, n, max_len, sampling, prime)
