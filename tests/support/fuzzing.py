"""Hypothesis strategies shared by the fuzz tests: garbage values, mutated documents, documents
as damaged file bytes, and running the CLI in-process (``tests/cli/test_fuzz*.py``)."""

from __future__ import annotations

import contextlib
import copy
import io

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def fuzz(max_examples: int) -> settings:
    """Derandomized (every run tries the same examples), no deadline, no example database."""
    return settings(derandomize=True, deadline=None, database=None, max_examples=max_examples,
                    suppress_health_check=list(HealthCheck))


WORDS = ["vit_tiny_patch16_224", "deit_tiny_patch16_224", "vit_tiny_patch16_24", "two_way",
         "snnet_v1", "snnet_v2", "snnet_stages", "nearest", "all", "cpu", "cuda:0", "gpu", "flops",
         "latency", "float16", "digits", "uniform", "x.pt", "", " ", "NaN", "1e9", "-5", "null", "~",
         "{", "[", ":", "\ufeff", "é", "a\nb", "../x", "/tmp/x"]
SMALL_INTS = st.integers(-3, 12)
HUGE = st.sampled_from([0, -1, 10 ** 6, 2 ** 31, 2 ** 63, 10 ** 30, 10 ** 400, -(10 ** 400), 1e308,
                        -1e308, 1e-300, -0.0])
FLOATS = st.floats(allow_nan=True, allow_infinity=True)


def values(big: bool = True) -> st.SearchStrategy:
    """Garbage for a field; ``big`` allows huge numbers (never in timm kwargs or input sizes)."""
    scalars = st.one_of(st.none(), st.booleans(), SMALL_INTS, FLOATS, st.text(max_size=8),
                        st.sampled_from(WORDS), *([HUGE, HUGE] if big else []))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.one_of(st.text(max_size=6), SMALL_INTS), inner, max_size=3),
                        max_leaves=5)


def _parent(doc, path):
    node = doc
    for key in path[:-1]:
        if (isinstance(node, dict) and key in node) or (
                isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node)):
            node = node[key]
        else:
            return None
    return node


@st.composite
def mutated(draw, base: dict, paths: list[tuple], small: set[str] = frozenset(), *,
            value_strategy: st.SearchStrategy | None = None, most: int = 3) -> dict:
    """``base`` with 0..``most`` random mutations at ``paths`` (set, delete, rename,
    duplicate); fields whose path holds a name in ``small`` only get small numbers."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, most))):
        path = draw(st.sampled_from(paths))
        node = _parent(doc, path)
        key = path[-1]
        if node is None or isinstance(node, (str, int, float, bool)):
            continue
        action = draw(st.sampled_from(["set", "set", "set", "delete", "rename", "duplicate"]))
        present = (key in node) if isinstance(node, dict) else (
            isinstance(key, int) and -len(node) <= key < len(node))
        if action == "set":
            strategy = (value_strategy if value_strategy is not None
                        else values(big=not (set(map(str, path)) & set(small))))
            value = draw(strategy)
            if isinstance(node, dict) or present:
                node[key] = value
            else:
                node.append(value)
        elif not present:
            continue
        elif action == "delete":
            del node[key]
        elif action == "rename" and isinstance(node, dict):
            node[draw(st.sampled_from([str(key) + "s", str(key)[:-1], "x", "", 0, None]))] = node.pop(key)
        elif action == "duplicate":
            if isinstance(node, list):
                node.insert(draw(st.integers(0, len(node))), copy.deepcopy(node[key]))
            else:
                node[str(key).upper()] = copy.deepcopy(node[key])
    return doc


@st.composite
def as_text(draw, docs: st.SearchStrategy, dumps, damaged: int = 6) -> bytes:
    """A document as file bytes: whole (most often), truncated, spliced, with a BOM or CRLF, or
    random bytes; ``damaged`` weighs the damaged kinds against 4 whole ones."""
    kinds = ["whole"] * 4 + ["truncate", "splice", "bom", "crlf", "bytes", "nested"][:damaged]
    kind = draw(st.sampled_from(kinds))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "nested":  # deep nesting: JSON and YAML parsers recurse
        depth = draw(st.sampled_from([50, 3000, 5000]))
        return (("[" * depth + "]" * depth).encode() if draw(st.booleans())
                else ("a:\n" + "- " * depth + "1\n").encode())
    text = dumps(draw(docs))
    if kind == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif kind == "splice":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=6)) + text[at + draw(st.integers(0, 4)):]
    elif kind == "bom":
        text = "\ufeff" + text
    elif kind == "crlf":
        text = text.replace("\n", "\r\n")
    return text.encode("utf-8", "surrogatepass")


def run_main(argv) -> tuple[int, str, str]:
    """``stitchnas.cli.main(argv)`` in-process: (exit code, stdout, stderr)."""
    from stitchnas.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()
