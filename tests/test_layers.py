"""The layers of rnnkit, checked on the source: each layer imports only the layers before it.

    nn < optim < data < models < decode < torch < train < api < viz < cli

``rnnkit/nn`` (the NumPy engine) imports NumPy, the standard library, itself and
``rnnkit.errors`` (the shared error class, standard library only), and nothing else;
``import rnnkit.nn`` loads none of torch, tqdm, safetensors or matplotlib. The modules
directly in ``rnnkit/`` are outside the order: ``errors.py`` and ``version.py`` (shared by
every layer), the public API in ``__init__.py`` and the ``python -m rnnkit`` entry in
``__main__.py``.

Imports are read with ``ast`` (absolute ``rnnkit.X`` and relative ones alike, including those
inside functions), so a lazy import that breaks the order is caught too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from helpers import REPO, env

ORDER = ["nn", "optim", "data", "models", "decode", "torch", "train", "api", "viz", "cli"]
HEAVY = {"torch", "tqdm", "safetensors", "matplotlib"}

# Known breaks of the order, each to be removed when its fix lands (the test below fails
# once an allowance is no longer needed). None today.
KNOWN: set[tuple[str, str]] = set()


def _package(path: Path, root: Path) -> list[str]:
    """rnnkit/nn/stack.py -> ['rnnkit', 'nn']: the package a relative import starts from."""
    return list(path.relative_to(root.parent).parts[:-1])


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved.

    ``from rnnkit import errors`` and ``from .. import errors`` name ``rnnkit.errors``; any
    other ``from <package> import x`` names the package (x may be a module or a name in it).
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package(path, root)
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            if module == root.name:  # the root package: name the module imported from it
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
    return found


def layer_of(module: str) -> str | None:
    """'rnnkit.decode.sample' -> 'decode'; None for rnnkit.errors and rnnkit.version (shared);
    'rnnkit' for the root's API."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ORDER:
        return parts[1]
    return None if parts[1:2] in (["errors"], ["version"]) else "rnnkit"


def layer_violations(root: Path) -> dict[tuple[str, str], list[int]]:
    """{(file, later layer it imports): [lines]} over every module of a layer in ``root``.

    Importing the package root from inside a layer counts too (as the layer 'rnnkit'): the
    root imports the models, so it would carry them into any layer below.
    """
    found: dict[tuple[str, str], list[int]] = {}
    for layer in ORDER:
        for path in sorted((root / layer).rglob("*.py")):
            name = path.relative_to(root.parent).as_posix()
            for line, module in imported_modules(path, root):
                if module.split(".")[0] != root.name:
                    continue
                other = layer_of(module)
                if other == "rnnkit" or (other is not None and ORDER.index(other) > ORDER.index(layer)):
                    found.setdefault((name, other), []).append(line)
    return found


def test_import_rnnkit_nn_loads_no_heavy_dependency():
    code = (
        "import rnnkit.nn, sys; "
        f"loaded = sorted(set({sorted(HEAVY)!r}) & set(sys.modules)); "
        "assert not loaded, loaded"
    )
    p = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_nn_imports_only_numpy_the_standard_library_and_itself():
    root = REPO / "rnnkit"
    bad = []
    for path in sorted((root / "nn").rglob("*.py")):
        for line, module in imported_modules(path, root):
            top = module.split(".")[0]
            if top == "numpy" or top in sys.stdlib_module_names or module.startswith("rnnkit.nn"):
                continue
            if module == "rnnkit.errors":  # the shared RnnkitError: re and collections.abc only
                continue
            bad.append(f"{path.relative_to(REPO).as_posix()}:{line} imports {module}")
    assert not bad, (
        "rnnkit/nn must import only numpy, the standard library, rnnkit.nn and rnnkit.errors:\n"
        + "\n".join(bad)
    )


def test_no_layer_imports_a_later_layer():
    found = layer_violations(REPO / "rnnkit")
    new = [
        f"{name}:{lines} imports rnnkit.{layer}"
        for (name, layer), lines in sorted(found.items())
        if (name, layer) not in KNOWN
    ]
    assert not new, f"imports that break the order {' < '.join(ORDER)}:\n" + "\n".join(new)


def test_every_known_exception_is_still_needed():
    stale = KNOWN - set(layer_violations(REPO / "rnnkit"))
    assert not stale, f"fixed, so remove from KNOWN in tests/test_layers.py: {sorted(stale)}"


def test_the_scan_finds_absolute_relative_lazy_and_root_imports(tmp_path):
    """The scanner itself, on a made-up tree: what it must report and what it must not."""
    root = tmp_path / "rnnkit"
    for layer in ("nn", "models", "train"):
        (root / layer).mkdir(parents=True)
    (root / "errors.py").write_text("")
    (root / "nn" / "bad.py").write_text(
        "from .. import errors\n"  # shared: allowed
        "from ..decode import sample\n"  # relative, later layer
        "def f():\n"
        "    from rnnkit.cli import main\n"  # lazy, later layer
        "from rnnkit import CharRNN\n"  # the root's API
    )
    (root / "models" / "ok.py").write_text(
        "import numpy\n"
        "from rnnkit.nn.stack import RNNStack\n"  # an earlier layer
        "from . import shapes\n"  # its own layer
        "from rnnkit.errors import E\n"
        "from rnnkit.version import __version__\n"  # shared too
    )
    (root / "train" / "__init__.py").write_text("from ..torch import engines\nfrom .checkpoint import save\n")
    assert layer_violations(root) == {
        ("rnnkit/nn/bad.py", "decode"): [2],
        ("rnnkit/nn/bad.py", "cli"): [4],
        ("rnnkit/nn/bad.py", "rnnkit"): [5],
    }
