"""rnnkit's public functions carry type hints (issue 17), checked on the source with ``ast``.

Every function and method whose name does not start with ``_`` (nested ones too) annotates
its return and each parameter but ``self`` and ``cls``, ``*args`` and ``**kwargs`` included;
every module starts with ``from __future__ import annotations``, so no annotation is
evaluated at run time (a type named only under ``TYPE_CHECKING`` costs nothing).
"""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

ROOT = REPO / "rnnkit"

# Files still being annotated, each to be removed when its hints land (the test below fails
# once an allowance is no longer needed).
KNOWN: set[str] = set()


def unannotated(path: Path) -> list[str]:
    """'name:line' of each public function in ``path`` missing a parameter or return hint."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
            continue
        a = node.args
        params = [p for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")]
        params += [p for p in (a.vararg, a.kwarg) if p is not None]
        if node.returns is None or any(p.annotation is None for p in params):
            found.append(f"{node.name}:{node.lineno}")
    return found


def missing_hints() -> dict[str, list[str]]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        names = unannotated(path)
        if names:
            out[path.relative_to(REPO).as_posix()] = names
    return out


def test_every_public_function_is_annotated():
    new = {name: fns for name, fns in missing_hints().items() if name not in KNOWN}
    assert not new, "public functions without type hints:\n" + "\n".join(
        f"{name}: {', '.join(fns)}" for name, fns in new.items()
    )


def test_every_known_exception_is_still_needed():
    stale = KNOWN - set(missing_hints())
    assert not stale, f"annotated now, so remove from KNOWN in tests/test_type_hints.py: {sorted(stale)}"


def test_every_module_postpones_its_annotations():
    lacking = [
        path.relative_to(REPO).as_posix()
        for path in sorted(ROOT.rglob("*.py"))
        if not any(
            isinstance(node, ast.ImportFrom)
            and node.module == "__future__"
            and any(alias.name == "annotations" for alias in node.names)
            for node in ast.parse(path.read_text(encoding="utf-8")).body
        )
    ]
    assert not lacking, "modules without `from __future__ import annotations`:\n" + "\n".join(lacking)


def test_the_scan_finds_what_it_must(tmp_path):
    """The scanner itself, on a made-up file: what it reports and what it leaves alone."""
    f = tmp_path / "m.py"
    f.write_text(
        "def ok(a: int, *args: str, **kw: int) -> None: ...\n"
        "def no_return(a: int): ...\n"
        "def bare_param(a) -> None: ...\n"
        "def bare_star(*args) -> None: ...\n"
        "def _private(a): ...\n"
        "class C:\n"
        "    def m(self, x: int) -> int: ...\n"
        "    @classmethod\n"
        "    def k(cls, y) -> None: ...\n"
        "    def __init__(self, z): ...\n"
        "def outer() -> None:\n"
        "    def inner(q): ...\n"
    )
    assert set(unannotated(f)) == {"no_return:2", "bare_param:3", "bare_star:4", "k:9", "inner:12"}
