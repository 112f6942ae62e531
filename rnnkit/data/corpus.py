"""Data preparation: text files -> a vocabulary and a file of ids, read back by memory map.

Preparation is its own step (as nanoGPT's ``prepare.py``): the corpus is read twice in
fixed-size chunks, once to collect the vocabulary and once to write ids of the narrowest
integer type to ``ids.bin``. Neither pass holds the corpus in memory, so a corpus far
larger than RAM prepares and trains with memory at the size of the model.

Files are read as UTF-8. A file that is not valid UTF-8 is refused with its name and the
byte offset of the first bad byte, unless ``errors="replace"`` is asked for; a file with
NUL bytes is refused as binary. That holds for files the user names. Files found by
walking a directory (which may hold extensionless binaries, or a stray Latin-1 file) are
instead skipped with a warning (``RnnkitWarning``), so one of them does not abort the run; a
directory whose every file is skipped is still refused. The check is the first pass
itself (no extra read of the corpus): a file is dropped when that pass hits its first NUL
or bad byte, before any of its characters count.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import json
import os
import sysconfig
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rnnkit.errors import RnnkitError, RnnkitWarning, write_error

from .vocab import Vocab

CHUNK_BYTES = 1 << 22  # 4 MiB per read: bounds memory whatever the file size
TEXT_SUFFIXES = (  # the files a directory is searched for: extensionless ones count as text
    {"", ".txt", ".text", ".md", ".rst", ".tex", ".html", ".xml"}  # prose and markup
    | {".json", ".yaml", ".yml", ".csv", ".tsv"}  # data
    | {".py", ".c", ".h", ".js", ".ts", ".java", ".go", ".rs", ".sh"}  # source code
)
MAX_SKIP_WARNINGS = 20  # skipped files named one per line; beyond this, only a count


class NotTextError(RnnkitError):
    """A file that is binary (holds a NUL byte) or not valid UTF-8.

    Its message is the one-line refusal for a file the user named; ``reason`` is the short
    form used when a file found by walking a directory is skipped instead.
    """

    def __init__(self, message: str, path: Path, reason: str):
        super().__init__(message)
        self.path = path
        self.reason = reason


class FoundFiles(list):
    """The Paths ``find_files`` returns, plus ``walked``: file -> the directory it was found
    under, for the files found by walking (not named by the user). Only those may be
    skipped as binary or not UTF-8 (see ``Skipper``)."""

    def __init__(self, files=(), walked: dict | None = None):
        super().__init__(files)
        self.walked: dict[Path, Path] = dict(walked or {})


class Skipper:
    """What happens to a file that turns out not to be UTF-8 text while it is read.

    A file the user named is refused: ``skip`` re-raises its ``NotTextError``. A file found
    by walking a directory is noted, and ``finish`` (after the pass) warns (``RnnkitWarning``)
    once per skipped file (the first ``MAX_SKIP_WARNINGS``, then a count). The
    warnings wait for ``finish`` because a directory whose every file was skipped is
    refused there instead, with the one-line error alone: training on nothing from it is
    never what was meant.
    """

    def __init__(self, walked: dict[Path, Path] | None = None):
        self.walked = dict(walked or {})
        self.found = Counter(self.walked.values())  # files found per directory
        self.skipped: list[tuple[Path, NotTextError]] = []  # (directory, error), in order

    def skip(self, path: Path, err: NotTextError) -> None:
        where = self.walked.get(path)
        if where is None:
            raise err
        self.skipped.append((where, err))

    def finish(self) -> None:
        per_dir = Counter(where for where, _ in self.skipped)
        for where, k in per_dir.items():
            if k == self.found[where]:
                e = next(e for w, e in self.skipped if w == where)
                raise RnnkitError(
                    f"directory {where} holds no usable text: all {k:,} files found there are "
                    f"binary or not valid UTF-8 (e.g. {e.path}: {e.reason})"
                )
        for _, e in self.skipped[:MAX_SKIP_WARNINGS]:
            warnings.warn(RnnkitWarning(f"skipping {e.path}: {e.reason}"), stacklevel=2)
        n = len(self.skipped)
        if n > MAX_SKIP_WARNINGS:
            warnings.warn(
                RnnkitWarning(
                    f"skipped {n:,} files in all as binary or not UTF-8 "
                    f"({n - MAX_SKIP_WARNINGS:,} not named above)"
                ),
                stacklevel=2,
            )


def default_corpus_files() -> FoundFiles:
    """The running interpreter's standard-library source (.py, tests and site-packages left out)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "tests", "idle_test", "__pycache__"}
    files = [p for p in root.rglob("*.py") if not (skip & set(p.relative_to(root).parts[:-1]))]
    if not files:
        raise RnnkitError(f"no Python source found under {root} for the default corpus; give a text file")
    files.sort()
    return FoundFiles(files, {f: root for f in files})  # found by walking: skippable


