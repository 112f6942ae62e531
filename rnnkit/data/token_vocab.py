"""Vocabularies for the task models: tokens with reserved specials, and label sets.

``TokenVocab`` maps tokens to ids with four reserved ids at the front:

    PAD = 0   padding of a batch (never a target: masked out)
    BOS = 1   "begin": the decoder's first input under teacher forcing
    EOS = 2   "end": the last target; generation stops when it is produced
    UNK = 3   any token the vocabulary lacks (no KeyError on unseen characters)

Tokens are single characters for text (``encode("héllo")`` iterates the string) or whole
strings for token sequences (``encode(["HH", "AH", "L", "OW"])``, phonemes). Every task
vocabulary keeps all four specials, even where a model does not need BOS or EOS (a
classifier): one layout everywhere, and an unused id costs one column.

``LabelSet`` maps class labels (or per-character tags) to 0..K-1, without specials.

(``rnnkit/data/vocab.py`` is the language model's vocabulary: plain sorted characters, no
specials. The task models need PAD/BOS/EOS/UNK, hence this separate class.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


class TokenVocab:
    """tokens: the non-special tokens, in id order (ids start at 4).

    >>> v = TokenVocab.build(["abba", "cab"])
    >>> v.encode("cabz"), v.decode(v.encode("cab") + [EOS, PAD])
    ([6, 4, 5, 3], 'cab')
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be distinct")
        clash = [t for t in tokens if t in SPECIALS]
        if clash:
            raise ValueError(f"tokens {clash} are reserved special tokens")
        if any(not isinstance(t, str) or t == "" for t in tokens):
            raise ValueError("vocabulary tokens must be non-empty strings")
        self.tokens = tokens
        self.itos = list(SPECIALS) + tokens
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], min_count: int = 1) -> TokenVocab:
        """Tokens seen at least ``min_count`` times, sorted (by code point for characters)."""
        counts = Counter()
        for seq in sequences:
            counts.update(seq)
        return cls(sorted(t for t, n in counts.items() if n >= min_count))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, seq: Iterable[str], bos: bool = False, eos: bool = False) -> list[int]:
        """Tokens -> ids; unknown tokens become UNK. Optional BOS in front, EOS at the end."""
        ids = [self.stoi.get(t, UNK) for t in seq]
        return ([BOS] if bos else []) + ids + ([EOS] if eos else [])

    def decode(self, ids: Iterable[int], sep: str = "", stop_at_eos: bool = True) -> str:
        """ids -> string. PAD and BOS are dropped; decoding stops at the first EOS."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS and stop_at_eos:
                break
            if i in (PAD, BOS):
                continue
            out.append(self.itos[i])
        return sep.join(out)

    def to_dict(self) -> dict:
        return {"specials": list(SPECIALS), "tokens": self.tokens}

    @classmethod
    def from_dict(cls, obj: object) -> TokenVocab:
        if not isinstance(obj, dict) or not isinstance(obj.get("tokens"), list):
            raise ValueError('a task vocabulary must be {"specials": [...], "tokens": [...]}')
        if obj.get("specials", list(SPECIALS)) != list(SPECIALS):
            raise ValueError(f"vocabulary specials {obj.get('specials')} differ from {list(SPECIALS)}")
        return cls(obj["tokens"])


class LabelSet:
    """Class labels (or tag characters) <-> 0..K-1, sorted for determinism.

    >>> labels = LabelSet.build(["fr", "en", "fr"])
    >>> labels.encode(["en", "fr"]), labels.decode([1, 0])
    ([0, 1], ['fr', 'en'])
    """

    def __init__(self, labels: Sequence[str]):
        labels = list(labels)
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be distinct")
        if not labels:
            raise ValueError("a label set needs at least one label")
        self.labels = labels
        self.index = {l: i for i, l in enumerate(labels)}

    @classmethod
    def build(cls, labels: Iterable[str]) -> LabelSet:
        return cls(sorted(set(labels)))

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, labels: Iterable[str], what: str = "label") -> list[int]:
        """Unknown labels raise a ValueError naming them (a label cannot be guessed)."""
        out = []
        for l in labels:
            if l not in self.index:
                shown = ", ".join(repr(x) for x in self.labels[:10])
                raise ValueError(
                    f"unknown {what} {l!r}; known: {shown}{' ...' if len(self.labels) > 10 else ''}"
                )
            out.append(self.index[l])
        return out

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.labels[int(i)] for i in ids]

    def to_dict(self) -> dict:
        return {"labels": self.labels}

    @classmethod
    def from_dict(cls, obj: object) -> LabelSet:
        if not isinstance(obj, dict) or not isinstance(obj.get("labels"), list):
            raise ValueError('a label set must be {"labels": [...]}')
        return cls(obj["labels"])
