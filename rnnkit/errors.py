"""The errors and warnings rnnkit raises about its input, and how their messages name parameters.

Library code names a parameter in backquotes::

    raise RnnkitError(f"`hidden` must be positive, got {hidden}")

``str(e)``, what a Python caller sees, shows the name plain: "hidden must be positive, got 0".
The command line shows each name as its flag instead ("--hidden must be positive, got 0",
``rnnkit/cli/messages.py``), one line on stderr, and exits with ``e.exit_status``. Only
lower-case identifiers in backquotes are names (`` `val_files` ``); backquoted text with
spaces or capitals (`` `rnnkit train` ``) is shown as written. (A quoted value that itself
held such a pair, a file named `` `x` `` say, would be read as a name too.)
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable

NAME = re.compile(r"`([a-z][a-z0-9_]*)`")  # a parameter named in a message


def plain(message: str) -> str:
    """``message`` with each `` `name` `` shown as ``name``."""
    return NAME.sub(r"\1", message)


def render(message: str, shown_as: Callable[[str], str]) -> str:
    """``message`` with each `` `name` `` replaced by ``shown_as(name)`` (a flag, say)."""
    return NAME.sub(lambda m: shown_as(m.group(1)), message)


def write_error(e: OSError, what: str, when_full: str, full_what: str | None = None) -> RnnkitError:
    """The one line for ``e``, raised while writing ``what``: on a full disk (ENOSPC) "disk full
    while writing ``full_what`` (default ``what``); ``when_full``" (what is kept, what to do),
    else "could not write ``what``: ``e``"."""
    if e.errno == errno.ENOSPC:
        return RnnkitError(f"disk full while writing {full_what or what}; {when_full}")
    return RnnkitError(f"could not write {what}: {e}")


def message_of(e: BaseException) -> str:
    """The message of ``e``, to quote in another error: an rnnkit message keeps its names marked."""
    return e.message if isinstance(e, ParameterMessage) else str(e)


class ParameterMessage:
    """An exception or warning whose message names parameters in backquotes."""

    @property
    def message(self) -> str:
        """The message as raised, parameter names in backquotes."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return plain(self.message)


class RnnkitError(ParameterMessage, ValueError):
    """Bad input: a file, a setting, a checkpoint. The command line prints it as one line
    (names as flags) and exits with ``exit_status``."""

    exit_status = 2


class TrainingFailed(RnnkitError):
    """A run that stopped short: non-finite steps it could not skip, weights that became NaN
    or Inf, or an end without a checkpoint saved. The message says which checkpoint is kept."""

    exit_status = 1


class RnnkitWarning(ParameterMessage, UserWarning):
    """Something the user should know that does not stop the work (a skipped file, a large
    vocabulary). The command line prints it as one line, "rnnkit: warning: ..."."""