def find_files(paths: list[str]) -> FoundFiles:
    """Files named, plus the text files under named directories (sorted, recursive).

    The files under directories are chosen by suffix (extensionless ones included), so
    some may be binary; the result records them in ``walked`` so that reading can skip
    those instead of failing. A file also named explicitly is not skippable.
    """
    out: list[Path] = []
    walked: dict[Path, Path] = {}
    named: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                q
                for q in p.rglob("*")
                if q.is_file()
                and q.suffix.lower() in TEXT_SUFFIXES
                and not any(part.startswith(".") for part in q.relative_to(p).parts)
            )
            if not found:
                raise RnnkitError(
                    f"directory {p} holds no text files ({', '.join(sorted(s for s in TEXT_SUFFIXES if s))})"
                )
            out.extend(found)
            walked.update((q, p) for q in found)
        elif p.is_file():
            out.append(p)
            named.add(p)
        elif p.exists():
            raise RnnkitError(f"{p} is not a regular file or directory")
        else:
            raise RnnkitError(f"no such file or directory: {p}")
    return FoundFiles(out, {q: d for q, d in walked.items() if q not in named})


def iter_text(path: Path, errors: str = "strict", chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """Yield the decoded text of ``path`` in pieces of about ``chunk_bytes`` bytes."""
    dec = codecs.getincrementaldecoder("utf-8")(errors=errors)
    offset = 0
    try:
        f = open(path, "rb")
    except OSError as e:
        raise RnnkitError(f"cannot read {path}: {e.strerror}") from None
    with f:
        first = True
        while True:
            raw = f.read(max(chunk_bytes, 3) if first else chunk_bytes)  # a whole BOM in the first read
            eof = not raw
            if first and raw.startswith(codecs.BOM_UTF8):
                raw, offset = raw[3:], 3
            nul = raw.find(b"\0")
            if nul >= 0:
                at = offset + nul
                raise NotTextError(
                    f"{path} looks like a binary file (NUL byte at offset {at}); give text files",
                    path,
                    f"binary (NUL byte at offset {at})",
                )
            pending = len(dec.getstate()[0])  # bytes of a split character held from the last read
            try:
                text = dec.decode(raw, final=eof)
            except UnicodeDecodeError as e:
                bad = max(offset - pending + e.start, 0)
                raise NotTextError(
                    f"{path} is not valid UTF-8 (byte offset {bad}); "
                    f"convert it, or pass `encoding_errors` replace",
                    path,
                    f"not valid UTF-8 (byte offset {bad})",
                ) from None
            offset += len(raw)
            first = False
            if text:
                yield text
            if eof:
                return


def scan_vocab(files: list[Path], errors: str, skipper: Skipper) -> tuple[Vocab, list[int | None]]:
    """First pass: (vocabulary, characters per file). A file ``skipper`` skips (found by
    walking, binary or not UTF-8) counts None characters and adds nothing to the vocabulary."""
    chars: set[str] = set()
    counts: list[int | None] = []
    for p in files:
        seen: set[str] = set()  # merged only once the whole file has decoded
        n = 0
        try:
            for text in iter_text(p, errors):
                seen.update(text)
                n += len(text)
        except NotTextError as e:
            skipper.skip(p, e)
            counts.append(None)
            continue
        chars |= seen
        counts.append(n)
    skipper.finish()
    return Vocab(sorted(chars)), counts


def encode_files(files: list[Path], vocab: Vocab, out: BinaryIO | np.ndarray, errors: str = "strict") -> int:
    """Second pass: write the ids of ``files``, concatenated, to ``out``: a binary file
    object (written sequentially, so no page of it stays mapped in this process) or an
    array such as a memmap. Returns the count."""
    pos = 0
    for p in files:
        for text in iter_text(p, errors):
            ids = vocab.encode(text, what=str(p))
            if isinstance(out, np.ndarray):
                out[pos : pos + len(ids)] = ids
            else:
                out.write(ids.tobytes())
            pos += len(ids)
    return pos


@dataclass
class Prepared:
    """A prepared corpus on disk: ``ids.bin`` (train then validation) plus ``meta.json``."""

    dir: Path
    vocab: Vocab
    n_train: int
    n_val: int
    dtype: str

    @property
    def path(self) -> Path:
        return self.dir / "ids.bin"

    def ids(self) -> np.ndarray:
        """A fresh read-only memmap of all ids. Callers drop it after use: pages of an
        unmapped memmap no longer count towards this process's memory."""
        return np.memmap(self.path, dtype=self.dtype, mode="r", shape=(self.n_train + self.n_val,))

    def train_ids(self) -> np.ndarray:
        return self.ids()[: self.n_train]

    def val_ids(self) -> np.ndarray:
        return self.ids()[self.n_train :]


@dataclass
class CorpusPlan:
    """The result of the first pass: what preparation will write, known before anything is."""

    files: list
    val_files: list
    vocab: Vocab
    n_train: int
    n_val: int
    errors: str = "strict"


def plan_corpus(
    files: list[Path], val_files: list[Path] | None = None, val_fraction: float = 0.1, errors: str = "strict"
) -> CorpusPlan:
    """First pass over the text: vocabulary, size and split. Reads only; writes nothing.

    Every problem with the input (unreadable, binary, invalid UTF-8, empty) is raised
    here, so a caller can check the plan before it touches any output directory.
    Without ``val_files`` the split is contiguous: the first (1 - val_fraction) of the
    characters train, the rest validate (nanoGPT's split, vocabulary from the whole text).

    Files that ``find_files`` found by walking a directory (``FoundFiles.walked``) and that
    are binary or not UTF-8 are skipped with a warning and left out of the plan.
    """
    walked = {**getattr(files, "walked", {}), **getattr(val_files, "walked", {})}
    files, val_files = list(files), list(val_files or [])
    vocab, counts = scan_vocab(files + val_files, errors, Skipper(walked))
    # Leave the skipped files (count None) out of both lists and of the counts.
    train_counts, val_counts = counts[: len(files)], counts[len(files) :]
    files = [p for p, n in zip(files, train_counts) if n is not None]
    val_files = [p for p, n in zip(val_files, val_counts) if n is not None]
    n_tr_files = sum(n for n in train_counts if n is not None)
    total = n_tr_files + sum(n for n in val_counts if n is not None)
    if total == 0:
        raise RnnkitError(f"the corpus is empty ({', '.join(map(str, (files + val_files)[:3]))})")
    if val_files:
        n_train, n_val = n_tr_files, total - n_tr_files
        if n_train == 0:
            raise RnnkitError(f"the training text is empty ({', '.join(map(str, files[:3]))})")
    else:
        n_train = int(total * (1.0 - val_fraction))  # as nanoGPT: data[:int(n * 0.9)]
        n_val = total - n_train
    return CorpusPlan(files, val_files, vocab, n_train, n_val, errors)


def write_prepared(plan: CorpusPlan, data_dir: Path, log: Callable[[str], None] = print) -> Prepared:
    """Second pass: write ``ids.bin`` (train then validation), ``vocab.json``, ``meta.json``.

    The space for ``ids.bin`` is reserved up front, so a full disk shows at once as an
    ``OSError`` (ENOSPC). The ids are written with plain sequential writes, not through a
    memory map, so the pages written do not count towards this process's resident memory.
    """
    vocab = plan.vocab
    total = plan.n_train + plan.n_val
    dtype = np.dtype(vocab.id_dtype)
    tmp = data_dir / "ids.bin.tmp"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            try:
                os.posix_fallocate(f.fileno(), 0, total * dtype.itemsize)
            except (AttributeError, OSError) as e:  # no fallocate here: the writes extend the file
                if isinstance(e, OSError) and e.errno == errno.ENOSPC:
                    raise
            n = encode_files(plan.files + plan.val_files, vocab, f, plan.errors)
            assert n == total
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, data_dir / "ids.bin")
        meta = {
            "n_train": plan.n_train,
            "n_val": plan.n_val,
            "dtype": dtype.name,
            "files": [str(p) for p in plan.files],
            "val_files": [str(p) for p in plan.val_files],
        }
        (data_dir / "vocab.json").write_text(vocab.to_json(), encoding="utf-8")
        (data_dir / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise write_error(
            e,
            f"the prepared ids to {data_dir}",
            "free space and try again",
            full_what=f"the prepared ids ({total * dtype.itemsize:,} bytes) to {data_dir}",
        ) from None
    log(
        f"prepared {total:,} characters ({plan.n_train:,} train, {plan.n_val:,} validation), "
        f"vocabulary {len(vocab)}, ids as {dtype.name} in {data_dir / 'ids.bin'}"
    )
    return Prepared(data_dir, vocab, plan.n_train, plan.n_val, dtype.name)


def prepare(
    files: list[Path],
    data_dir: Path,
    val_files: list[Path] | None = None,
    val_fraction: float = 0.1,
    errors: str = "strict",
    log: Callable[[str], None] = print,
) -> Prepared:
    """Build the vocabulary over all text and write ids: train first, validation after
    (``plan_corpus`` then ``write_prepared``)."""
    return write_prepared(plan_corpus(files, val_files, val_fraction, errors), data_dir, log)


def scan_ids(data: Prepared) -> tuple[int, str]:
    """-> (the largest id, the SHA-256 of ``ids.bin``), in one pass of plain block reads (not a
    memory map, so the scan leaves this process's resident memory flat)."""
    top, digest = -1, hashlib.sha256()
    try:
        with open(data.path, "rb") as f:
            while block := f.read(1 << 24):
                digest.update(block)
                top = max(top, int(np.frombuffer(block, dtype=data.dtype).max()))
    except OSError as e:
        raise RnnkitError(f"cannot read {data.path}: {e.strerror or e}") from None
    return top, digest.hexdigest()


def load_prepared(data_dir: Path) -> Prepared:
    try:
        meta = json.loads((data_dir / "meta.json").read_text(encoding="utf-8"))
        vocab = Vocab.from_json((data_dir / "vocab.json").read_text(encoding="utf-8"))
        p = Prepared(data_dir, vocab, int(meta["n_train"]), int(meta["n_val"]), str(meta["dtype"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RnnkitError(
            f"prepared data in {data_dir} is unreadable ({e}); delete it to prepare again"
        ) from None
    expected = (p.n_train + p.n_val) * np.dtype(p.dtype).itemsize
    if not p.path.is_file() or p.path.stat().st_size != expected:
        raise RnnkitError(f"{p.path} is missing or has the wrong size; delete {data_dir} to prepare again")
    return p


def read_text_file(path: str | Path, errors: str = "strict") -> str:
    """Whole file as text, with the same checks as preparation (for eval and prediction
    inputs). Given a directory, its files are joined, skipping binary or non-UTF-8 ones
    as preparation does (``iter_text_file``'s pieces, joined)."""
    return "".join(iter_text_file(path, errors))


def iter_text_file(path: str | Path, errors: str = "strict", chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """Yield the text of ``path`` (a file, or a directory's files joined) in pieces of about
    ``chunk_bytes`` bytes, so a text of any size is read with memory of one piece.

    Files found by walking a directory are checked in a first pass (read, not kept), so
    one that turns out binary or not UTF-8 is skipped, with a warning, before any of its
    text is yielded: it is left out whole. A named file is read once; a bad byte in it
    raises the one-line error (``NotTextError``) when the reading reaches it.
    """
    files = find_files([str(path)])
    skipper = Skipper(files.walked)
    keep = []
    for f in files:
        if f in files.walked:
            try:
                for _ in iter_text(f, errors, chunk_bytes):
                    pass
            except NotTextError as e:
                skipper.skip(f, e)
                continue
        keep.append(f)
    skipper.finish()
    for f in keep:
        yield from iter_text(f, errors, chunk_bytes)
