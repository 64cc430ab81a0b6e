"""Saved fronts: query semantics, file round trip, atomic writes, building and exporting a stitch.

Fronts are built by hand from the bundled ``tiny_test`` space: real ids, routes, FLOPs and params
(from the profiler), fabricated accuracies and latencies.
"""

import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from importlib.util import find_spec

import pytest
import torch
from support import run_cli

import stitchnas
from stitchnas.fronts import _plot as front_plot  # render_front_png looks _panel up there
from stitchnas.network import save_checkpoint
from stitchnas.errors import StitchnasError
from stitchnas.fronts import (Front, FrontPoint, NothingFits, load_front, save_front)
from stitchnas.network import build_model, export_model
from stitchnas.network import StitchedNetwork
from stitchnas.costs import Profiler
from stitchnas.space import load_space


@pytest.fixture(scope="module")
def space():
    return load_space("tiny_test")


@pytest.fixture(scope="module")
def costs(space):
    return {c.id: c for c in Profiler(space, use_cache=False, progress=False).profile()}


def point(costs, cid, acc1, latency=None, memory=None, source="measured", **kw):
    c = costs[cid]
    return FrontPoint(id=cid, route=c.route, acc1=acc1, acc1_source=source, acc1_std=kw.pop("std", None),
                      flops=kw.pop("flops", c.flops), params=kw.pop("params", c.params),
                      latency_ms=latency, memory_mb=memory, is_anchor=c.route.num_stitches == 0)


def make_front(space, members, objectives=("acc1", "latency_ms", "flops"), **kw):
    kw.setdefault("target", "cpu")
    return Front(space=space.name, space_hash=space.content_hash, objectives=objectives,
                 members=tuple(members), **kw)


@pytest.fixture(scope="module")
def front(space, costs):
    """A latency front: ids 0 and 1 are the anchors (s, l), the rest stitches."""
    return make_front(space, [
        point(costs, 0, 70.0, latency=2.0, memory=10.0),
        point(costs, 2, 74.5, latency=3.0, memory=12.0, source="predicted", std=0.8),
        point(costs, 5, 77.0, latency=4.5, memory=14.0),
        point(costs, 3, 79.0, latency=6.0, memory=15.0, source="predicted", std=1.1),
        point(costs, 1, 80.0, latency=7.2, memory=20.0),
    ], target_budgets={"max_latency_ms": 10.0}, predictor="gp", measurements="m.jsonl",
        measured_ids=3, study={"storage": "postgresql://nas:hunter2@db/optuna", "study_name": "s",
                               "n_trials": 40, "sampler": "NSGAIISampler", "seed": 0})




# ---- query semantics -------------------------------------------------------------------------
def test_members_sorted_by_first_cost_and_password_masked(front, space):
    assert [m.latency_ms for m in front.members] == [2.0, 3.0, 4.5, 6.0, 7.2]
    assert front.cost_objectives == ("latency_ms", "flops")
    assert front.study["storage"] == "postgresql://nas:***@db/optuna"
    assert front.target_budgets == {"max_latency_ms": 10.0, "max_memory_mb": None, "max_flops": None,
                                    "max_params": None}
    assert front.best().id == 1  # no limits: the most accurate member


@pytest.mark.parametrize("limit, value, best_id", [
    ("max_latency_ms", 5.0, 5), ("max_latency_ms", 4.5, 5), ("max_latency_ms", 4.49, 2),
    ("max_memory_mb", 15.0, 3), ("max_memory_mb", 11.0, 0), ("min_acc1", 79.5, 1),
])
def test_best_within_each_budget(front, limit, value, best_id):
    assert front.best(**{limit: value}).id == best_id
    fitting = front.fits(**{limit: value})
    assert best_id in [m.id for m in fitting]
    assert all(front.best(**{limit: value}).acc1 >= m.acc1 for m in fitting)


def test_repr_is_one_line_naming_the_front_and_what_was_searched(front, space, costs):
    """Printing a front (or a search's result, which holds one) in a notebook shows one line, not
    every field of every member; a front from part of the space says so there too."""
    text = repr(front)
    assert "\n" not in text and len(text) < 200
    assert text == (f"Front({space.name!r}, target='cpu', objectives=('acc1', 'latency_ms', 'flops'), "
                    "5 members: ids [0, 2, 5, 3, 1])")
    partial = dataclasses.replace(front, study={"distinct_candidates": 4, "candidates": 9})
    assert repr(partial).endswith(
        "ids [0, 2, 5, 3, 1], evaluated 4 of 9 candidates; the front may be incomplete)")
    ids = sorted(costs)[:14]
    many = make_front(space, [point(costs, i, 60.0 + k, latency=1.0 + k) for k, i in enumerate(ids)])
    assert f"14 members: ids [{', '.join(map(str, ids[:12]))}, ...]" in repr(many)


def test_an_accuracy_floor_alone_asks_for_the_cheapest_member_reaching_it(front, space, costs):
    """`--min-acc1 76` alone means "what does 76% cost?": the fastest member with at least 76%
    (a budget beside it keeps the usual answer, the most accurate within the budget)."""
    assert front.best(min_acc1=76).id == 5  # 77.0% at 4.5 ms, not the 80% anchor
    assert front.best(min_acc1=74.5).id == 2  # inclusive
    assert front.best(min_acc1=70).id == 0
    assert front.best(min_acc1=76, max_latency_ms=6.5).id == 3  # with a budget: most accurate in it
    f = make_front(space, [point(costs, 4, 71.0, flops=900), point(costs, 6, 75.0, flops=1200),
                           point(costs, 7, 78.0, flops=2000)], objectives=("acc1", "flops"))
    assert f.best(min_acc1=72).id == 6  # a FLOPs front: the fewest FLOPs
    with pytest.raises(NothingFits, match="the most accurate member reaches 78.00%"):
        f.best(min_acc1=79)


def test_flops_and_params_budgets(front, costs):
    by_flops = sorted(front.members, key=lambda m: m.flops)
    cheap = by_flops[1]
    best = front.best(max_flops=cheap.flops)  # inclusive: exactly the limit fits
    assert best.flops <= cheap.flops
    assert best.acc1 == max(m.acc1 for m in by_flops[:2] if m.flops <= cheap.flops)
    by_params = sorted(front.members, key=lambda m: m.params)
    best = front.best(max_params=by_params[0].params)
    assert best.params == by_params[0].params


