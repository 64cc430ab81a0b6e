"""The README stays a front door and the docs stay true to the code.

README.md is short and opens with the two commands a fresh machine needs (``.ci/run`` runs the
second); every relative link in README.md and docs/*.md reaches a file (and a heading, for
``#fragments``); every ``stitchnas VERB`` shown is a real command; every ``stitchnas/...`` or
``tests/...`` path and every ``stitchnas.name`` shown exists; the Python examples parse and import
only names that exist; and the README's layout table names every subpackage and top-level module
under ``stitchnas/``, so none of it can go stale silently.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from support import run_cli

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]
MAX_README_LINES = 300

# The two commands the README opens with, byte for byte (.ci/run and later work depend on them).
SETUP_AND_RUN = "apt-get update && apt-get install -y dataset-fashion-mnist && pip install torch==2.14.1 torchvision==0.29.1 && pip install -e . && stitchnas run"
RUN_TESTS = "pip install -e '.[test]' && python3 -m pytest -q -n auto"

# Dotted names shown in the docs that are not Python objects.
ENTRY_POINT_GROUPS = {"stitchnas.predictors"}

FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# `stitchnas` where a command starts: a line or span's start (after VAR=value), after && ; | ( `,
# or `-m` (python -m stitchnas, torchrun ... -m stitchnas); `a | b` lists alternatives.
VERB = re.compile(r"(?:^|&&|;|\||\(|`|-m)[ \t]*(?:[A-Z_][A-Z0-9_]*=\S*[ \t]+)*stitchnas[ \t]+([a-z][a-z0-9-]*(?:[ \t]*\|[ \t]*[a-z][a-z0-9-]*)*)"
                  r"(?:[ \t]+([a-z][a-z0-9-]*(?:[ \t]*\|[ \t]*[a-z][a-z0-9-]*)*))?", re.M)
REPO_PATH = re.compile(r"(?<![\w./~$-])((?:stitchnas|tests|search_spaces|docs)/[\w./-]*)")
DOTTED = re.compile(r"^stitchnas(?:\.[A-Za-z_]\w*)+")


def _fences(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return [(m.group(1).lower(), m.group(2)) for m in FENCE.finditer(text)]


def _prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return FENCE.sub("", text)


def _spans(text: str) -> list[str]:
    """The inline code spans outside fenced blocks."""
    return [m.group(2).strip() for m in CODE_SPAN.finditer(_prose(text))]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", _prose(page.read_text()), re.M)}


def _rel(page: Path) -> str:
    return str(page.relative_to(REPO))


def test_docs_exist():
    assert DOCS, "docs/*.md is missing"


def test_readme_is_a_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; keep it at most {MAX_README_LINES} and move detail to docs/")


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    head = "\n".join(text.splitlines()[:20]) + "\n"
    blocks = [body for _, body in _fences(head)]
    assert blocks[:2] == [SETUP_AND_RUN + "\n", RUN_TESTS + "\n"], (
        "README.md must open (first 20 lines) with two fenced blocks: the setup-and-run command, then "
        f"the test command, exactly:\n{SETUP_AND_RUN}\n{RUN_TESTS}")


def test_ci_runs_the_readme_commands_read_from_the_readme():
    """.ci/run reads the README's two opening bash blocks (through .ci/readme-block, the one reader
    the other .ci scripts use too) and runs them, the first command (data set, install, `stitchnas
    run`) included, so CI fails when that line misses a step."""
    import subprocess

    ci = REPO / ".ci" / "run"
    if not ci.is_file():
        pytest.skip(".ci/run is not in this checkout")
    got = [subprocess.run(["bash", ".ci/readme-block", str(n)], cwd=REPO, text=True,
                          capture_output=True, check=True).stdout for n in (1, 2)]
    assert got == [SETUP_AND_RUN + "\n", RUN_TESTS + "\n"]
    text = ci.read_text()
    assert "setup=$(bash .ci/readme-block 1)" in text and "tests=$(bash .ci/readme-block 2)" in text
    assert 'bash -euo pipefail -c "$setup"' in text and 'bash -euo pipefail -c "$tests"' in text
    for script in (REPO / ".ci").iterdir():  # none keeps a copy of its own
        assert script.name == "readme-block" or "awk" not in script.read_text(), script.name


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_resolve(page):
    broken = []
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and dest.suffix == ".md" and fragment not in _anchors(dest):
            broken.append(f"{target} (no heading #{fragment} in {dest.relative_to(REPO)})")
    assert not broken, f"{_rel(page)}: broken links: {broken}"


def _choices(capsys, *argv) -> set[str]:
    code, out, err = run_cli(capsys, *argv, "--help")
    assert code == 0, err
    match = re.search(r"\{([a-z0-9,-]+)\}", out)
    assert match, f"no sub-commands in `stitchnas {' '.join(argv)} --help`:\n{out}"
    return set(match.group(1).split(","))


def _shown_commands(text: str) -> list[tuple[list[str], list[str]]]:
    """(verbs, next words) of every `stitchnas VERB ...` in shell blocks and inline code."""
    chunks = [body for lang, body in _fences(text) if lang in ("", "bash", "sh", "shell", "console")]
    chunks += _spans(text)
    found = []
    for chunk in chunks:
        for m in VERB.finditer(chunk):
            verbs = [v.strip() for v in m.group(1).split("|")]
            nxt = [v.strip() for v in m.group(2).split("|")] if m.group(2) else []
            found.append((verbs, nxt))
    return found


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_commands_shown_are_real(capsys, page):
    verbs = _choices(capsys)
    bench = _choices(capsys, "bench")
    shown = _shown_commands(page.read_text())
    unknown = set()
    for words, nxt in shown:
        unknown.update(w for w in words if w not in verbs)
        if words == ["bench"]:  # `stitchnas bench ...` names no benchmark: nothing to check
            unknown.update(f"bench {w}" for w in nxt if w not in bench)
    assert not unknown, (f"{_rel(page)} shows `stitchnas` commands that do not exist: "
                         f"{sorted(unknown)}; the commands are {sorted(verbs)}, bench {sorted(bench)}")
    if page == README:
        assert {"run", "search", "query", "export"} <= {w for words, _ in shown for w in words}


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_paths_shown_exist(page):
    text = page.read_text()
    paths = {m.rstrip(".,") for span in _spans(text) for m in REPO_PATH.findall(span)}
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, (f"{_rel(page)} names paths that do not exist (moved or split? name the "
                         f"subpackage folder instead of a private module): {missing}")


def _resolve(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_dotted_names_shown_exist(page):
    names = {m.group(0) for span in _spans(page.read_text()) if (m := DOTTED.match(span))}
    missing = sorted(n for n in names - ENTRY_POINT_GROUPS if not _resolve(n))
    assert not missing, f"{_rel(page)} names Python objects that do not exist: {missing}"


def test_entry_point_groups_shown_are_real():
    from stitchnas.predict import ENTRY_POINT_GROUP

    assert ENTRY_POINT_GROUPS == {ENTRY_POINT_GROUP}


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_python_examples_parse_and_import_real_names(page):
    problems = []
    for lang, body in _fences(page.read_text()):
        if lang not in ("python", "py"):
            continue
        try:
            tree = ast.parse(body)
        except SyntaxError as err:
            problems.append(f"does not parse: {err}")
            continue
        aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                aliases.update(a.asname or a.name for a in node.names if a.name == "stitchnas")
                problems += [f"import {a.name}" for a in node.names
                             if a.name.startswith("stitchnas") and not _resolve(a.name)]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stitchnas"):
                problems += [f"from {node.module} import {a.name}" for a in node.names
                             if not _resolve(f"{node.module}.{a.name}")]
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and not _resolve(f"stitchnas.{node.attr}")):
                problems.append(f"{node.value.id}.{node.attr}")
    assert not problems, f"{_rel(page)}: Python examples use names that do not exist: {problems}"


def test_layout_table_names_every_room_and_module():
    rows = [line for line in README.read_text().splitlines() if line.startswith("|")]
    cells = {cell.strip().strip("`") for row in rows for cell in row.strip("|").split("|")}
    package = REPO / "stitchnas"
    rooms = sorted(f"stitchnas/{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file())
    modules = sorted(f"stitchnas/{p.name}" for p in package.glob("*.py")
                     if p.name not in ("__init__.py", "__main__.py"))
    assert rooms, "no subpackages found under stitchnas/"
    missing = [name for name in rooms + modules if name not in cells]
    assert not missing, f"README.md's layout table does not name: {missing}"
    stale = sorted(c for c in cells if re.fullmatch(r"stitchnas/[\w./]+", c) and not (REPO / c).exists())
    assert not stale, f"README.md's layout table names what is gone: {stale}"
