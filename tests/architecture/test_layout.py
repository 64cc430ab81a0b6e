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


def _cycles(graph: dict[str, set[str]] | None = None) -> list[list[str]]:
    graph = {m: _edges(m) for m in MODULES} if graph is None else graph
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
            # stitchnas._util and stitchnas._registry are the shared helpers every room may use
            private_module = [p for p in target.split(".")[2:] if p.startswith("_")]
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


def test_public_submodules_load_on_first_use_and_unknown_names_are_told_close_ones():
    """``import stitchnas`` then ``stitchnas.paths.results_root`` works, as docs/python.md writes it
    (a fresh interpreter, so no earlier import has set the attribute); a mistyped name names the
    close ones; private modules stay unreachable by attribute, and the facade imports no torch."""
    import subprocess
    import sys

    code = """
import sys
import stitchnas as sn
assert "stitchnas.paths" not in sys.modules
print(sn.paths.results_root.__module__, sn.fronts.Front.__name__, "paths" in dir(sn))
for name in ("serch", "_cache", "_serch"):
    try:
        getattr(sn, name)
    except AttributeError as err:
        print(err)
try:
    sn.costs.Latencytable
except AttributeError as err:
    print(err)
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "stitchnas.paths Front True"
    assert lines[1].startswith("module 'stitchnas' has no attribute 'serch'; did you mean search")
    assert lines[2:4] == ["module 'stitchnas' has no attribute '_cache'",
                          "module 'stitchnas' has no attribute '_serch'"]
    assert "did you mean LatencyTable" in lines[4]
    assert lines[5] == "False"


def test_the_circle_finder_finds_circles():
    graph = {"x.a": {"x.b"}, "x.b": {"x.c"}, "x.c": {"x.a"}, "x.d": {"x.a"}}
    assert _cycles(graph) == [["x.a", "x.b", "x.c"]]
    assert _cycles({"x.a": {"x.b"}, "x.b": set()}) == []


# ---- one definition per term -------------------------------------------------------------------
def _constants(module: str) -> list[str]:
    tree = ast.parse(MODULES[module].read_text())
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _owners(predicate) -> set[str]:
    return {m for m in MODULES if any(predicate(c) for c in _constants(m))}



def test_no_constant_is_spelled_in_two_modules():
    """A module-level UPPER_CASE constant whose literal value another module also spells under the
    same name is one term defined twice (they drift apart): one module defines it, others import."""
    seen: dict[tuple[str, str], list[str]] = {}
    for module in MODULES:
        for node in ast.parse(MODULES[module].read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else [])
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper() and _is_literal(node.value):
                    seen.setdefault((target.id, ast.dump(node.value)), []).append(module)
    assert {name: mods for (name, _), mods in seen.items() if len(mods) > 1} == {}


def _is_literal(node) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True

@pytest.mark.parametrize("name", ["stitched.pt", "measurements.jsonl", "search.db", "front.json",
                                  "report.md"])
def test_result_paths_are_named_once(name):
    """Result file names are spelled in stitchnas.paths alone; everything else asks it."""
    assert _owners(lambda c: c == name) <= {"stitchnas.paths"}


def test_objectives_and_budgets_are_defined_once():
    """A table of objectives or budgets (any literal naming two budget keys) lives in objectives."""
    owners = set()
    for module in MODULES:
        tree = ast.parse(MODULES[module].read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Dict, ast.Tuple, ast.List, ast.Set)):
                items = node.keys if isinstance(node, ast.Dict) else node.elts
                keys = {k.value for k in items if isinstance(k, ast.Constant)}
                if len(keys & {"max_latency_ms", "max_flops", "max_params", "max_memory_mb"}) >= 2:
                    owners.add(module)
    assert owners <= {"stitchnas.objectives"}


def test_dataset_label_is_defined_once():
    """The ``dataset`` label of measurement rows (``NAME:val``) is built by DataSpec.label alone."""
    assert _owners(lambda c: c.startswith(":val") or c == ":val") <= {"stitchnas.measure._data"}


def test_close_matches_and_object_imports_are_defined_once():
    """"did you mean" (difflib) and ``module:Class`` imports (importlib.import_module) live in
    stitchnas._util; the package facade's lazy import is the same helper."""
    users = {"difflib": set(), "import_module": set()}
    for module in MODULES:
        text = MODULES[module].read_text()
        if "import difflib" in text or "from difflib" in text:
            users["difflib"].add(module)
        if "import_module(" in text:
            users["import_module"].add(module)
    assert users == {"difflib": {"stitchnas._util"}, "import_module": {"stitchnas._util"}}


def test_one_pareto_filter():
    """Non-dominated sorting is implemented once, in stitchnas.pareto."""
    names = ("nondominated", "pareto_mask", "front_indices", "pareto_front")
    owners = set()
    for module in MODULES:
        tree = ast.parse(MODULES[module].read_text())
        owners |= {module for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names}
    assert owners == {"stitchnas.pareto"}


def test_every_plugin_kind_uses_the_one_registry():
    """Rules, adapters, predictors and samplers are each a stitchnas._registry.Registry."""
    from stitchnas._registry import Registry
    from stitchnas.anchors import ADAPTERS
    from stitchnas.optimize import SAMPLERS
    from stitchnas.predict import PREDICTORS
    from stitchnas.space import RULES

    for registry in (RULES, ADAPTERS, PREDICTORS, SAMPLERS):
        assert isinstance(registry, Registry) and registry.names()
