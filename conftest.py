"""pytest for the whole checkout: ``tests/`` and the docstring examples in ``rnnkit/``.

The doctests of ``rnnkit/torch`` import or call PyTorch, an optional extra (``pip install
rnnkit[torch]``). Without it they are left out, so ``python -m pytest`` still collects; the
tests of ``tests/`` that need torch skip themselves (``pytest.importorskip``).
"""

from __future__ import annotations

import importlib.util

# find_spec, not import: it answers "is torch installed?" without loading torch into every run.
collect_ignore_glob = [] if importlib.util.find_spec("torch") else ["rnnkit/torch/*"]
