"""Ctrl-C and SIGTERM become a request to stop at the next step boundary.

The training loop polls ``requested``; it then saves a checkpoint and exits with 130
(SIGINT, the shell's convention for Ctrl-C) or 0 (SIGTERM: a clean, saved shutdown).
A second Ctrl-C while saving is ignored, so the save cannot be cut in half by impatience.
"""
from __future__ import annotations

import signal


class StopRequest:
    def __init__(self):
        self.signum: int | None = None
        self._old = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        return 130 if self.signum == signal.SIGINT else 0

    def _handler(self, signum, frame):
        self.signum = signum

    def __enter__(self):
        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[s] = signal.signal(s, self._handler)
            except ValueError:  # not the main thread (e.g. called from a test thread)
                pass
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False
