"""Character vocabulary: the sorted Unicode code points of a corpus.

id(c) is the rank of c among the corpus's distinct code points, so the vocabulary is a
deterministic function of the text: any script, emoji and mixed text included. It is
saved as ``vocab.json`` (``{"chars": [...]}``) next to the model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import numpy as np

from rnnkit.errors import RnnkitError


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
    def from_text(cls, text: str) -> Vocab:
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def id_dtype(self) -> type[np.unsignedinteger]:
        """The narrowest unsigned integer type that holds every id."""
        n = len(self.chars)
        return np.uint8 if n <= 2**8 else np.uint16 if n <= 2**16 else np.uint32

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` that the vocabulary lacks, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def _lookup(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, known): each character's rank among the vocabulary's code points, and
        whether it is in the vocabulary (where not, its id means nothing)."""
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        ids = np.searchsorted(self._codes, codes)
        ok = (ids < len(self._codes)) & (self._codes[np.minimum(ids, len(self._codes) - 1)] == codes)
        return ids, ok

    @staticmethod
    def unknown_error(bad: list[str], what: str, hint: str = "") -> RnnkitError:
        """The one-line refusal of the characters ``bad`` (first five named, the rest counted),
        ending with ``hint``."""
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        return RnnkitError(
            f"{what} has characters that are not in the model's vocabulary: {shown}{more}{hint}"
        )

    def encode(self, text: str, what: str = "text") -> np.ndarray:
        """str -> ids (N,): ``encode_pieces`` of the one piece. Characters outside the vocabulary
        raise a ``RnnkitError`` naming them."""
        return next(self.encode_pieces([text], what))

    def encode_pieces(
        self, pieces: Iterable[str], what: str = "text", hint: str = ""
    ) -> Iterator[np.ndarray]:
        """Yield ``encode`` of each text piece: a long text encoded without holding it whole.

        Where a piece has characters outside the vocabulary, nothing more is yielded; the
        remaining pieces are only read to gather every unknown character, so the error is
        the one ``encode`` raises for all the pieces joined (``hint`` appended to it).
        """
        pieces = iter(pieces)
        for text in pieces:
            ids, ok = self._lookup(text)
            if ok.all():
                yield ids.astype(self.id_dtype)
                continue
            bad = dict.fromkeys(self.unknown(text))
            for more in pieces:
                if not self._lookup(more)[1].all():  # the slow per-character scan only where needed
                    bad.update(dict.fromkeys(self.unknown(more)))
            raise self.unknown_error(list(bad), what, hint)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> str:
        return json.dumps({"chars": self.chars}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        obj = json.loads(text)
        if (
            not isinstance(obj, dict)
            or not isinstance(obj.get("chars"), list)
            or not all(isinstance(c, str) for c in obj["chars"])
        ):
            raise ValueError('vocab.json must hold {"chars": [single characters]}')
        return cls(obj["chars"])


class KnownIds:
    """The ids of the text ``pieces``' characters that ``vocab`` holds, one array per piece;
    a character outside it is dropped, as if absent from the text, and counted in ``skipped``
    (complete once iterated).

    >>> known = KnownIds(Vocab.from_text("hello"), ["he%l", "lo!"])
    >>> [a.tolist() for a in known], known.skipped
    ([[1, 0, 2], [2, 3]], 2)
    """

    def __init__(self, vocab: Vocab, pieces):
        self.vocab, self.pieces = vocab, pieces
        self.skipped = 0

    def __iter__(self):
        for text in self.pieces:
            ids, known = self.vocab._lookup(text)
            self.skipped += len(known) - int(known.sum())
            yield ids[known].astype(self.vocab.id_dtype)
