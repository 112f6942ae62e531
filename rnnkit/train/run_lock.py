"""One writer per run directory: an exclusive ``fcntl.flock`` on ``RUN/rnnkit.lock``.

A training process (new run, ``--force``, ``--resume``) holds the lock from before it
changes anything in the run directory until it exits. A second writer is refused at once,
in one line naming the PID written in the lock file. The kernel drops a ``flock`` when
its process dies, however it dies, so a lock left by a killed process is simply taken
over: there is no stale state to clean up.

The lock file is deleted on release. Because of that, a process that wins the lock checks
that the file it locked is still the one at ``RUN/rnnkit.lock`` (not one unlinked by the
previous holder in the meantime), and tries again if not.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from rnnkit.errors import RnnkitError

LOCK_NAME = "rnnkit.lock"


class RunLock:
    """``with RunLock(run):`` holds ``run``'s lock (``run`` must exist) for the block."""

    def __init__(self, run: Path):
        self.path = Path(run) / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock, or raise a ``RnnkitError`` naming the process that holds it."""
        for _ in range(10):
            try:
                # O_NOFOLLOW: a symlink planted at the lock's name is refused, not written through.
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except OSError as e:
                raise RnnkitError(
                    f"cannot lock the run directory {self.path.parent}: {e.strerror or e}"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = _read_pid(fd)
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise RnnkitError(
                        f"cannot lock the run directory {self.path.parent}: {e.strerror or e}"
                    ) from None
                who = f"PID {holder}" if holder else "another process"
                raise RnnkitError(
                    f"{self.path.parent} is in use by another rnnkit process ({who} holds "
                    f"{self.path}); wait for it to end, or stop it first"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path, follow_symlinks=False).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous holder deleted it as we opened it: again
                os.close(fd)
                continue
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError:
                pass  # the lock holds without the PID; a refusal then names no PID
            self.fd = fd
            return self
        raise RnnkitError(f"cannot lock the run directory {self.path.parent}: its lock file keeps changing")

    def release(self) -> None:
        """Delete the lock file, then drop the lock (in that order: see the module docstring)."""
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)  # closing the last descriptor drops the flock
        self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> bool:
        self.release()
        return False


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
