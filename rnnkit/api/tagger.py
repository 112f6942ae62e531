"""``rnnkit.Tagger``: synchronous many-to-many, the form of ``rnnkit tag``.

p(tag_t | c_1..c_t) = softmax(W_hy h_t)     (with ``bidirectional``, h_t reads the whole text)
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.errors import RnnkitError

from .task_model import TaskModel, pairs_of

Tags = str | Sequence[str]


class Tagger(TaskModel):
    """One tag per character: ``fit(texts, tags)``, where ``tags[i]`` is as long as ``texts[i]``,
    a string of one-character tags or a list of them; ``evaluate(texts, tags)`` -> ``rnnkit tag
    eval --json`` 's dict, with ``accuracy`` per character.

    >>> texts, tags = ["abab", "bbaa", "abba", "baab"] * 30, ["xyxy", "yyxx", "xyyx", "yxxy"] * 30
    >>> tagger = Tagger(hidden=16).fit(texts, tags, max_steps=150, progress=False, verbose=False)
    >>> tagger.predict(["aabb", "bab"])
    [['x', 'x', 'y', 'y'], ['y', 'x', 'y']]
    """

    verb, fields = "tag", ("texts", "tags")

    def _pairs(self, texts: Sequence[str], tags: Sequence[Tags]):
        pairs = pairs_of(texts, [_tag_string(t, i) for i, t in enumerate(tags)], self.fields)
        for i, (text, tag) in enumerate(pairs):
            if isinstance(text, str) and len(text) != len(tag):
                raise RnnkitError(
                    f"`tags`[{i}] has {len(tag)} tags for the {len(text)} characters of `texts`[{i}]"
                )
        return pairs

    def predict(self, texts: Sequence[str]) -> list[list[str]]:
        """The most probable tag of each character of each text."""
        self._ready()
        return [list(t) for t in self._form.predict_tags(self.model, list(texts))]


def _tag_string(tags: Tags, i: int) -> str:
    """A text's tags as the TSV holds them: one character each."""
    if isinstance(tags, str):
        return tags
    tags = list(tags)
    if not all(isinstance(t, str) and len(t) == 1 for t in tags):
        raise RnnkitError(f"`tags`[{i}] must be a string or a list of one-character strings")
    return "".join(tags)
