"""Data preparation: text files -> a vocabulary and a file of ids, read back by memory map.

Preparation is its own step (as nanoGPT's ``prepare.py``): the corpus is read twice in
fixed-size chunks, once to collect the vocabulary and once to write ids of the narrowest
integer type to ``ids.bin``. Neither pass holds the corpus in memory, so a corpus far
larger than RAM prepares and trains with memory at the size of the model.

Files are read as UTF-8. A file that is not valid UTF-8 is refused with its name and the
byte offset of the first bad byte, unless ``errors="replace"`` is asked for; a file with
NUL bytes is refused as binary.
"""
from __future__ import annotations

import codecs
import errno
import json
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .vocab import Vocab

CHUNK_BYTES = 1 << 22          # 4 MiB per read: bounds memory whatever the file size
TEXT_SUFFIXES = {".txt", ".md", ".rst", ".py", ".text", ".tsv", ".csv", ".json", ".html", ".xml",
                 ".tex", ".c", ".h", ".js", ".ts", ".java", ".go", ".rs", ".sh", ".yaml", ".yml", ""}


def default_corpus_files() -> list[Path]:
    """The running interpreter's standard-library source (.py, tests and site-packages left out)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "tests", "idle_test", "__pycache__"}
    files = [p for p in root.rglob("*.py") if not (skip & set(p.relative_to(root).parts[:-1]))]
    if not files:
        raise UserError(f"no Python source found under {root} for the default corpus; give a text file")
    return sorted(files)


def find_files(paths: list[str]) -> list[Path]:
    """Files named, plus the text files under named directories (sorted, recursive)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in TEXT_SUFFIXES
                           and not any(part.startswith(".") for part in q.relative_to(p).parts))
            if not found:
                raise UserError(f"directory {p} holds no text files ({', '.join(sorted(s for s in TEXT_SUFFIXES if s))})")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        elif p.exists():
            raise UserError(f"{p} is not a regular file or directory")
        else:
            raise UserError(f"no such file or directory: {p}")
    return out


def iter_text(path: Path, errors: str = "strict", chunk_bytes: int = CHUNK_BYTES):
    """Yield the decoded text of ``path`` in pieces of about ``chunk_bytes`` bytes."""
    dec = codecs.getincrementaldecoder("utf-8")(errors=errors)
    offset = 0
    try:
        f = open(path, "rb")
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
    with f:
        first = True
        while True:
            raw = f.read(max(chunk_bytes, 3) if first else chunk_bytes)   # a whole BOM in the first read
            eof = not raw
            if first and raw.startswith(codecs.BOM_UTF8):
                raw, offset = raw[3:], 3
            nul = raw.find(b"\0")
            if nul >= 0:
                raise UserError(f"{path} looks like a binary file (NUL byte at offset {offset + nul}); give text files")
            pending = len(dec.getstate()[0])  # bytes of a split character held from the last read
            try:
                text = dec.decode(raw, final=eof)
            except UnicodeDecodeError as e:
                bad = offset - pending + e.start
                raise UserError(f"{path} is not valid UTF-8 (byte offset {max(bad, 0)}); "
                                f"convert it, or pass --encoding-errors replace") from None
            offset += len(raw)
            first = False
            if text:
                yield text
            if eof:
                return


def scan_vocab(files: list[Path], errors: str = "strict") -> tuple[Vocab, int, list[int]]:
    """First pass: (vocabulary, total characters, characters per file)."""
    chars: set[str] = set()
    counts = []
    for p in files:
        n = 0
        for text in iter_text(p, errors):
            chars.update(text)
            n += len(text)
        counts.append(n)
    return Vocab(sorted(chars)), sum(counts), counts


def encode_files(files: list[Path], vocab: Vocab, out, errors: str = "strict") -> int:
    """Second pass: write the ids of ``files``, concatenated, to ``out``: a binary file
    object (written sequentially, so no page of it stays mapped in this process) or an
    array such as a memmap. Returns the count."""
    pos = 0
    for p in files:
        for text in iter_text(p, errors):
            ids = vocab.encode(text, what=str(p))
            if isinstance(out, np.ndarray):
                out[pos:pos + len(ids)] = ids
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
        return self.ids()[:self.n_train]

    def val_ids(self) -> np.ndarray:
        return self.ids()[self.n_train:]


