"""A damaged or hand-edited latency table is refused on load, in one line naming the piece.

Before these checks, NaN in one piece's timing loaded silently and every route through that
piece vanished from the front (NaN compares false with every budget and every other latency).
Now every timing and byte count must be a finite number >= 0, the overhead constants finite,
and the pieces exactly the space's: missing ones and ones the space does not have are named.
The table is a real one of the bundled ``tiny_test`` space, timed once (one repeat).
"""

from __future__ import annotations

import copy
import json

import pytest
from support import run_cli

from stitchnas.costs import cpu_name, latency_table_path, load_latency_table, profile_latency
from stitchnas.errors import StitchnasError
from stitchnas.space import load_space


@pytest.fixture(scope="module")
def tiny():
    return load_space("tiny_test")


@pytest.fixture(scope="module")
def table_doc(tiny) -> dict:
    return profile_latency(tiny, "cpu", repeats=1, warmup=0, progress=False).to_json()


def setter(*path, value):
    def apply(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return apply


def deleter(*path):
    def apply(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return apply


def adder(section):
    def apply(doc):
        node = doc["pieces"] if section == "pieces" else doc["memory"]["pieces"]
        node["block:0:9"] = copy.deepcopy(node["block:0:3"])
    return apply


NAN, INF = float("nan"), float("inf")
# (case, edit, substrings of the one line: the field, the problem)
BROKEN = [
    ("p10-nan", setter("pieces", "block:0:2", "p10_ms", value=NAN),
     ("piece 'block:0:2' has p10_ms nan", "timings must be finite numbers >= 0")),
    ("median-inf", setter("pieces", "head:1", "median_ms", value=INF), ("piece 'head:1' has median_ms inf",)),
    ("p90-negative", setter("pieces", "stem:0", "p90_ms", value=-1.0), ("piece 'stem:0' has p90_ms -1.0",)),
    ("iqr-string", setter("pieces", "block:1:0", "iqr_ms", value="fast"),
     ("piece 'block:1:0' has iqr_ms 'fast'",)),
    ("p10-bool", setter("pieces", "block:1:1", "p10_ms", value=True), ("piece 'block:1:1' has p10_ms True",)),
    ("p10-huge-int", setter("pieces", "block:1:2", "p10_ms", value=10 ** 400), ("piece 'block:1:2' has p10_ms",)),
    ("p10-missing", deleter("pieces", "block:0:1", "p10_ms"), ("piece 'block:0:1' has no 'p10_ms'",)),
    ("piece-not-mapping", setter("pieces", "block:0:0", value=3.5), ("piece 'block:0:0' must map",)),
    ("samples-nan", setter("pieces", "block:0:2", "samples_ms", value=[NAN]),
     ("piece 'block:0:2' has samples_ms [nan]", "one per round")),
    ("samples-empty", setter("pieces", "stem:1", "samples_ms", value=[]), ("piece 'stem:1' has samples_ms []",)),
    ("samples-not-list", setter("pieces", "head:0", "samples_ms", value=0.5),
     ("piece 'head:0' has samples_ms 0.5", "non-empty list")),
    ("samples-misaligned", setter("pieces", "head:1", "samples_ms", value=[0.1, 0.2]),
     ("samples_ms do not line up", "one time per round (lengths [1, 2])")),
    ("samples-missing", deleter("pieces", "stem:0", "samples_ms"),
     ("samples_ms do not line up", "(lengths [0, 1])")),
    ("peak-nan", setter("memory", "pieces", "block:0:3", "peak_bytes", value=NAN),
     ("memory of piece 'block:0:3' has peak_bytes nan", "byte counts must be finite numbers >= 0")),
    ("params-bytes-negative", setter("memory", "pieces", "head:0", "params_bytes", value=-8),
     ("memory of piece 'head:0' has params_bytes -8",)),
    ("input-bytes-nan", setter("memory", "input_bytes", value=NAN), ("'memory.input_bytes' is nan",)),
    ("overhead-nan", setter("overhead", "per_stitch_ms", value=NAN), ("overhead per_stitch_ms is nan",)),
    ("piece-missing", deleter("pieces", "block:1:3"),
     ("lacks the timings of 1 piece(s) of space 'tiny_test' (block:1:3)", "it is incomplete")),
    ("memory-piece-missing", deleter("memory", "pieces", "head:1"),
     ("lacks the memory of 1 piece(s) of space 'tiny_test' (head:1)",)),
    ("piece-extra", adder("pieces"),
     ("holds timings of 1 piece(s) space 'tiny_test' does not have (block:0:9)",)),
    ("memory-piece-extra", adder("memory"),
     ("holds memory of 1 piece(s) space 'tiny_test' does not have (block:0:9)",)),
]


@pytest.fixture
def broken(table_doc, tmp_path, request):
    name, apply, says = request.param
    doc = copy.deepcopy(table_doc)
    apply(doc)
    path = tmp_path / "table.json"
    path.write_text(json.dumps(doc))
    return path, says


@pytest.mark.parametrize("broken", BROKEN, ids=[b[0] for b in BROKEN], indirect=True)
def test_load_refuses(tiny, broken):
    path, says = broken
    with pytest.raises(StitchnasError) as err:
        load_latency_table(tiny, "cpu", path=path, check_machine=False)
    text = str(err.value)
    assert "\n" not in text and f"latency table {path}" in text
    for s in says:
        assert s in text, text
    assert "re-profile with `stitchnas profile-latency tiny_test --target cpu" in text


@pytest.mark.parametrize("broken", BROKEN, ids=[b[0] for b in BROKEN], indirect=True)
def test_profile_latency_cli_refuses(broken, capsys):
    """`profile-latency --any-machine` shows a saved table: a damaged one is one line, exit 2,
    and is left as it is (never overwritten)."""
    path, says = broken
    before = path.read_bytes()
    code, out, err = run_cli(capsys, "profile-latency", "tiny_test", "--target", "cpu", "--any-machine",
                             "--out", path)
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith("stitchnas: error: latency table") and err.count("\n") == 1, err
    assert says[0] in err
    assert path.read_bytes() == before


def test_good_table_loads(tiny, table_doc, tmp_path):
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table_doc))
    table = load_latency_table(tiny, "cpu", path=path, check_machine=False)
    assert all(s.latency_ms > 0 and s.memory_mb > 0 for s in table.profile())


