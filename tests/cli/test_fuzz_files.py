"""Fuzzing every section of a space file, fronts, latency tables and command-line numbers.

The property everywhere: the input works, or it is refused in one line (a ``StitchnasError`` in
Python; exit code 2 and one ``stitchnas: error:`` line of bounded length on the command line,
nothing on stdout), never a traceback; and whatever is accepted is sound (a loaded front only
holds stitches of its space with top-1 in 0..100, a loaded latency table composes finite
latencies >= 0, a parsed number is within its option's range). Derandomized: every run tries
the same examples. The CLI runs in-process (``stitchnas.cli.main``); commands whose work is
heavy (training, evaluating, timing, searching) are fuzzed up to the point where work would
start (their ``run`` replaced), the others (``query``, ``profile-latency --any-machine``) run
in full.
"""

from __future__ import annotations

import json
import math

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st
from support.fuzzing import FLOATS, as_text, fuzz, mutated, run_main, values

from stitchnas.cli import build_parser
from stitchnas.cli._main import COMMANDS, MAX_ERROR_CHARS
from stitchnas.costs import load_latency_table, profile_latency
from stitchnas.errors import StitchnasError
from stitchnas.fronts import Front, FrontPoint, load_front
from stitchnas.space import SECTIONS, load_space


def one_line_error(code, out: str, err: str) -> None:
    assert code == 2, (code, out, err)
    assert err.startswith("stitchnas: error:") and err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and out == ""
    assert len(err) <= MAX_ERROR_CHARS + len("stitchnas: error: ") + 1, f"line of {len(err)} characters"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_files")


@pytest.fixture(scope="module")
def tiny():
    return load_space("tiny_test")


# ---------------------------------------------------------------------------------------------
# (a) every section of a space file
# ---------------------------------------------------------------------------------------------
KW = {"img_size": 28, "patch_size": 7, "in_chans": 1, "num_classes": 10, "embed_dim": 16, "depth": 3,
      "num_heads": 2}
SPACE = {
    "name": "fuzz", "description": "tiny", "input_size": [1, 28, 28],
    "anchors": [{"name": "s", "model": "vit_tiny_patch16_224", "kwargs": dict(KW), "acc1": 70.0},
                {"name": "l", "model": "vit_tiny_patch16_224", "kwargs": {**KW, "embed_dim": 32},
                 "acc1": 75.5, "pretrained": False, "checkpoint": None}],
    "rule": {"type": "two_way", "pairs": "nearest", "max_stitches": 2},
    "stitching": {"rank": None},
    "data": {"name": "digits", "root": None},
    "training": {"anchors": {"epochs": 2, "lr": 0.01, "batch_size": 32, "seed": 0},
                 "stitching": {"epochs": 1, "lr": 0.001, "sampling": "uniform", "freeze_anchors": True}},
    "run": {"initial": 4, "rounds": 1, "per_round": 2, "targets": ["cpu", "mcu_flops"], "seed": 0,
            "device": "cpu", "anchors": {"epochs": 1}, "stitching": {"max_steps": 10}},
}
SPACE_PATHS = (
    [(k,) for k in ("name", "description", "input_size", "anchors", "rule", "stitching", "data",
                    "training", "run", "anchor", "trainig")]
    + [("input_size", i) for i in range(4)]
    + [("anchors", i) for i in range(3)]
    + [("anchors", i, k) for i in (0, 1) for k in ("name", "model", "kwargs", "checkpoint",
                                                    "pretrained", "acc1", "acc")]
    + [("anchors", i, "kwargs", k) for i in (0, 1) for k in KW]
    + [("rule", k) for k in ("type", "pairs", "max_stitches", "window", "stride", "stages")]
    + [("stitching", k) for k in ("rank", "ranks")]
    + [(*section.split("."), key) for section, fields in SECTIONS.items() for key in (*fields, "typo")]
    + [("training", k) for k in ("anchors", "stitching", "both")]
    + [("run", "anchors", "lr"), ("run", "stitching", "epochs"), ("run", "stitching", "lr")]
)
SMALL = {"kwargs", "input_size"}  # no huge numbers: they would build huge models


