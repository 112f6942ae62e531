"""Output files of the visualisation verbs: checked before the work, written atomically.

``check_output`` runs first, before any model is loaded or any figure drawn, so a bad path
(a suffix we cannot write, an existing directory, a parent that is missing, a file or
not writable) costs nothing and ends as one ``RnnkitError`` line. ``write_atomically`` then
writes to a temporary file beside the target and renames it into place, so a failed write
leaves no half-written file behind (nor a previous version destroyed). A parent directory
that does not exist is refused, not created: a mistyped ``-o /nonexistent/dir/x.png`` must
not make directories anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from rnnkit.errors import RnnkitError


def one_line(e: BaseException) -> str:
    """An exception's message on one line (``strerror`` for an ``OSError``: no temporary names)."""
    msg = (e.strerror if isinstance(e, OSError) and e.strerror else None) or str(e) or type(e).__name__
    return " ".join(msg.split())


def check_output(
    path: str | os.PathLike, suffixes: Iterable[str] | None, default_suffix: str | None, name: str
) -> Path:
    """The file that will be written for ``path``, or a ``RnnkitError`` saying why it cannot be.

    ``suffixes``: the allowed suffixes, lower case with the dot (None: any). Without a
    suffix, ``default_suffix`` is appended, so what is printed is what is written.
    ``name`` is the parameter that gave ``path``, named in messages (``output``, ``html_out``).
    """
    named = f"`{name}`"  # the parameter, in backquotes: see rnnkit/errors.py
    given = Path(path)
    if given.is_dir():  # before the suffix: `-o runs/a` means the directory
        raise RnnkitError(f"{named} {given} is a directory; give a file name")
    p = given
    if default_suffix and not p.suffix:
        p = p.with_name(p.name + default_suffix)
    if p.is_dir():
        raise RnnkitError(f"{named} {p} is a directory; give a file name")
    if suffixes is not None:
        allowed = sorted(set(suffixes))
        if p.suffix.lower() not in allowed:
            raise RnnkitError(
                f"{named} {given}: cannot write {p.suffix or 'a file without suffix'!r}; "
                f"use one of {', '.join(allowed)}"
            )
    if p.exists() and not Path(os.path.realpath(p)).is_file():
        # os.replace would swap a device or socket out for a plain file: refuse
        raise RnnkitError(f"{named} {given} exists and is not a regular file")
    parent = Path(os.path.abspath(p)).parent
    if not parent.exists():
        anc = parent  # a file above it says more than "missing"
        while not anc.exists() and anc != anc.parent:
            anc = anc.parent
        if anc.is_dir():
            raise RnnkitError(
                f"cannot write {named} {given}: directory {parent} does not exist; create it first"
            )
        parent = anc
    if not parent.is_dir():
        raise RnnkitError(f"cannot write {named} {given}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RnnkitError(f"cannot write {named} {given}: no permission to write in {parent}")
    return p


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    A symlink at ``path`` is followed (its target is replaced, the link stays). Its parent
    directory must exist. On any failure the temporary file is removed, and an ``OSError``
    or ``ValueError`` becomes a ``RnnkitError`` naming ``path``. Returns ``path``.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(e, (OSError, ValueError)) and not isinstance(e, RnnkitError):
            raise RnnkitError(f"cannot write {path}: {one_line(e)}") from None
        raise
    return path
