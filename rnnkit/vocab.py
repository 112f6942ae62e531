"""Character vocabulary: the sorted Unicode code points of a corpus.

id(c) is the rank of c among the corpus's distinct code points, so the vocabulary is a
deterministic function of the text: any script, emoji and mixed text included. It is
saved as ``vocab.json`` (``{"chars": [...]}``) next to the model.
"""
from __future__ import annotations

import json

import numpy as np

from .errors import UserError


class Vocab:
    """chars: the distinct characters, sorted by code point.

    >>> v = Vocab.from_text("hello")
    >>> v.encode("hole").tolist(), v.decode([3, 2])
    ([1, 3, 2, 0], 'ol')
    """

    def __init__(self, chars):
        chars = list(chars)
        if sorted(set(chars)) != chars:
            raise ValueError("vocabulary must be distinct characters sorted by code point")
        if any(len(c) != 1 for c in chars):
            raise ValueError("vocabulary entries must be single characters")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self._codes = np.array([ord(c) for c in chars], dtype=np.uint32)  # sorted, for searchsorted

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def id_dtype(self):
        """The narrowest unsigned integer type that holds every id."""
        n = len(self.chars)
        return np.uint8 if n <= 2 ** 8 else np.uint16 if n <= 2 ** 16 else np.uint32

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` that the vocabulary lacks, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def encode(self, text: str, what: str = "text") -> np.ndarray:
        """str -> ids (N,). Characters outside the vocabulary raise a ``UserError`` naming them."""
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        ids = np.searchsorted(self._codes, codes)
        ok = (ids < len(self._codes)) & (self._codes[np.minimum(ids, len(self._codes) - 1)] == codes)
        if not ok.all():
            bad = self.unknown(text)
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            raise UserError(f"{what} has characters that are not in the model's vocabulary: {shown}{more}")
        return ids.astype(self.id_dtype)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> str:
        return json.dumps({"chars": self.chars}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Vocab":
        obj = json.loads(text)
        if not isinstance(obj, dict) or not isinstance(obj.get("chars"), list) \
                or not all(isinstance(c, str) for c in obj["chars"]):
            raise ValueError("vocab.json must hold {\"chars\": [single characters]}")
        return cls(obj["chars"])