def test_several_budgets_at_once(front):
    assert front.best(max_latency_ms=6.5, max_memory_mb=14.0).id == 5
    assert front.best(max_latency_ms=6.5, max_memory_mb=14.0, min_acc1=75).id == 5
    assert [m.id for m in front.fits(max_latency_ms=6.5, max_memory_mb=14.0)] == [0, 2, 5]
    with pytest.raises(NothingFits):
        front.best(max_latency_ms=6.5, max_memory_mb=14.0, min_acc1=78)


def test_ties_on_acc1_go_to_lower_latency_then_flops_then_params_then_id(space, costs):
    f = make_front(space, [point(costs, 4, 75.0, latency=3.0), point(costs, 6, 75.0, latency=2.5),
                           point(costs, 7, 70.0, latency=1.0)])
    assert f.best().id == 6  # equal acc1: the faster one
    f = make_front(space, [point(costs, 4, 75.0, latency=2.0, flops=900, params=10),
                           point(costs, 6, 75.0, latency=2.0, flops=800, params=50)])
    assert f.best().id == 6  # equal latency: fewer flops
    f = make_front(space, [point(costs, 4, 75.0, latency=2.0, flops=800, params=40),
                           point(costs, 6, 75.0, latency=2.0, flops=800, params=30)])
    assert f.best().id == 6  # equal flops: fewer params
    f = make_front(space, [point(costs, 6, 75.0, latency=2.0, flops=800, params=30),
                           point(costs, 4, 75.0, latency=2.0, flops=800, params=30)])
    assert f.best().id == 4  # all equal: the lower id
    # a FLOPs-only front: no latency to compare, flops decide
    f = make_front(space, [point(costs, 4, 75.0, flops=900), point(costs, 6, 75.0, flops=700)],
                   objectives=("acc1", "flops"))
    assert f.best().id == 6


def test_nothing_fits_names_the_tightest_member(front):
    with pytest.raises(NothingFits) as err:
        front.best(max_latency_ms=1.5)
    assert str(err.value) == ("nothing on the front of tiny_test for target 'cpu' fits "
                              "max_latency_ms=1.5 ms: the fastest member takes 2 ms (id 0)")
    with pytest.raises(NothingFits, match=r"fits min_acc1=90.00%: the most accurate member reaches "
                                          r"80\.00% \(id 1\)"):
        front.best(min_acc1=90)
    with pytest.raises(NothingFits, match=r"the cheapest member needs [\d,]+ flops \(id 0\)"):
        front.best(max_flops=10)
    with pytest.raises(NothingFits, match=r"max_latency_ms=3 ms, min_acc1=79.00% together: each limit alone "
                                          r"is met .* but no member meets all of them"):
        front.best(max_latency_ms=3, min_acc1=79)
    assert front.fits(max_latency_ms=1.5) == []
    assert issubclass(NothingFits, StitchnasError)


def test_latency_budget_on_flops_only_front_is_a_clear_error(space, costs):
    f = make_front(space, [point(costs, 0, 70.0), point(costs, 1, 80.0)], objectives=("acc1", "flops"))
    for kw in ({"max_latency_ms": 20}, {"max_memory_mb": 100}):
        with pytest.raises(StitchnasError, match="has no (latency|memory) values") as err:
            f.best(**kw)
        assert not isinstance(err.value, NothingFits)
        assert "profile-latency" in str(err.value) and "--max-flops" in str(err.value)
    assert f.best(max_flops=costs[0].flops).id == 0


def test_bad_points_and_fronts_are_rejected(space, costs):
    with pytest.raises(StitchnasError, match="acc1_source"):
        point(costs, 0, 70.0, source="guessed")
    with pytest.raises(StitchnasError, match="finite"):
        point(costs, 0, float("nan"))
    with pytest.raises(StitchnasError, match="more than once"):
        make_front(space, [point(costs, 0, 70.0), point(costs, 0, 71.0)])
    with pytest.raises(StitchnasError, match="objectives"):
        make_front(space, [], objectives=("acc1", "speed"))
    with pytest.raises(StitchnasError, match="must be a number"):
        make_front(space, [point(costs, 0, 70.0, latency=1.0)]).best(max_latency_ms="fast")


