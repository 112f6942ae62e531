"""rnnkit's version, declared once: ``rnnkit.__version__`` and ``rnnkit --version`` read it.

Like ``errors.py`` it stands outside the layers, so any of them (the command line) may
import it without importing the package's public API; ``pyproject.toml`` carries the same
number (``tests/test_version.py`` checks that they agree).
"""

from __future__ import annotations

__version__ = "0.1.0"
