"""TSV readers, vocabularies and batching for the task models."""

import json
import warnings

import numpy as np
import pytest

from rnnkit.data.padding import minibatches, pad_batch, resolve_mask, teacher_forcing
from rnnkit.data.token_vocab import BOS, EOS, PAD, UNK, LabelSet, TokenVocab
from rnnkit.data.tsv import read_label_text, read_source_target, read_text_label, read_text_tags
from rnnkit.errors import RnnkitWarning


def write(tmp_path, data: bytes, name="d.tsv"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_readers_parse_all_four_formats(tmp_path):
    p = write(tmp_path, "héllo\tfr\nworld\ten\n".encode())
    assert read_text_label(p) == (["héllo", "world"], ["fr", "en"])
    assert read_label_text(write(tmp_path, b"en\tcat\n")) == (["en"], ["cat"])
    assert read_source_target(write(tmp_path, b"cat\tK AE T\n")) == (["cat"], ["K AE T"])
    assert read_text_tags(write(tmp_path, b"abc\t010\n")) == (["abc"], ["010"])


def test_crlf_bom_blank_lines_and_spaces_kept(tmp_path):
    p = write(tmp_path, "\ufeffa b\tx\r\n\r\n\nc\ty \r\n".encode())
    assert read_text_label(p) == (["a b", "c"], ["x", "y "])


def test_wrong_field_count_names_file_and_line(tmp_path):
    p = write(tmp_path, b"ok\tA\n\nno tab here\n")
    with pytest.raises(
        ValueError, match=r"d\.tsv:3: expected 2 tab-separated fields \(text<TAB>label\), found 1"
    ):
        read_text_label(p)
    p = write(tmp_path, b"a\tb\tc\n", "three.tsv")
    with pytest.raises(ValueError, match=r"three\.tsv:1: .*found 3"):
        read_source_target(p)


def test_empty_field_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r":2: the label field is empty"):
        read_text_label(write(tmp_path, b"a\tb\nc\t\n"))


def test_tag_length_mismatch_names_line(tmp_path):
    with pytest.raises(ValueError, match=r"d\.tsv:2: .*text has 3 characters, tags has 2"):
        read_text_tags(write(tmp_path, "ab\t01\nabé\t01\n".encode()))


def test_invalid_utf8_names_file_and_byte_offset(tmp_path):
    # bytes: a b TAB c LF x y TAB 0xff -> the bad byte is at offset 8
    with pytest.raises(ValueError, match=r"bad\.tsv: invalid UTF-8 at byte offset 8 \(line 2\)"):
        read_text_label(write(tmp_path, b"ab\tc\nxy\t\xff\n", "bad.tsv"))


def test_token_vocab_specials_unknowns_and_round_trip():
    v = TokenVocab.build(["abc", "cab"])
    assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3) and len(v) == 7
    assert v.encode("caz", bos=True, eos=True) == [BOS, 6, 4, UNK, EOS]
    assert v.decode([BOS, 4, 5, EOS, 6]) == "ab"  # stops at EOS
    phon = TokenVocab.build([["K", "AE", "T"]])
    assert phon.decode(phon.encode(["K", "AE"]), sep=" ") == "K AE"
    saved = json.loads(json.dumps(v.to_dict()))  # as a checkpoint's JSON holds it
    assert TokenVocab.from_dict(saved).itos == v.itos
    with pytest.raises(ValueError, match="reserved"):
        TokenVocab(["<pad>"])


def test_label_set_unknown_label_is_a_clear_error():
    ls = LabelSet.build(["fr", "en", "fr"])
    assert ls.encode(["fr"]) == [1] and ls.decode([0]) == ["en"]
    with pytest.raises(ValueError, match="unknown label 'de'"):
        ls.encode(["de"])


def test_pad_batch_and_teacher_forcing():
    ids, lengths, mask = pad_batch([[4, 5, 6], [7]])
    assert ids.tolist() == [[4, 7], [5, PAD], [6, PAD]]
    assert lengths.tolist() == [3, 1]
    assert mask.tolist() == [[1, 1], [1, 0], [1, 0]]
    dec_in, dec_out, m = teacher_forcing([[4, 5], []])
    assert dec_in.tolist() == [[BOS, BOS], [4, PAD], [5, PAD]]
    assert dec_out.tolist() == [[4, EOS], [5, PAD], [EOS, PAD]]
    assert m.sum(axis=0).tolist() == [3, 1]
    with pytest.raises(ValueError, match="not both"):
        resolve_mask(3, 2, mask, lengths)


def test_minibatches_cover_once_and_are_deterministic():
    a = list(minibatches(10, 4, np.random.default_rng(5)))
    b = list(minibatches(10, 4, np.random.default_rng(5)))
    assert [x.tolist() for x in a] == [x.tolist() for x in b]
    assert sorted(np.concatenate(a).tolist()) == list(range(10))
    assert [len(x) for x in a] == [4, 4, 2]
    assert [len(x) for x in minibatches(10, 4, None, drop_last=True)] == [4, 4]
    c = list(minibatches(10, 4, np.random.default_rng(6)))
    assert [x.tolist() for x in a] != [x.tolist() for x in c]


@pytest.mark.parametrize(
    "reader,header,row,expected",
    [
        (read_text_label, "text\tlabel", "abc\tA", (["abc"], ["A"])),
        (read_text_label, "Label\tText", "abc\tA", (["abc"], ["A"])),  # any order, any case
        (read_label_text, "label\ttext", "A\tabc", (["A"], ["abc"])),
        (read_source_target, "SOURCE\t target ", "cat\tK AE T", (["cat"], ["K AE T"])),
        (read_text_tags, "text\ttags", "abc\t010", (["abc"], ["010"])),  # 4 and 4 characters
    ],
)
def test_a_header_line_is_skipped_with_a_warning(tmp_path, reader, header, row, expected):
    p = write(tmp_path, f"\n{header}\r\n{row}\n".encode())
    with pytest.warns(RnnkitWarning, match=r"d\.tsv:2: skipped a header line"):
        assert reader(p) == expected


def test_only_the_first_line_can_be_a_header(tmp_path):
    p = write(tmp_path, b"abc\tA\ntext\tlabel\n")  # a header-like line after data is data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_text_label(p) == (["abc", "text"], ["A", "label"])
        # column names that differ from the set, or a name twice, are data too
        assert read_text_label(write(tmp_path, b"the text\tlabel\n")) == (["the text"], ["label"])
        assert read_text_label(write(tmp_path, b"text\ttext\n")) == (["text"], ["text"])
