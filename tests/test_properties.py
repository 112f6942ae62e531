"""Issue 4, item 7: property tests (hypothesis).

- encode -> decode round-trips any Unicode text over the vocabulary, and text outside it
  is a ``RnnkitError`` naming the characters, never a KeyError;
- the TBPTT batcher visits every one of the B*L predicted positions exactly once per
  epoch, in order within each stream, with inputs one position behind targets;
- the UTF-8 reader names the exact byte offset of the first invalid byte, however the
  file is cut into read chunks;
- the TSV readers never crash on arbitrary bytes: they parse, or raise the clear
  ``ValueError`` that names the file.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rnnkit.data.batcher import StreamBatcher
from rnnkit.data.corpus import iter_text
from rnnkit.data.vocab import Vocab
from rnnkit.errors import RnnkitError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Any code point except surrogates (which are not characters and cannot be UTF-8 encoded).
chars = st.characters(blacklist_categories=("Cs",))


@FAST
@given(st.text(chars, min_size=1), st.data())
def test_encode_decode_round_trip(corpus, data):
    v = Vocab.from_text(corpus)
    text = data.draw(st.text(st.sampled_from(sorted(set(corpus)))))
    ids = v.encode(text)
    assert ids.dtype == v.id_dtype and v.decode(ids) == text
    assert all(0 <= i < len(v) for i in ids)
    assert Vocab.from_json(v.to_json()).chars == v.chars  # the saved form too


@FAST
@given(st.text(chars, min_size=1), chars)
def test_unknown_characters_are_a_clear_error(corpus, c):
    assume(c not in corpus)
    v = Vocab.from_text(corpus)
    with pytest.raises(RnnkitError, match=f"U\\+{ord(c):04X}"):
        v.encode(corpus + c)


@FAST
@given(n=st.integers(2, 600), B=st.integers(1, 24), T=st.integers(1, 70))
def test_batcher_visits_every_position_once_in_order(n, B, T):
    assume((n - 1) // B >= 1)
    ids = np.arange(n, dtype=np.int64)  # id == position
    b = StreamBatcher(n, B, T)
    seen = [[] for _ in range(B)]
    for k in range(b.chunks_per_epoch):
        x, y = b.chunk(ids, k)  # (T', B)
        assert x.shape == y.shape and 1 <= x.shape[0] <= T and x.shape[1] == B
        assert np.array_equal(y, x + 1)  # target = next character
        for s in range(B):
            seen[s].extend(y[:, s].tolist())
    L = b.L
    assert L == (n - 1) // B
    for s in range(B):  # stream s: contiguous, in order
        assert seen[s] == list(range(s * L + 1, (s + 1) * L + 1))
    flat = [p for col in seen for p in col]
    assert len(flat) == len(set(flat)) == B * L  # each exactly once


@FAST
@given(st.integers(2, 400), st.integers(1, 8), st.integers(1, 20), st.integers(1, 5), st.integers(0, 3))
def test_rotated_epochs_still_visit_every_position_once(n, B, T, epoch, seed):
    """--rotate-epochs: epoch e reads every stream r_e further on, wrapping around the B*L
    positions; each position is still read once per epoch, targets are still the next
    character, epoch 0 is the plain layout, and r_e is a function of (seed, e) alone."""
    assume((n - 1) // B >= 1)
    ids = np.arange(n, dtype=np.int64)  # id == position
    plain, rot = StreamBatcher(n, B, T), StreamBatcher(n, B, T, rotate=True, seed=seed)
    r = rot.rotation(epoch)
    assert 0 <= r < rot.L and r == StreamBatcher(n, B, T, rotate=True, seed=seed).rotation(epoch)
    xs = []
    for k in range(rot.chunks_per_epoch):
        x0, _ = plain.chunk(ids, k)
        x, y = rot.chunk(ids, k, epoch)
        assert np.array_equal(y, x + 1)
        assert np.array_equal(x, (x0 + r) % (B * rot.L))  # the plain layout, r further on
        assert np.array_equal(rot.chunk(ids, k, 0)[0], x0)  # epoch 0: unrotated
        xs.extend(x.ravel().tolist())
    assert sorted(xs) == list(range(B * rot.L))  # each position once


def test_rotated_epochs_differ_between_epochs():
    b = StreamBatcher(100_000, 32, 64, rotate=True, seed=1337)
    assert len({b.rotation(e) for e in range(1, 11)}) > 5  # a new offset (almost) every epoch
    assert StreamBatcher(100_000, 32, 64).rotation(3) == 0  # off by default


@FAST
@given(
    text=st.text(chars, max_size=60),
    pos=st.integers(0, 10_000),
    bad=st.sampled_from([b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80"]),
    chunk=st.integers(1, 17),
    bom=st.booleans(),
)
def test_utf8_reader_reports_the_exact_byte_offset(tmp_path, text, pos, bad, chunk, bom):
    text = text.replace("\0", "")
    good = text.encode("utf-8")
    cut = len(text[: pos % (len(text) + 1)].encode("utf-8"))  # a character boundary
    head = (b"\xef\xbb\xbf" if bom else b"") + good[:cut]
    f = tmp_path / "t.txt"
    f.write_bytes(head + bad + good[cut:])
    with pytest.raises(RnnkitError, match=f"byte offset {len(head)}\\)"):
        "".join(iter_text(f, chunk_bytes=chunk))
    replaced = "".join(iter_text(f, "replace", chunk))
    assert replaced.startswith(text[: pos % (len(text) + 1)]) and "\ufffd" in replaced
    f.write_bytes(head + good[cut:])
    assert "".join(iter_text(f, chunk_bytes=chunk)) == text


tsv = pytest.importorskip("rnnkit.data.tsv")
READERS = [tsv.read_text_label, tsv.read_label_text, tsv.read_source_target, tsv.read_text_tags]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    raw=st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.sampled_from(
                [b"a", b"\t", b"\n", b"\r\n", b"\xc3\xa9", b"\xff", b"\xef\xbb\xbf", b" ", b"\x00", b"ab"]
            ),
            max_size=60,
        ).map(b"".join),
    )
)
def test_tsv_readers_never_crash_on_arbitrary_bytes(tmp_path, raw):
    f = tmp_path / "data.tsv"
    f.write_bytes(raw)
    for read in READERS:
        try:
            a, b = read(f)
        except ValueError as e:
            assert str(f) in str(e) and "\n" not in str(e)  # one line, naming the file
            continue
        assert len(a) == len(b) and all(isinstance(s, str) and s for s in a + b)
        if read is tsv.read_text_tags:
            assert all(len(t) == len(g) for t, g in zip(a, b))


@FAST
@given(
    rows=st.lists(
        st.tuples(
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\n\r"), min_size=1),
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\n\r"), min_size=1),
        ),
        max_size=10,
    )
)
def test_tsv_readers_parse_what_they_should(tmp_path, rows):
    assume(not any(a.startswith("\ufeff") for a, _ in rows[:1]))
    f = tmp_path / "ok.tsv"
    f.write_bytes("".join(f"{a}\t{b}\n" for a, b in rows).encode("utf-8"))
    assert tsv.read_text_label(f) == ([a for a, _ in rows], [b for _, b in rows])