# ---- files -----------------------------------------------------------------------------------
def test_round_trip_save_load(front, space, costs, tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    others = [point(costs, c, 60.0 + c, latency=1.0 + c) for c in costs]
    path = save_front(front, all_points=others)
    assert path == tmp_path / "results" / "tiny_test" / "cpu" / "front.json"
    assert {p.name for p in path.parent.iterdir()} == {"front.json", "front.csv", "front.png"}
    assert (path.parent / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = load_front("tiny_test", target="cpu")
    assert loaded == front and loaded.members == front.members
    assert load_front(space, path=path) == front == load_front(path=path)
    assert stitchnas.load_front is load_front and stitchnas.FrontPoint is FrontPoint
    doc = json.loads(path.read_text())
    assert doc["format"] == "stitchnas-front/1" and doc["space_hash"] == space.content_hash
    assert doc["members"][1]["route_str"] == str(costs[2].route)
    assert doc["members"][1]["acc1_source"] == "predicted"
    assert "hunter2" not in path.read_text()
    lines = (path.parent / "front.csv").read_text().splitlines()
    assert lines[0] == "id,route,acc1,acc1_source,acc1_std,flops,params,latency_ms,memory_mb,is_anchor"
    assert len(lines) == 6 and lines[1].startswith(f"0,{costs[0].route},70.0,measured,,")
    assert lines[1].endswith(",True")
    # numpy scalars (what a search hands over) are stored as plain numbers
    np = pytest.importorskip("numpy")
    p = FrontPoint(id=np.int64(5), route=costs[5].route, acc1=np.float32(77.5),
                   acc1_source="predicted", flops=np.int64(costs[5].flops), params=costs[5].params,
                   is_anchor=np.bool_(False))
    assert FrontPoint.from_json(json.loads(json.dumps(p.to_json()))) == p


def test_hash_mismatch_and_missing_front(front, space, tmp_path):
    other = Front(**{**{k: getattr(front, k) for k in ("space", "target", "objectives", "members")},
                     "space_hash": "0123456789abcdef"})
    path = save_front(other, tmp_path / "f")
    with pytest.raises(StitchnasError, match=r"searched on another version of the space 'tiny_test' "
                                             r"\(hash 0123456789abcdef != [0-9a-f]{16}\): re-run "
                                             r"`stitchnas search tiny_test --target cpu`"):
        load_front(space, path=path)
    load_front(path=path)  # without a space there is nothing to compare
    with pytest.raises(StitchnasError, match=r"no front at .*tiny_test/cuda/front.json: make it with "
                                             r"`stitchnas search tiny_test --target cuda`"):
        load_front("tiny_test", target="cuda", results=tmp_path)
    with pytest.raises(StitchnasError, match=r"no front for target 'gpu' at .*; did you mean cpu\?"):
        load_front("tiny_test", target="gpu", results=tmp_path)  # neither bundled nor a file


def test_a_mistyped_space_name_is_told_the_spaces_and_saved_folders_it_is_close_to(front, tmp_path, capsys):
    save_front(front, tmp_path / "my_space" / "cpu")  # a space only its results folder knows
    with pytest.raises(StitchnasError, match=r"no space 'tiny_tset': not a bundled space, .*no results folder "
                                             r".*; did you mean tiny_test\b"):
        load_front("tiny_tset", target="cpu", results=tmp_path)
    code, out, err = run_cli(capsys, "--results", tmp_path, "query", "my_spcae", "--target", "cpu")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "no space 'my_spcae'" in err and "did you mean my_space?" in err
    assert load_front("my_space", target="cpu", results=tmp_path).members == front.members  # folder only: read



@pytest.mark.parametrize("target", ["../up", "a/b", "..", "my target"])
def test_a_target_that_is_not_a_plain_name_is_refused_by_the_one_rule(front, tmp_path, target):
    # saving (even into a folder given) and reading name results by the same rule, paths.check_name
    bad = Front(**{**{k: getattr(front, k) for k in ("space", "space_hash", "objectives", "members")},
                   "target": target})
    rule = r"target name must be a name of letters, digits"
    with pytest.raises(StitchnasError, match=rule):
        save_front(bad, tmp_path / "f")
    with pytest.raises(StitchnasError, match=rule):
        stitchnas.fronts.front_path("tiny_test", target, tmp_path)
    assert not (tmp_path / "f").exists()

@pytest.mark.parametrize("mangle, message", [
    (lambda text: text[: len(text) // 2], "is not valid JSON"),
    (lambda text: "\x00garbage{{", "is not valid JSON"),
    (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "members"}),
     r"missing key\(s\) \['members'\]"),
    (lambda text: text.replace('"acc1": 70.0', '"acc1": "high"'), "'acc1' must be a number"),
    (lambda text: text.replace('"flops": ', '"flops": 1.5, "x": '), "'flops' must be an integer"),
    (lambda text: text.replace('[\n     0,\n     0,\n     4\n    ]', '[\n     0,\n     4,\n     4\n    ]'),
     "empty or negative"),
    (lambda text: "[]", "expected a JSON object"),
])
def test_broken_front_file_is_one_line_error(front, tmp_path, capsys, mangle, message):
    path = save_front(front, tmp_path)
    path.write_text(mangle(path.read_text()))
    with pytest.raises(StitchnasError, match=message) as err:
        load_front(path=path)
    assert str(path) in str(err.value) and "stitchnas search" in str(err.value)
    code, out, err_text = run_cli(capsys, "query", "--front", path)
    assert code == 2 and out == ""
    assert err_text.startswith("stitchnas: error: front file") and err_text.count("\n") == 1


def test_fronts_load_and_query_without_torch(saved):
    code = ("import sys, stitchnas; from stitchnas.fronts import load_front, Front; "
            f"f = load_front(path={str(saved)!r}); assert f.best(max_latency_ms=5).id == 5; "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_building_lives_in_network():
    import stitchnas.fronts
    import stitchnas.network

    assert stitchnas.build_model is build_model is stitchnas.network.build_model
    assert stitchnas.export_model is export_model is stitchnas.network.export_model
    assert not hasattr(stitchnas.fronts, "build_model")  # fronts never build (no torch there)


def test_broken_front_from_the_console_has_no_traceback(front, tmp_path):
    path = save_front(front, tmp_path)
    path.write_text(path.read_text()[:100])
    proc = subprocess.run([sys.executable, "-m", "stitchnas", "query", "tiny_test", "--front", str(path)],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "truncated or garbled" in proc.stderr


def _tmp_leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def test_writes_are_atomic(front, space, costs, tmp_path, monkeypatch):
    path = save_front(front, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    newer = make_front(space, [point(costs, 0, 71.0, latency=2.0)])

    def broken_panel(*args, **kwargs):  # the plot fails midway
        raise RuntimeError("plot failed")

    with monkeypatch.context() as m:
        m.setattr(front_plot, "_panel", broken_panel)
        with pytest.raises(RuntimeError, match="plot failed"):
            save_front(newer, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    real_replace = os.replace

    def failing_replace(src, dst):  # the last rename (front.json) fails
        if str(dst).endswith("front.json"):
            raise OSError("disk full")
        return real_replace(src, dst)

    with monkeypatch.context() as m:
        m.setattr(os, "replace", failing_replace)
        with pytest.raises(OSError, match="disk full"):
            save_front(newer, tmp_path)
    assert path.read_bytes() == before["front.json"]  # the old front is intact and loads
    assert load_front(space, path=path) == front
    assert _tmp_leftovers(tmp_path) == []
    save_front(newer, tmp_path)
    assert load_front(path=path) == newer and _tmp_leftovers(tmp_path) == []


# ---- the command line --------------------------------------------------------------------------
@pytest.fixture()
def saved(front, tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
    return save_front(front)


def test_cli_query_best_and_list(saved, costs, capsys):
    code, out, err = run_cli(capsys, "query", "tiny_test", "--target", "cpu", "--max-latency-ms", 5)
    assert code == 0, err
    row = json.loads(out)
    assert out.count("\n") == 1
    assert (row["space"], row["target"], row["id"], row["acc1"], row["acc1_source"]) == \
        ("tiny_test", "cpu", 5, 77.0, "measured")
    assert row["route"] == costs[5].route.to_json() and row["route_str"] == str(costs[5].route)
    names = [a.name for a in load_space("tiny_test").anchors]  # the anchors by name, as --list
    assert row["route_named"] == ">".join(f"{names[s.anchor]}[{s.start}:{s.end}]" for s in costs[5].route)
    assert (row["flops"], row["params"], row["latency_ms"]) == (costs[5].flops, costs[5].params, 4.5)
    code, out, _ = run_cli(capsys, "query", "tiny_test", "--max-flops", "1.5e9", "--max-params", "2M",
                           "--max-memory-mb", 14, "--min-acc1", "70")
    assert code == 0 and json.loads(out)["id"] == 5
    code, out, _ = run_cli(capsys, "query", "tiny_test", "--list")
    assert code == 0 and "5 members" in out and out.count("\n") == 7 and "(anchor)" in out
    code, out, _ = run_cli(capsys, "query", "tiny_test", "--list", "--format", "jsonl",
                           "--max-latency-ms", 4.5)
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [0, 2, 5]
    code, out, _ = run_cli(capsys, "query", "tiny_test", "--max-latency-ms", 5, "--format", "table")
    lines = out.splitlines()  # the one answer as a table row, not the JSON line of the default
    assert code == 0 and lines[0].endswith("; the answer for max_latency_ms=5") and lines[1].split()[0] == "id"
    assert len(lines) == 3 and lines[2].split()[:3] == ["5", "77.00", "measured"]


def test_cli_query_nothing_fits_and_bad_input(saved, capsys, tmp_path):
    code, out, err = run_cli(capsys, "query", "tiny_test", "--max-latency-ms", 1)
    assert code == 1 and out == ""
    assert err == ("stitchnas: nothing fits: nothing on the front of tiny_test for target 'cpu' fits "
                   "max_latency_ms=1 ms: the fastest member takes 2 ms (id 0)\n")
    code, _, err = run_cli(capsys, "query", "tiny_test", "--list", "--min-acc1", 99)
    assert code == 1 and err.startswith("stitchnas: nothing fits:")
    code, _, err = run_cli(capsys, "query", "tiny_test", "--max-flops", "lots")
    assert code == 2 and "expected a number" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "query", "tiny_test", "--target", "tpu")
    assert code == 2 and "no front for target 'tpu'" in err and err.count("\n") == 1


def test_query_without_a_target_reads_the_only_saved_front(front, space, costs, tmp_path, monkeypatch, capsys):
    """No --target: the space's only saved front; none or several is a one-line error (exit 2)
    that says what to do, and a --front path that is not there says so, not 'target None'."""
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
    code, _, err = run_cli(capsys, "query", "tiny_test")
    assert code == 2 and err.count("\n") == 1
    assert "no saved front of tiny_test" in err and "`stitchnas search tiny_test`" in err
    save_front(front)  # target cpu
    code, out, err = run_cli(capsys, "query", "tiny_test", "--max-latency-ms", 5)
    assert code == 0, err
    assert (json.loads(out)["target"], json.loads(out)["id"]) == ("cpu", 5)
    assert stitchnas.query("tiny_test", max_latency_ms=5).id == 5
    other = make_front(space, [point(costs, 0, 71.0, latency=2.0)], target="cpu_batch64")
    save_front(other)
    code, out, err = run_cli(capsys, "query", "tiny_test", "--max-latency-ms", 5)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "saved fronts for 2 targets that trade top-1 against latency_ms (cpu, cpu_batch64): name one " \
        "with --target" in err
    with pytest.raises(StitchnasError, match=r"saved fronts for 2 targets \(cpu, cpu_batch64\): name one with"):
        load_front("tiny_test")
    assert load_front("tiny_test", "cpu_batch64") == other
    code, _, err = run_cli(capsys, "query", "--front", tmp_path / "nothere.json")
    assert code == 2 and err.count("\n") == 1 and "no front file at" in err and "None" not in err


def test_without_a_target_the_limits_pick_the_front_that_trades_against_their_cost(
        front, space, costs, tmp_path, monkeypatch, capsys):
    """Several saved fronts and no --target: a limit on one cost reads the only front of top-1
    against it (latency: cpu's; FLOPs: of cpu's three objectives and flops's two, flops's), in
    the command line, stitchnas.query and load_front alike; a limit that picks none or two is
    still the one-line error, saying why."""
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
    save_front(front)  # cpu: acc1, latency_ms, flops
    flops = make_front(space, [point(costs, 0, 71.0), point(costs, 1, 81.0)], objectives=("acc1", "flops"),
                       target="flops")
    save_front(flops)
    code, out, err = run_cli(capsys, "query", "tiny_test", "--max-latency-ms", 5)
    assert code == 0 and json.loads(out)["target"] == "cpu", err
    code, out, err = run_cli(capsys, "query", "tiny_test", "--max-flops", costs[1].flops)
    assert code == 0 and (json.loads(out)["target"], json.loads(out)["id"]) == ("flops", 1), err
    assert stitchnas.query("tiny_test", max_flops=costs[0].flops).id == 0
    assert load_front("tiny_test", limits={"max_latency_ms": 5}).target == "cpu"
    code, out, err = run_cli(capsys, "query", "tiny_test", "--min-acc1", 70)
    assert code == 2 and err.count("\n") == 1 and "(cpu, flops): name one with --target" in err
    code, out, err = run_cli(capsys, "query", "tiny_test", "--max-params", 10**9)
    assert code == 2 and "none of them of top-1 against params as the limits bound" in err
    save_front(make_front(space, [point(costs, 0, 71.0)], objectives=("acc1", "flops"), target="mcu_flops"))
    code, out, err = run_cli(capsys, "query", "tiny_test", "--max-flops", costs[1].flops)
    assert code == 2 and "2 targets that trade top-1 against flops (flops, mcu_flops)" in err


# ---- building and exporting ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(space, tmp_path_factory):
    """A stitched network with least-squares stitching layers, saved as a checkpoint."""
    torch.manual_seed(0)
    net = StitchedNetwork(space, space.create_models(weights=False))
    net.init_least_squares(torch.randn(32, 1, 28, 28))
    path = tmp_path_factory.mktemp("ckpt") / "stitched.pt"
    save_checkpoint(path, net, anchors_tuned=True)
    return net.eval(), path


def test_build_model_matches_the_switchable_network(space, front, trained):
    net, ckpt = trained
    x = torch.randn(3, 1, 28, 28)
    member = front.member(3)
    for stitch in (3, member, member.route, str(member.route), space.candidate(3)):
        module = build_model("tiny_test", stitch, ckpt)
        assert not module.training and type(module).__name__ == "RouteModule"
        net.reset_stitch_id(3)
        with torch.no_grad():
            assert torch.equal(module(x), net(x))
    switchable = build_model(space, member, ckpt, switchable=True)
    assert isinstance(switchable, StitchedNetwork) and switchable.stitch_id == 3
    with torch.no_grad():
        assert torch.equal(switchable(x), net(x))
    with pytest.raises(StitchnasError, match="not in space"):
        build_model(space, "0[0:2]>1[3:4]", ckpt)
    wrong = FrontPoint(id=3, route=space.candidate(4).route, acc1=1.0, acc1_source="measured")
    with pytest.raises(StitchnasError, match="another enumeration"):
        build_model(space, wrong, ckpt)


def test_export_torchscript_round_trip(space, trained, tmp_path):
    net, ckpt = trained
    module = build_model(space, 5, ckpt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = export_model(module, tmp_path / "model.pt", space.input_size, formats=("torchscript",))
        assert paths == [tmp_path / "model.pt"]
        loaded = torch.jit.load(str(paths[0]))
    x = torch.randn(1, 1, 28, 28)
    net.reset_stitch_id(5)
    with torch.no_grad():
        assert torch.allclose(loaded(x), net(x), atol=1e-5)
    assert _tmp_leftovers(tmp_path) == []
    with pytest.raises(StitchnasError, match="unknown export format"):
        export_model(module, tmp_path / "m", space.input_size, formats=("tflite",))


@pytest.mark.skipif(find_spec("onnx") is not None, reason="onnx is installed here")
def test_export_without_onnx_skips_it_with_a_note(space, trained, tmp_path):
    module = build_model(space, 0, trained[1])
    with pytest.warns(UserWarning, match="skipped ONNX: .*pip install onnx"):
        paths = export_model(module, tmp_path / "m", space.input_size)
    assert paths == [tmp_path / "m.pt2"]
    with pytest.raises(StitchnasError, match="needs the 'onnx' package"):
        export_model(module, tmp_path / "m", space.input_size, formats=("onnx",))
    assert not (tmp_path / "m.onnx").exists() and _tmp_leftovers(tmp_path) == []


@pytest.mark.skipif(find_spec("onnx") is None, reason="onnx is not installed")
def test_export_onnx_where_available(space, trained, tmp_path):
    module = build_model(space, 5, trained[1])
    paths = export_model(module, tmp_path / "m", space.input_size)
    assert paths == [tmp_path / "m.pt2", tmp_path / "m.onnx"]
    import onnx

    onnx.checker.check_model(onnx.load(str(paths[1])))
    if find_spec("onnxruntime") is not None:
        import onnxruntime

        x = torch.randn(1, 1, 28, 28)
        session = onnxruntime.InferenceSession(str(paths[1]), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input": x.numpy()})[0]
        with torch.no_grad():
            assert torch.allclose(torch.from_numpy(got), module(x), atol=1e-4)
    assert _tmp_leftovers(tmp_path) == []


def test_cli_export_picks_the_best_member(saved, space, trained, tmp_path, capsys):
    net, ckpt = trained
    out = tmp_path / "exported"
    code, stdout, err = run_cli(capsys, "export", "tiny_test", "--target", "cpu", "--max-latency-ms", 5,
                                "--checkpoint", ckpt, "--out", out, "--format", "torchscript")
    assert code == 0, err
    assert "exported id 5 of tiny_test" in stdout and f"wrote {out}.pt (TorchScript, input [1, 1, 28, 28])" \
        in stdout
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(f"{out}.pt")
    x = torch.randn(1, 1, 28, 28)
    net.reset_stitch_id(5)
    with torch.no_grad():
        assert torch.allclose(loaded(x), net(x), atol=1e-5)
    code, _, err = run_cli(capsys, "export", "tiny_test", "--max-latency-ms", 1, "--checkpoint", ckpt)
    assert code == 1 and err.startswith("stitchnas: nothing fits:")
    code, _, err = run_cli(capsys, "export", "tiny_test", "--id", 5, "--max-flops", 10)
    assert code == 2 and "drop them, or drop --id/--route" in err
    code, _, err = run_cli(capsys, "export", "tiny_test", "--id", 5)  # no checkpoint for a stitch
    assert code == 2 and "stitchnas train tiny_test" in err and err.count("\n") == 1


@pytest.mark.parametrize("error_pct, notes", [(5.0, True), (1.0, None), (None, None)])
def test_query_notes_a_better_member_just_over_the_budget_within_the_tables_error(space, costs, tmp_path,
                                                                                  monkeypatch, capsys,
                                                                                  error_pct, notes):
    """Under 3.2 ms the answer is id 5 (74.5%, 2.75 ms); id 3 (77.0%) needs 3.25 ms, 1.6% over. On
    a front whose latency table erred 5% (median) end to end that is within the error, and
    `query` says so on stderr (the JSON answer unchanged); at 1% it is a real miss, and a front
    without an error says nothing. The error travels with the front: no latency table is needed
    (none exists here), a front file read from elsewhere notes the same, and no torch is imported."""
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    lat = {0: 2.2, 5: 2.75, 3: 3.25, 2: 3.75, 1: 4.2}
    f = make_front(space, [point(costs, i, a, latency=lat[i], memory=1.0)
                           for i, a in ((0, 70.0), (5, 74.5), (3, 77.0), (2, 79.0), (1, 80.0))],
                   latency_error_pct=error_pct)
    save_front(f)
    elsewhere = tmp_path / "copied"
    save_front(f, elsewhere)
    note = ("stitchnas: note: id 3 (77.00%, 2.50 points more) needs 3.25 ms, 1.6% over the budget: "
            "within the cpu latency table's median error (5.0%), so on this machine it may fit as "
            "well; time both end to end to choose\n")
    for where in ([], ["--front", elsewhere / "front.json"]):
        code, out, err = run_cli(capsys, "query", "tiny_test", "--target", "cpu", "--max-latency-ms", 3.2, *where)
        assert code == 0 and json.loads(out)["id"] == 5, err
        assert err == (note if notes else "")
    from stitchnas.fronts import answer_notes  # the same notes from Python

    assert answer_notes(f, f.best(max_latency_ms=3.2), {"max_latency_ms": 3.2}) == (
        [note[len("stitchnas: note: "):-1]] if notes else [])
    assert answer_notes(f, f.best(max_latency_ms=3.2)) == []
    code, out, err = run_cli(capsys, "query", "tiny_test", "--target", "cpu", "--max-flops", 1e12)
    assert code == 0 and err == ""  # no latency budget: nothing to say
    code, out, err = run_cli(capsys, "query", "tiny_test", "--target", "cpu", "--list")
    header = "# latencies as composed by the cpu latency table, whose validation erred"
    assert (f"{header} {error_pct:.1f}% (median) end to end" in out if error_pct is not None
            else header not in out)
    argv = ["query", "tiny_test", "--target", "cpu", "--max-latency-ms", "3.2"]
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "stitchnas", *argv],
                          capture_output=True, text=True)
    assert done.returncode == 0 and ("id 3 (77.00%" in done.stderr) == bool(notes)
    assert not [ln for ln in done.stderr.splitlines() if ln.rstrip().endswith("| torch")]


def test_a_fronts_digest_latency_error_and_machine_round_trip_and_are_checked(space, costs, tmp_path):
    """The measurements file's digest and the latency table's error and machine are saved with
    the front and read back; an older front file without them loads with none; bad values are a
    broken front."""
    machine = {"cpu": "AMD EPYC", "arch": "x86_64", "gpu": None, "cuda": None, "torch": "2.14.1", "threads": 2}
    f = make_front(space, [point(costs, 0, 70.0, latency=2.0)], latency_error_pct=1.4,
                   latency_machine=machine, measurements_sha256="ab" * 32)
    assert f.timed_on == "AMD EPYC, 2 threads"
    save_front(f, tmp_path)
    doc = json.loads((tmp_path / "front.json").read_text())
    assert doc["latency_error_pct"] == 1.4 and doc["latency_machine"] == machine
    back = load_front(path=tmp_path / "front.json")
    assert back.latency_error_pct == 1.4 and back.latency_machine == machine and back == f
    assert doc["measurements_sha256"] == "ab" * 32
    old = {k: v for k, v in doc.items() if k not in ("latency_error_pct", "latency_machine", "measurements_sha256")}
    assert Front.from_json(old).latency_error_pct is None and Front.from_json(old).timed_on is None
    for key, bad in (("latency_error_pct", -1.0), ("latency_error_pct", "5%"),
                     ("latency_error_pct", float("nan")), ("latency_machine", "AMD EPYC"),
                     ("latency_machine", {"cpu": ["a", "b"]}), ("measurements_sha256", "abc"),
                     ("measurements_sha256", "AB" * 32)):
        with pytest.raises(StitchnasError, match=key):
            Front.from_json({**doc, key: bad})
    gpu = {**machine, "gpu": "NVIDIA H200", "cuda": "13.0"}
    assert make_front(space, [], latency_machine=gpu).timed_on == "NVIDIA H200 (CUDA 13.0)"


@pytest.mark.parametrize("cpu, notes", [("Another CPU 9000", True), (None, False), ("gpu", False)])
def test_query_notes_a_front_timed_on_another_cpu(space, costs, tmp_path, monkeypatch, capsys, cpu, notes):
    """Tables travel, so a front may hold another machine's times: a latency budget asked of a
    front timed on another CPU model gets a note saying whose milliseconds they are and how to
    time this one (query and export alike); on this machine's CPU (None: here), on a GPU, or
    without a latency budget, nothing. No torch is needed to tell."""
    from stitchnas.costs import cpu_name

    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    machine = {"cpu": cpu if cpu not in (None, "gpu") else cpu_name(), "arch": "x86_64",
               "gpu": "NVIDIA H200" if cpu == "gpu" else None, "cuda": None, "torch": "2.14.1", "threads": 2}
    save_front(make_front(space, [point(costs, 0, 70.0, latency=2.0, memory=1.0),
                                  point(costs, 1, 80.0, latency=4.0, memory=1.0)], latency_machine=machine))
    code, out, err = run_cli(capsys, "query", "tiny_test", "--target", "cpu", "--max-latency-ms", 3)
    assert code == 0 and json.loads(out)["id"] == 0
    if notes:
        assert err == ("stitchnas: note: the cpu front's latencies were timed on Another CPU 9000, 2 "
                       f"threads, and this machine is {cpu_name()}: the budget is checked against that "
                       "machine's times; for this one, `stitchnas profile-latency tiny_test --target cpu` "
                       "here, then search again\n")
    else:
        assert err == ""
    code, out, err = run_cli(capsys, "query", "tiny_test", "--target", "cpu", "--max-flops", 1e12)
    assert code == 0 and err == ""
    code, out, err = run_cli(capsys, "query", "tiny_test", "--target", "cpu", "--list")
    assert f"# latencies as composed by the cpu latency table timed on {make_front(space, [], latency_machine=machine).timed_on}\n" in out
    if notes:  # export picks the same member, with the same note
        code, out, err = run_cli(capsys, "export", "tiny_test", "--target", "cpu", "--max-latency-ms", 3,
                                 "--allow-random-weights", "--format", "pt2", "--out", tmp_path / "x")
        assert code == 0 and "exported id 0 of tiny_test" in out, err
        assert "the cpu front's latencies were timed on Another CPU 9000" in err


def test_query_notes_measurements_changed_since_the_search(space, costs, tmp_path, monkeypatch, capsys):
    """A front answers from the measurements it was searched with: when its file has changed
    since (its digest differs), `query` (an answer or --list) says so on stderr with the search
    that reads it now, even where only a figure changed; a front from before the digest notes
    only more measured stitches of its space. Unchanged, gone or broken: nothing."""
    import hashlib

    from stitchnas.fronts import stale_front_note

    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    m = tmp_path / "my rows.jsonl"

    def rows(*ids, hash_=space.content_hash, acc1=70.0):
        return "".join(json.dumps({"id": i, "space": "tiny_test", "space_hash": hash_, "acc1": acc1}) + "\n"
                       for i in ids)

    m.write_text(rows(0, 1) + rows(0))  # a repeat is one measured stitch
    members = [point(costs, 0, 70.0, latency=2.0, memory=1.0), point(costs, 1, 80.0, latency=4.0, memory=1.0)]
    f = make_front(space, members, measurements=str(m), measured_ids=2,
                   measurements_sha256=hashlib.sha256(m.read_bytes()).hexdigest())
    old = make_front(space, members, measurements=str(m), measured_ids=2)  # saved before digests
    save_front(f)
    assert run_cli(capsys, "query", "tiny_test", "--target", "cpu", "--max-flops", 1e12)[2] == ""
    m.write_text(rows(0) + rows(1, acc1=71.0))  # one figure re-measured: same stitches
    hint = ("search again for a front from what it holds (`stitchnas search tiny_test --target cpu "
            f"--measurements '{m}'`)")
    assert stale_front_note(f) == (f"{m} has changed since the cpu front was searched on it (2 measured "
                                   f"stitches then, 2 now): {hint}")
    assert stale_front_note(old) is None
    with m.open("a") as out:
        out.write(rows(7, hash_="f" * 16))  # another space's row: not this front's
    assert stale_front_note(old) is None
    with m.open("a") as out:
        out.write(rows(5, 3))
    note = f"stitchnas: note: {m} has changed since the cpu front was searched on it (2 measured stitches then, 4 now): {hint}\n"
    assert f"{stale_front_note(old)}\n" == note[len("stitchnas: note: "):]
    for extra in ([], ["--list"]):
        code, out, err = run_cli(capsys, "query", "tiny_test", "--target", "cpu", "--max-flops", 1e12, *extra)
        assert code == 0 and err == note, err
    m.write_text("{not json\n")
    assert stale_front_note(f) is None
    m.unlink()
    assert stale_front_note(f) is None


def test_python_query_and_export_warn_what_the_cli_notes(space, costs, tmp_path, monkeypatch):
    """`stitchnas.query` and `stitchnas.export` give a Python caller the CLI's notes as
    StitchnasWarnings pointing at the caller's line (an answer, --list, an export picked from the
    front); a front with nothing to note, or a stitch exported by id, warns nothing."""
    from stitchnas import StitchnasWarning
    from stitchnas.costs import cpu_name

    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    members = [point(costs, 0, 70.0, latency=2.0, memory=1.0), point(costs, 1, 80.0, latency=4.0, memory=1.0)]
    here = {"cpu": cpu_name(), "arch": "x86_64", "gpu": None, "cuda": None, "torch": "2.14.1", "threads": 2}
    save_front(make_front(space, members, latency_machine=here))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to note: no warning at all
        assert stitchnas.query("tiny_test", target="cpu", max_latency_ms=3).id == 0
        assert [m.id for m in stitchnas.query("tiny_test", target="cpu", list=True, max_latency_ms=5)] == [0, 1]
    save_front(make_front(space, members, latency_machine={**here, "cpu": "Another CPU 9000"}))
    note = "the cpu front's latencies were timed on Another CPU 9000, 2 threads"
    with pytest.warns(StitchnasWarning, match=note) as caught:
        assert stitchnas.query("tiny_test", target="cpu", max_latency_ms=3).id == 0
    assert len(caught) == 1 and caught[0].filename == __file__
    with pytest.warns(StitchnasWarning, match=note):
        stitchnas.query("tiny_test", target="cpu", list=True, max_latency_ms=3)
    with pytest.warns(StitchnasWarning, match=note) as caught:
        paths = stitchnas.export("tiny_test", target="cpu", max_latency_ms=3, allow_random_weights=True,
                                 format="pt2", out=tmp_path / "x")
    assert [p.suffix for p in paths] == [".pt2"] and caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error", StitchnasWarning)  # picked by id: no front, nothing to note
        stitchnas.export("tiny_test", id=0, allow_random_weights=True, format="pt2", out=tmp_path / "y")


def test_query_names_the_saved_fronts_and_a_mistyped_target(saved, capsys):
    """A target that is neither bundled nor a file and has no front is a typo, not a search to
    run: the error lists the space's saved fronts and the close matches, in one line."""
    code, _, err = run_cli(capsys, "query", "tiny_test", "--target", "cpuu")
    assert code == 2 and err.count("\n") == 1, err
    assert "no front for target 'cpuu'" in err and "saved fronts of tiny_test: cpu" in err
    assert "did you mean cpu" in err and "stitchnas search" not in err
    code, _, err = run_cli(capsys, "query", "tiny_test", "--target", "flops")  # bundled: make it
    assert code == 2 and "make it with `stitchnas search tiny_test --target flops`" in err
    assert err.rstrip().endswith("saved fronts of tiny_test: cpu"), err


def test_query_and_load_front_take_a_target_path(front, saved, capsys, tmp_path, monkeypatch):
    """A target given as a YAML path (as `search` takes it) finds the front saved under the
    target's own name, through load_front and the query command alike."""
    target = tmp_path / "mine.yaml"
    target.write_text("name: cpu\ndevice: cpu\ncost_model: latency\n")
    assert load_front("tiny_test", target=str(target)) == front
    code, out, err = run_cli(capsys, "query", "tiny_test", "--target", target, "--max-latency-ms", 5)
    assert code == 0 and json.loads(out)["id"] == 5, err
    other = tmp_path / "other.yaml"
    other.write_text("name: flops55\ncost_model: flops\n")
    code, _, err = run_cli(capsys, "query", "tiny_test", "--target", other)
    assert code == 2 and "no front at" in err and "flops55" in err and err.count("\n") == 1
    # a space given as a YAML path is named by that path in the hint, not by its name
    space_file = tmp_path / "mine_space.yaml"
    space_file.write_text(Path(load_space("tiny_test").path).read_text().replace("name: tiny_test", "name: mine"))
    code, _, err = run_cli(capsys, "query", space_file, "--target", "flops")
    assert code == 2 and f"stitchnas search {space_file} --target flops" in err, err
    # the results root was chosen ($STITCHNAS_RESULTS here): no hint to choose one
    assert "--results DIR" not in err and err.count("\n") == 1
    monkeypatch.delenv("STITCHNAS_RESULTS")
    monkeypatch.chdir(tmp_path)  # ./results: the root nobody chose, so the hint names --results
    code, _, err = run_cli(capsys, "query", space_file, "--target", "flops")
    assert code == 2 and "pass --results DIR" in err and err.count("\n") == 1, err
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
    # --results DIR (before or after the verb) reads fronts saved under another root
    code, _, err = run_cli(capsys, "search", space_file, "--target", "flops", "--anchor-acc", "s=70",
                           "--anchor-acc", "l=80", "--out-dir", tmp_path / "elsewhere")
    assert code == 0, err
    for argv in (["--results", tmp_path / "elsewhere", "query", space_file],
                 ["query", space_file, "--results", tmp_path / "elsewhere", "--target", "flops"]):
        code, out, err = run_cli(capsys, *argv, "--max-flops", "1G")
        assert code == 0 and json.loads(out)["space"] == "mine", err
    # a root with no front: the suggested commands name it, so that they write where query reads
    empty = tmp_path / "no fronts"
    for argv in (["--results", empty, "query", space_file], ["query", space_file, "--results", empty,
                                                               "--target", "flops"]):
        code, _, err = run_cli(capsys, *argv, "--max-flops", "1G")
        quoted = f"--results '{empty}'"
        assert code == 2 and f"stitchnas search {space_file}" in err and err.count(quoted) == 2, err
    assert not (tmp_path / "results").exists()


def test_a_front_from_part_of_the_space_says_so(space, costs, tmp_path, monkeypatch, capsys):
    """Fewer candidates evaluated than the space has: front.json, the query answer and the list
    say "evaluated X of N candidates; the front may be incomplete"; a complete one says nothing."""
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
    members = [point(costs, 0, 70.0, latency=2.0), point(costs, 1, 80.0, latency=7.0)]
    partial = make_front(space, members, study={"distinct_candidates": 5, "candidates": len(space)})
    note = f"evaluated 5 of {len(space)} candidates; the front may be incomplete"
    assert partial.coverage == note
    doc = json.loads(save_front(partial).read_text())
    assert doc["study"]["coverage"] == note and load_front(space) == partial
    code, out, _ = run_cli(capsys, "query", "tiny_test", "--max-latency-ms", 9)
    assert code == 0 and json.loads(out)["coverage"] == note
    code, out, _ = run_cli(capsys, "query", "tiny_test", "--list")
    assert code == 0 and f"# {note}" in out
    from stitchnas.fronts import answer_notes

    assert answer_notes(partial, coverage=True) == [note] and answer_notes(partial) == []
    with pytest.warns(stitchnas.StitchnasWarning, match=note):  # a FrontPoint cannot carry it
        assert stitchnas.query("tiny_test", max_latency_ms=9).id == 1
    code, out, err = run_cli(capsys, "export", "tiny_test", "--max-latency-ms", 9, "--allow-random-weights",
                             "--format", "pt2", "--out", tmp_path / "x")
    assert code == 0 and err == f"stitchnas: note: {note}\n", err
    whole = make_front(space, members, study={"distinct_candidates": len(space), "candidates": len(space)})
    assert whole.coverage is None
    save_front(whole)
    code, out, _ = run_cli(capsys, "query", "tiny_test", "--max-latency-ms", 9)
    assert code == 0 and "coverage" not in json.loads(out)
    code, out, err = run_cli(capsys, "export", "tiny_test", "--max-latency-ms", 9, "--allow-random-weights",
                             "--format", "pt2", "--out", tmp_path / "x")
    assert code == 0 and err == ""


def test_front_plot_labels_stay_inside_the_panel_and_off_the_legend(space, costs, monkeypatch):
    """An anchor at the panel's right edge (the costliest, low: where the legend sits) is labelled
    to its left, inside the panel and clear of the legend; it was cut off at the edge or hidden."""
    import stitchnas.plots

    members = [point(costs, 0, 70.0, latency=2.0), point(costs, 5, 74.0, latency=3.0),
               point(costs, 3, 79.0, latency=6.0)]
    off = [point(costs, 1, 70.5, latency=9.0)]  # the large anchor: costliest, off the front
    front = make_front(space, members, objectives=("acc1", "latency_ms"))
    figures = []
    real = stitchnas.plots.png_bytes

    def keep(fig):
        fig.tight_layout()
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        figures.append([(t.get_text(), t.get_window_extent(renderer)) for ax in fig.axes for t in ax.texts]
                       + [("legend", ax.get_legend().get_window_extent(renderer)) for ax in fig.axes]
                       + [("panel", ax.get_window_extent(renderer)) for ax in fig.axes])
        return real(fig)

    monkeypatch.setattr(stitchnas.plots, "png_bytes", keep)
    front_plot.render_front_png(front, members + off, anchor_names=["small_anchor", "large_anchor"])
    boxes = dict(figures[0])
    assert "large_anchor (1)" in boxes and "small_anchor (0)" in boxes
    panel, legend = boxes.pop("panel"), boxes.pop("legend")
    for text, box in boxes.items():
        assert panel.x0 <= box.x0 and box.x1 <= panel.x1 and panel.y0 <= box.y0 and box.y1 <= panel.y1, text
        assert not box.overlaps(legend), text


def test_every_command_a_missing_input_suggests_names_the_results_root(tmp_path, monkeypatch, capsys):
    """Under `--results DIR` with nothing there yet, the command each error suggests (train,
    evaluate or run, profile-latency) names DIR too: run as printed, it writes where this one
    reads, not into ./results."""
    monkeypatch.delenv("STITCHNAS_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "empty root"
    quoted = f"--results '{root}'"
    cases = [(["evaluate", "tiny_test", "--data", "digits", "--ids", "3", "--out", tmp_path / "m.jsonl"],
              "stitchnas train tiny_test " + quoted),
             (["proxy", "tiny_test", "--data", "digits"], "stitchnas train tiny_test " + quoted),
             (["predict", "tiny_test"], "stitchnas evaluate tiny_test " + quoted),
             (["profile-latency", "tiny_test", "--target", "cpu", "--any-machine"],
              "stitchnas profile-latency tiny_test --target cpu " + quoted)]
    for argv, suggested in cases:
        code, _, err = run_cli(capsys, "--results", root, *argv)
        assert code == 2 and f"`{suggested}`" in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "results").exists()