def test_search_refuses_a_nan_piece_instead_of_dropping_its_routes(tiny, table_doc, tmp_path, capsys,
                                                                    monkeypatch):
    """The issue's case: NaN in one piece used to drop every route through it from the front.
    Now `search` on that table stops before writing anything."""
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    doc = copy.deepcopy(table_doc)
    doc["pieces"]["block:0:2"]["p10_ms"] = NAN
    path = latency_table_path(tiny, "cpu")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    code, out, err = run_cli(capsys, "search", "tiny_test", "--target", "cpu", "--anchor-acc", "s=60",
                             "--anchor-acc", "l=70", "--out", tmp_path / "out")
    assert code == 2 and out == "", (code, out, err)
    assert "piece 'block:0:2' has p10_ms nan" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("median_pct, warns, cpu", [(1000.0, True, None), (0.0, False, None),
                                                   (0.0, False, "Another CPU 9000")])
def test_search_warns_when_its_latency_front_is_within_the_tables_error(tiny, table_doc, tmp_path,
                                                                        capsys, monkeypatch,
                                                                        median_pct, warns, cpu):
    """`search` on a latency target says, in one line, when its front keeps members faster than a
    more accurate one by less than the table's validation error (here a table whose error is
    set to 1000%: every step; at 0% none), and still saves the front, which carries the error
    and the table's machine; a table timed on another CPU model is noted in one line."""
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    doc = copy.deepcopy(table_doc)
    for key, st in doc["pieces"].items():  # l's blocks cost twice s's: latency grows with FLOPs,
        ms = 2.0 if key.startswith("block:1:") else 1.0 if key.startswith("block:") else 0.1
        st.update(median_ms=ms, p10_ms=ms, p90_ms=ms, iqr_ms=0.0, samples_ms=[ms] * st["repeats"])
    doc["validation"] = {"composition": "plain sum",  # so the front holds s, l and stitches between
                         "raw": {"median_ape_pct": median_pct, "worst_ape_pct": median_pct}}
    if cpu:
        doc["machine"] = {**doc["machine"], "cpu": cpu}
    path = latency_table_path(tiny, "cpu")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    code, out, err = run_cli(capsys, "search", "tiny_test", "--target", "cpu", "--anchor-acc", "s=60",
                             "--anchor-acc", "l=70", "--out", tmp_path / "out")
    assert code == 0 and "tiny_test on cpu: front of" in out, err
    lines = [line for line in err.splitlines() if line.startswith("stitchnas: warning:")]
    if warns:
        assert len(lines) == 1, (out, err)
        assert f"latency steps within the table's median error ({median_pct:.1f}%)" in lines[0]
        assert "batch_size above 1, e.g. cpu_batch64" in lines[0]
    else:
        assert lines == [], err
    other = [line for line in err.splitlines() if "not on this machine" in line]
    assert len(other) == (1 if cpu else 0), err
    if cpu:
        assert other[0].startswith(f"stitchnas: note: the cpu latencies are from a table timed on {cpu}, ")
        assert other[0].endswith(f"not on this machine ({cpu_name()}): the front orders stitches by that "
                                 "machine's times")
    saved = json.loads((tmp_path / "out" / "tiny_test" / "cpu" / "front.json").read_text())
    assert saved["latency_error_pct"] == median_pct and saved["latency_machine"] == doc["machine"]