@dataclass
class CorpusPlan:
    """The result of the first pass: what preparation will write, known before anything is."""
    files: list
    val_files: list
    vocab: Vocab
    n_train: int
    n_val: int
    errors: str = "strict"


def plan_corpus(files: list[Path], val_files: list[Path] | None = None, val_fraction: float = 0.1,
                errors: str = "strict") -> CorpusPlan:
    """First pass over the text: vocabulary, size and split. Reads only; writes nothing.

    Every problem with the input (unreadable, binary, invalid UTF-8, empty) is raised
    here, so a caller can check the plan before it touches any output directory.
    Without ``val_files`` the split is contiguous: the first (1 - val_fraction) of the
    characters train, the rest validate (nanoGPT's split, vocabulary from the whole text).
    """
    all_files = list(files) + list(val_files or [])
    vocab, total, counts = scan_vocab(all_files, errors)
    if total == 0:
        raise UserError(f"the corpus is empty ({', '.join(map(str, all_files[:3]))})")
    n_tr_files = sum(counts[:len(files)])
    if val_files:
        n_train, n_val = n_tr_files, total - n_tr_files
        if n_train == 0:
            raise UserError(f"the training text is empty ({', '.join(map(str, list(files)[:3]))})")
    else:
        n_train = int(total * (1.0 - val_fraction))   # as nanoGPT: data[:int(n * 0.9)]
        n_val = total - n_train
    return CorpusPlan(list(files), list(val_files or []), vocab, n_train, n_val, errors)


def write_prepared(plan: CorpusPlan, data_dir: Path, log=print) -> Prepared:
    """Second pass: write ``ids.bin`` (train then validation), ``vocab.json``, ``meta.json``.

    The space for ``ids.bin`` is reserved up front, so a full disk shows at once as an
    ``OSError`` (ENOSPC). The ids are written with plain sequential writes, not through a
    memory map, so the pages written do not count towards this process's resident memory.
    """
    vocab = plan.vocab
    total = plan.n_train + plan.n_val
    all_files = plan.files + plan.val_files
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
            n = encode_files(all_files, vocab, f, plan.errors)
            assert n == total
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, data_dir / "ids.bin")
        meta = {"n_train": plan.n_train, "n_val": plan.n_val, "dtype": dtype.name,
                "files": [str(p) for p in plan.files], "val_files": [str(p) for p in plan.val_files]}
        (data_dir / "vocab.json").write_text(vocab.to_json(), encoding="utf-8")
        (data_dir / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        if e.errno == errno.ENOSPC:
            raise UserError(f"disk full while writing the prepared ids ({total * dtype.itemsize:,} bytes) "
                            f"to {data_dir}; free space and try again") from None
        raise UserError(f"could not write the prepared ids to {data_dir}: {e}") from None
    log(f"prepared {total:,} characters ({plan.n_train:,} train, {plan.n_val:,} validation), "
        f"vocabulary {len(vocab)}, ids as {dtype.name} in {data_dir / 'ids.bin'}")
    return Prepared(data_dir, vocab, plan.n_train, plan.n_val, dtype.name)


def prepare(files: list[Path], data_dir: Path, val_files: list[Path] | None = None,
            val_fraction: float = 0.1, errors: str = "strict", log=print) -> Prepared:
    """Build the vocabulary over all text and write ids: train first, validation after
    (``plan_corpus`` then ``write_prepared``)."""
    return write_prepared(plan_corpus(files, val_files, val_fraction, errors), data_dir, log)


def load_prepared(data_dir: Path) -> Prepared:
    try:
        meta = json.loads((data_dir / "meta.json").read_text(encoding="utf-8"))
        vocab = Vocab.from_json((data_dir / "vocab.json").read_text(encoding="utf-8"))
        p = Prepared(data_dir, vocab, int(meta["n_train"]), int(meta["n_val"]), str(meta["dtype"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"prepared data in {data_dir} is unreadable ({e}); delete it to prepare again") from None
    expected = (p.n_train + p.n_val) * np.dtype(p.dtype).itemsize
    if not p.path.is_file() or p.path.stat().st_size != expected:
        raise UserError(f"{p.path} is missing or has the wrong size; delete {data_dir} to prepare again")
    return p


def read_text_file(path: str | Path, errors: str = "strict") -> str:
    """Whole file as text, with the same checks as preparation (for eval and prediction inputs)."""
    p = find_files([str(path)])
    return "".join(t for f in p for t in iter_text(f, errors))
