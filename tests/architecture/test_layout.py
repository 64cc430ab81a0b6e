"""The package's layout holds: no import circle, no oversized module, no private name across rooms.

Imports are read from the source (``ast``), those inside functions included; only imports under
``if TYPE_CHECKING:`` are left out, since they never run. A name re-exported lazily by a
subpackage's ``_EXPORTS`` counts as an import of the private module that defines it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "stitchnas"
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _exports(package: str) -> dict[str, str]:
    tree = ast.parse(MODULES[package].read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS"
                                                for t in node.targets):
            return {k: f"{package}.{v}" for k, v in ast.literal_eval(node.value).items()}
    return {}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skip.update(id(n) for n in ast.walk(inner))
    return skip


def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) for every executed import in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    skip = _type_checking_nodes(tree)
    package = module if _is_package(module) else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("stitchnas")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "stitchnas":
                out.append((target, [a.name for a in node.names], node.lineno))
    return out


def _edges(module: str) -> set[str]:
    edges = set()
    for target, names, _ in _imports(module):
        parts = target.split(".")
        for i in range(1, len(parts)):  # importing a.b.c runs a/__init__ and a.b/__init__ first
            parent = ".".join(parts[:i])
            if not (module + ".").startswith(parent + "."):  # an ancestor of ours is already running
                edges.add(parent)
        if target not in MODULES:
            continue
        edges.add(target)
        if _is_package(target):
            exports = _exports(target)
            for name in names:
                if name in exports:
                    edges.add(exports[name])
                elif f"{target}.{name}" in MODULES:
                    edges.add(f"{target}.{name}")
    edges.discard(module)
    return {e for e in edges if e in MODULES}


def _cycles() -> list[list[str]]:
    graph = {m: _edges(m) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for m in sorted(graph):
        if m not in index:
            visit(m)
    return found


def _room(module: str) -> str:
    """The subpackage a module lives in (a top-level module is a room of its own)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "stitchnas"


def test_no_import_circle():
    assert _cycles() == []


def test_no_module_over_the_size_limit():
    big = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert big == {}


def test_no_private_name_crosses_a_subpackage():
    crossing = []
    for module in MODULES:
        for target, names, line in _imports(module):
            if _room(target) == _room(module):
                continue
            private_module = [p for p in target.split(".")[1:] if p.startswith("_") and p != "_util"]
            private_names = [n for n in names if n.startswith("_") and n != "__version__"]
            if private_module or private_names:
                crossing.append(f"{module}:{line} imports {target} {private_names or ''}")
    assert crossing == []


def test_every_export_exists():
    """Each lazily re-exported name is defined by the module its package names."""
    import importlib

    for package in [m for m in MODULES if _is_package(m)]:
        for name, module in _exports(package).items():
            assert hasattr(importlib.import_module(module), name), f"{package}: {name} not in {module}"


@pytest.mark.parametrize("cycle", [["a", "b"]])
def test_the_circle_finder_finds_circles(cycle, monkeypatch):
    graph = {"x.a": {"x.b"}, "x.b": {"x.a"}, "x.c": set()}
    monkeypatch.setattr(__import__(__name__), "MODULES", {k: Path(k) for k in graph}, raising=False)
    monkeypatch.setitem(globals(), "_edges", lambda m: graph[m])
    monkeypatch.setitem(globals(), "MODULES", {k: Path(k) for k in graph})
    assert _cycles() == [["x.a", "x.b"]]