def _yaml(doc) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _sound_sections(space) -> None:
    """Whatever loads obeys the typed table (:data:`SECTIONS`) and the anchors' top-1 range."""
    for section, fields in SECTIONS.items():
        node = space.extra if section != "stitching" else {"stitching": {"rank": space.rank}}
        for part in section.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        for key, value in (node or {}).items():
            assert key in fields and fields[key].ok(value), (section, key, value)
    assert all(a is None or 0 <= a <= 100 for a in space.anchor_acc1)


@fuzz(70)
@given(data=as_text(mutated(SPACE, SPACE_PATHS, SMALL), _yaml))
def test_every_space_section_loads_or_refuses(work, data):
    path = work / "space.yaml"
    path.write_bytes(data)
    try:
        space = load_space(path)
    except StitchnasError as err:
        event("refused")
        assert str(err) and "\n" not in str(err).strip()
        return
    event("loaded")
    _sound_sections(space)


@fuzz(6)
@given(data=as_text(mutated(SPACE, SPACE_PATHS, SMALL, most=2), _yaml, damaged=2))
def test_enumerate_any_space_section(work, data):
    path = work / "space_cli.yaml"
    path.write_bytes(data)
    code, out, err = run_main(["enumerate", path])
    event(f"exit {code}")
    if code != 0:
        one_line_error(code, out, err)


