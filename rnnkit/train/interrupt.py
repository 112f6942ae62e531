"""Ctrl-C and SIGTERM become a request to stop at the next step boundary.

The training loop polls ``requested``; it then saves a checkpoint and exits with 130
(SIGINT, the shell's convention for Ctrl-C) or 0 (SIGTERM: a clean, saved shutdown).
A second Ctrl-C while saving is ignored, so the save cannot be cut in half by impatience.

Work with no step boundary (preparing the data) uses ``StopAtOnce`` instead: the signal
raises ``Stopped`` where the work is, and the caller says how to continue.
"""

from __future__ import annotations

import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code_of(signum: int | None) -> int:
    return 130 if signum == signal.SIGINT else 0


class Stopped(Exception):
    """Ctrl-C or SIGTERM inside ``StopAtOnce``."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = exit_code_of(signum)


class _Handlers:
    """Installs ``_handler`` for SIGINT and SIGTERM on enter, restores the old ones on exit."""

    def _handler(self, signum, frame):
        raise NotImplementedError

    def __enter__(self):
        self._old = {}
        for s in SIGNALS:
            try:
                self._old[s] = signal.signal(s, self._handler)
            except ValueError:  # not the main thread (e.g. called from a test thread)
                pass
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


class StopAtOnce(_Handlers):
    """Ctrl-C or SIGTERM raise ``Stopped`` at once (SIGTERM would otherwise kill silently)."""

    def _handler(self, signum, frame):
        raise Stopped(signum)


class StopRequest(_Handlers):
    def __init__(self):
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        return exit_code_of(self.signum)

    def _handler(self, signum, frame):
        self.signum = signum
