"""``rnnkit.Seq2Seq``: the encoder-decoder form of ``rnnkit seq2seq``.

encoder:  h_S = RNN_enc(source);   decoder: s_0 = h_S,  s_t = tanh(W_s [s_{t-1}; y_{t-1}])
p(y_t | y_<t, source) = softmax(W_hy s_t)      (greedy or beam-search decoding)
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.errors import RnnkitError
from rnnkit.train.forms import join_tokens
from rnnkit.train.task_config import TaskTrainConfig

from .base import settings_signature
from .task_model import BACKBONE, TaskModel


class Seq2Seq(TaskModel):
    """Maps a source sequence to a target sequence, read as characters or, with
    ``source_tokens`` / ``target_tokens`` = ``"words"``, as whitespace-separated tokens.

    >>> s2s = Seq2Seq(hidden=32).fit(["ab", "ba", "aab", "abb"] * 40, ["AB", "BA", "AAB", "ABB"] * 40,
    ...                              max_steps=200, progress=False, verbose=False)
    >>> s2s.predict(["ab", "aab"])
    ['AB', 'AAB']
    """

    verb, fields = "seq2seq", ("sources", "targets")

    # The backbone's settings, then how sources and targets are read and decoded.
    __signature__ = settings_signature(
        TaskTrainConfig, (*BACKBONE, "source_tokens", "target_tokens", "max_len")
    )

    def predict(self, sources: Sequence[str], beam: int = 1, max_len: int | None = None) -> list[str]:
        """The decoded target of each source: greedy, or beam search keeping ``beam``
        hypotheses; at most ``max_len`` tokens (default: the training ``max_len``)."""
        self._ready()
        _check_beam(beam)
        if max_len is not None and (isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1):
            raise RnnkitError(f"`max_len` must be a positive integer, got {max_len!r}")
        sources = list(sources)
        encoded = self._form.encode_sources(sources)
        for i, s in enumerate(encoded):
            if not s:
                raise RnnkitError(f"`sources`[{i}] holds no tokens")
        hyps = self._form.decode(self.model, encoded, beam, max_len)
        return [join_tokens(h, self._form.cfg.target_tokens) for h in hyps]

    def evaluate(self, sources: Sequence[str], targets: Sequence[str], beam: int = 1) -> dict:
        """``rnnkit seq2seq eval --json`` 's dict (``exact_match``, ``token_error_rate``, ...)."""
        _check_beam(beam)
        return super().evaluate(sources, targets, beam=beam)


def _check_beam(beam: int) -> None:
    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise RnnkitError(f"`beam` must be a positive integer (1 is greedy), got {beam!r}")