# ---------------------------------------------------------------------------------------------
# (b) fronts: hand-edited members are answered from only when they are the space's stitches
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def front_doc(tiny) -> dict:
    rows = [(0, 60.0, 1000, 1.0), (2, 65.0, 2000, 2.0), (3, 70.0, 3000, 3.0), (1, 80.0, 4000, 4.0)]
    members = [FrontPoint(id=i, route=tiny.candidate(i).route, acc1=acc, acc1_source="measured",
                          flops=f, params=f // 10, latency_ms=lat, memory_mb=lat * 10, is_anchor=i < 2)
               for i, acc, f, lat in rows]
    return Front(space=tiny.name, space_hash=tiny.content_hash, target="cpu",
                 objectives=("acc1", "latency_ms", "flops"), members=tuple(members),
                 target_budgets={"max_latency_ms": 50.0}).to_json()


MEMBER_KEYS = ("id", "route", "acc1", "acc1_source", "acc1_std", "flops", "params", "latency_ms",
               "memory_mb", "is_anchor")
FRONT_PATHS = (
    [(k,) for k in ("format", "space", "space_hash", "target", "target_budgets", "objectives",
                    "members", "measured_ids", "study")]
    + [("members", i) for i in range(4)] + [("objectives", 1), ("objectives", 2)]
    + [("target_budgets", k) for k in ("max_latency_ms", "max_flops", "max_memory_mb")]
    + [("members", i, k) for i in range(4) for k in MEMBER_KEYS] * 3
    + [("members", i, "route", 0, j) for i in range(4) for j in range(3)]
    + [("members", i, "route", 1) for i in range(4)]
)
# members' numbers near the valid ones (other ids, routes of other candidates, dominated values)
NEAR = st.one_of(st.integers(-1, 15), st.floats(-10, 120), st.sampled_from([1e9, 10 ** 400, 5000.0]),
                 st.lists(st.integers(-1, 5), min_size=3, max_size=3), values())


def _front_bytes(doc_strategy) -> st.SearchStrategy:
    return as_text(doc_strategy, lambda d: json.dumps(d, allow_nan=True), damaged=3)


def _sound_front(front, tiny) -> None:
    for m in front.members:
        assert tiny.candidate(m.id).route == m.route
        assert 0 <= m.acc1 <= 100 and m.flops >= 0 and m.params >= 0
        assert all(v is None or (math.isfinite(v) and v >= 0) for v in (m.latency_ms, m.memory_mb))


@fuzz(120)
@given(data=st.data())
def test_fronts_load_or_refuse(tiny, front_doc, work, data):
    raw = data.draw(_front_bytes(mutated(front_doc, FRONT_PATHS, value_strategy=NEAR)))
    path = work / "front.json"
    path.write_bytes(raw)
    try:
        front = load_front(tiny, path=path)
    except StitchnasError as err:
        event("refused")
        assert str(err) and "\n" not in str(err).strip()
        return
    event("loaded")
    _sound_front(front, tiny)
    front.best()


LIMITS = ["--max-latency-ms", "--max-flops", "--max-params", "--max-memory-mb", "--min-acc1"]


@fuzz(40)
@given(data=st.data())
def test_query_answers_only_from_sound_fronts(tiny, front_doc, work, data):
    raw = data.draw(_front_bytes(mutated(front_doc, FRONT_PATHS, value_strategy=NEAR, most=2)))
    path = work / "front_cli.json"
    path.write_bytes(raw)
    limit = data.draw(st.sampled_from(LIMITS))
    value = data.draw(st.one_of(st.sampled_from(["3", "2500", "65", "0", "1e9"]), NUMBERISH))
    space = data.draw(st.sampled_from([["tiny_test"], []]))  # --front alone: the bundled space
    code, out, err = run_main(["query", *space, "--front", path, limit, value])
    event(f"exit {code}")
    if code == 0:
        answer = json.loads(out)
        assert tiny.candidate(answer["id"]).route.to_json() == answer["route"]
        assert 0 <= answer["acc1"] <= 100
    elif code == 1:
        assert err.startswith("stitchnas: nothing fits:") and err.count("\n") == 1
    else:
        one_line_error(code, out, err)


# ---------------------------------------------------------------------------------------------
# (c) latency tables
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def table_doc(tiny) -> dict:
    return profile_latency(tiny, "cpu", repeats=1, warmup=0, progress=False).to_json()


PIECES = ["stem:0", "block:0:1", "block:1:3", "head:1", "stitch:0:2>1:2", "block:0:9"]
TABLE_PATHS = (
    [(k,) for k in ("format", "space", "target", "machine", "pieces", "memory", "overhead", "meta")]
    + [("pieces", p) for p in PIECES]
    + [("pieces", p, s) for p in PIECES for s in ("median_ms", "p10_ms", "p90_ms", "iqr_ms")] * 2
    + [("memory", "input_bytes"), ("memory", "pieces")]
    + [("memory", "pieces", p, s) for p in PIECES for s in ("input_bytes", "params_bytes", "peak_bytes")]
    + [("overhead", k) for k in ("per_network_ms", "per_stitch_ms")]
    + [("space", "structure_hash"), ("target", "settings")]
)


@fuzz(50)
@given(data=st.data())
def test_latency_tables_load_or_refuse(tiny, table_doc, work, data):
    assert {p.split(":")[0] for p in table_doc["pieces"]} >= {"stem", "block", "head", "stitch"}
    raw = data.draw(as_text(mutated(table_doc, TABLE_PATHS), lambda d: json.dumps(d, allow_nan=True),
                            damaged=3))
    path = work / "table.json"
    path.write_bytes(raw)
    try:
        table = load_latency_table(tiny, "cpu", path=path, check_machine=False)
    except StitchnasError as err:
        event("refused")
        assert str(err) and "\n" not in str(err).strip()
        return
    event("loaded")
    for s in table.profile():  # every route keeps a finite latency and memory: none vanishes
        assert math.isfinite(s.latency_ms) and s.latency_ms >= 0
        assert math.isfinite(s.memory_mb) and s.memory_mb >= 0


@fuzz(15)
@given(data=st.data())
def test_profile_latency_shows_or_refuses_a_table(table_doc, work, data):
    raw = data.draw(as_text(mutated(table_doc, TABLE_PATHS, most=2), lambda d: json.dumps(d, allow_nan=True),
                            damaged=2))
    path = work / "table_cli.json"
    path.write_bytes(raw)
    code, out, err = run_main(["profile-latency", "tiny_test", "--target", "cpu", "--any-machine",
                               "--out", path])
    event(f"exit {code}")
    if code != 0:
        one_line_error(code, out, err)
    assert path.read_bytes() == raw  # shown, never rewritten


# ---------------------------------------------------------------------------------------------
# (d) command-line numbers
# ---------------------------------------------------------------------------------------------
FUZZED = {"search": ["search", "tiny_test", "--target", "cpu"], "query": ["query", "tiny_test"],
          "train": ["train", "tiny_test"], "evaluate": ["evaluate", "tiny_test"],
          "profile-latency": ["profile-latency", "tiny_test", "--target", "cpu"],
          "predict": ["predict", "tiny_test"], "train-anchors": ["train-anchors", "tiny_test"],
          "run": ["run", "tiny_test"], "suggest": ["suggest", "tiny_test"],
          "predictor-cv": ["predictor-cv", "tiny_test"], "export": ["export", "tiny_test"]}


def _typed_options() -> list[tuple[str, str, str, object]]:
    """(command, flag, dest, type) of every option with a value type (numbers, seeds, devices, ...)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    out = []
    for command in FUZZED:
        for action in sub[command]._actions:
            if action.option_strings and action.type not in (None, str) and not action.choices:
                out.append((command, action.option_strings[-1], action.dest, action.type))
    return out


TYPED = _typed_options()
NUMBERISH = st.one_of(
    st.integers(-(10 ** 30), 10 ** 30).map(str), FLOATS.map(repr), FLOATS.map(str), st.text(max_size=10),
    st.sampled_from(["nan", "-nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999", "1e-400", "-0",
                     "0", "1", "2", "0.5", "0x10", "1_000", " 3 ", "3\n", "1.5G", "2k", "-1G", "1e3M",
                     "١٢", "all", "ALL", "9" * 5000, "1" + "0" * 400, "s=70", "s=nan", "l=1e999", "=5",
                     "s=", "cpu", "cuda:0", "cuda:-1", "gpu", "\x1b[31m", "a" * 3000]),
)
_SANE = {  # what a parsed value of each type must be
    "positive_int": lambda v: isinstance(v, int) and v >= 1,
    "nonnegative_int": lambda v: isinstance(v, int) and v >= 0,
    "positive_float": lambda v: math.isfinite(v) and v > 0,
    "nonnegative_float": lambda v: math.isfinite(v) and v >= 0,
    "seed": lambda v: isinstance(v, int) and 0 <= v < 2 ** 32,
    "fraction": lambda v: 0 < v < 1,
    "amount": lambda v: math.isfinite(v) and v >= 0,
    "validate_count": lambda v: v == "all" or (isinstance(v, int) and v >= 0),
}


def test_every_command_has_typed_numbers():
    flags = {(c, f) for c, f, _, _ in TYPED}
    for command, flag in [("search", "--seed"), ("search", "--trials"), ("query", "--max-flops"),
                          ("train", "--lr"), ("train", "--epochs"), ("evaluate", "--batch-size"),
                          ("profile-latency", "--repeats"), ("predict", "--seed")]:
        assert (command, flag) in flags


@fuzz(150)
@given(option=st.sampled_from(TYPED), value=NUMBERISH, glued=st.booleans())
def test_command_line_numbers_parse_or_refuse(monkeypatch, option, value, glued):
    """Every typed option of search/query/train/evaluate/profile-latency/predict (and the other
    commands that take numbers) with random text: parsed into a sane value, or one line, exit 2.
    ``run`` is replaced, so nothing trains, measures or times."""
    command, flag, dest, kind = option
    seen = {}
    cls = next(c for c in COMMANDS if c.name == command)
    monkeypatch.setattr(cls, "run", lambda self, args: seen.setdefault("args", args) and 0)
    argv = [*FUZZED[command], *([f"{flag}={value}"] if glued else [flag, value])]
    code, out, err = run_main(argv)
    event(f"exit {code}")
    if code != 0:
        one_line_error(code, out, err)
        assert flag in err or "argument" in err or "unrecognized" in err, err
        return
    parsed = getattr(seen["args"], dest)
    parsed = parsed[-1] if isinstance(parsed, list) else parsed
    sane = _SANE.get(getattr(kind, "__name__", ""))
    if sane is not None:
        assert sane(parsed), (flag, value, parsed)


@fuzz(40)
@given(name=st.sampled_from(["s", "l", "x"]), value=NUMBERISH)
def test_anchor_acc_values_are_checked_before_work(tiny, name, value):
    """``--anchor-acc NAME=ACC`` parses any float; the space refuses it unless it is a top-1
    in 0..100 of one of its anchors (before any search starts)."""
    try:
        acc = float(value)
    except ValueError:
        return
    try:
        space = tiny.with_anchor_acc1({name: acc})
    except StitchnasError as err:
        assert "\n" not in str(err)
        return
    assert all(a is None or 0 <= a <= 100 for a in space.anchor_acc1)
