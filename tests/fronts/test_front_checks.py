"""A hand-edited or damaged front.json is refused on load, never answered from.

Each broken front is a valid front of the bundled ``tiny_test`` space with one field edited as a
careless or hostile user would: an id the space does not have, a route of another candidate or
past the last block, top-1 of 5000 %, NaN/inf, negative budgets and costs, a dominated member, a
missing field, a wrong space hash. Each is refused by ``load_front`` (one line naming the file,
the member and the field, and how to rewrite it) and by ``stitchnas query`` (exit 2, one stderr
line, empty stdout, the file unchanged), with the space given and with ``--front`` alone (checked
against the bundled space the front names).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import run_cli

from stitchnas.errors import StitchnasError
from stitchnas.fronts import Front, FrontPoint, check_front, load_front
from stitchnas.space import load_space


@pytest.fixture(scope="module")
def tiny():
    return load_space("tiny_test")


def good_doc(tiny) -> dict:
    """A valid front of tiny_test: ids 0, 2, 3, 1 (cheapest to most accurate)."""
    rows = [(0, 60.0, 1000, 1.0), (2, 65.0, 2000, 2.0), (3, 70.0, 3000, 3.0), (1, 80.0, 4000, 4.0)]
    members = [FrontPoint(id=i, route=tiny.candidate(i).route, acc1=acc, acc1_source="measured",
                          flops=flops, params=flops // 10, latency_ms=lat, is_anchor=i < 2)
               for i, acc, flops, lat in rows]
    front = Front(space=tiny.name, space_hash=tiny.content_hash, target="cpu",
                  objectives=("acc1", "flops"), members=tuple(members),
                  target_budgets={"max_flops": 1e6})
    return front.to_json()


def member(doc: dict, cid: int) -> dict:
    return next(m for m in doc["members"] if m["id"] == cid)


def edit(path, value):
    def apply(doc):
        node = doc
        for key in path[:-1]:
            node = member(node, key) if isinstance(key, int) else node[key]
        node[path[-1]] = value
    return apply


def drop(path):
    def apply(doc):
        node = member(doc, path[0]) if isinstance(path[0], int) else doc
        del node[path[-1]]
    return apply


# (case, edit of the good front, substrings of the error: the problem and the field)
BROKEN = [
    ("id-not-in-space", edit((3, "id"), 99), ("member id 99 is not in space 'tiny_test'", "ids 0..13")),
    ("id-other-route", edit((3, "route"), [[1, 0, 2], [0, 2, 4]]),
     ("member id 3 has route 1[0:2]>0[2:4], but candidate 3 of space 'tiny_test' is 0[0:2]>1[2:4]",)),
    ("route-past-last-block", edit((0, "route"), [[0, 0, 7]]),
     ("member id 0: route 0[0:7]: segment 0[0:7] ends past anchor 0's 4 blocks",)),
    ("route-other-anchor", edit((1, "route"), [[5, 0, 4]]), ("names anchor 5, but the space has 2 anchors",)),
    ("is-anchor-wrong", edit((2, "is_anchor"), True), ("member id 2: 'is_anchor' is true",)),
    ("acc1-5000", edit((3, "acc1"), 5000.0), ("member 3: 'acc1' is 5000.0, outside 0..100",)),
    ("acc1-negative", edit((0, "acc1"), -1.0), ("member 0: 'acc1' is -1.0, outside 0..100",)),
    ("acc1-nan", edit((2, "acc1"), float("nan")), ("'acc1' must be a finite number, got nan",)),
    ("acc1-inf", edit((2, "acc1"), float("inf")), ("'acc1' must be a finite number, got inf",)),
    ("acc1-huge-int", edit((2, "acc1"), 10 ** 400), ("member 2",)),
    ("flops-negative", edit((2, "flops"), -5), ("'flops' must be an integer >= 0, got -5",)),
    ("params-negative", edit((2, "params"), -1), ("'params' must be an integer >= 0, got -1",)),
    ("latency-negative", edit((2, "latency_ms"), -0.5), ("'latency_ms' must be a number >= 0",)),
    ("latency-nan", edit((2, "latency_ms"), float("nan")), ("'latency_ms' must be a number >= 0",)),
    ("std-inf", edit((2, "acc1_std"), float("inf")), ("'acc1_std' must be a number >= 0",)),
    ("budget-negative", edit(("target_budgets", "max_flops"), -5),
     ("budget max_flops must be a positive number or None, got -5",)),
    ("budget-nan", edit(("target_budgets", "max_flops"), float("nan")), ("budget max_flops",)),
    ("dominated", edit((3, "acc1"), 62.0),
     ("member id 3 (62.00%, 3,000 flops) is dominated by member id 2 (65.00%, 2,000 flops)",)),
    ("dominated-equal-cost", edit((2, "flops"), 1000),
     ("member id 0 (60.00%, 1,000 flops) is dominated by member id 2",)),
    ("objective-missing", edit(("objectives",), ["acc1", "memory_mb"]),
     ("has no 'memory_mb', an objective of this front",)),
    ("member-key-missing", drop((2, "flops")), ("member 2 lacks key(s) ['flops']",)),
    ("top-key-missing", drop(("space_hash",)), ("missing key(s) ['space_hash']",)),
    ("space-hash-other", edit(("space_hash",), "0123456789abcdef"),
     ("was searched on another version of the space 'tiny_test'",)),
]


@pytest.fixture
def broken(tiny, tmp_path, request):
    name, apply, says = request.param
    doc = good_doc(tiny)
    apply(doc)
    path = tmp_path / "front.json"
    path.write_text(json.dumps(doc, indent=1))
    return path, says


@pytest.mark.parametrize("broken", BROKEN, ids=[b[0] for b in BROKEN], indirect=True)
def test_load_front_refuses(tiny, broken):
    path, says = broken
    with pytest.raises(StitchnasError) as err:
        load_front(tiny, path=path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text
    for s in says:
        assert s in text, text
    assert "stitchnas search tiny_test" in text  # the fix


@pytest.mark.parametrize("with_space", [True, False], ids=["space-given", "front-alone"])
@pytest.mark.parametrize("broken", BROKEN, ids=[b[0] for b in BROKEN], indirect=True)
def test_query_refuses(broken, with_space, capsys):
    path, says = broken
    if not with_space and "another version" in says[0]:
        pytest.skip("--front alone: a front of another space hash is checked by its members only")
    before = path.read_bytes()
    argv = ["query", *(["tiny_test"] if with_space else []), "--front", path, "--max-flops", "1e9"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith("stitchnas: error:") and err.count("\n") == 1, err
    assert says[0] in err
    assert path.read_bytes() == before


def test_good_front_loads_and_answers(tiny, tmp_path, capsys):
    path = tmp_path / "front.json"
    path.write_text(json.dumps(good_doc(tiny)))
    front = load_front(tiny, path=path)
    assert front.best(max_flops=2500).id == 2
    code, out, err = run_cli(capsys, "query", "--front", path, "--max-flops", "2500")
    assert code == 0 and json.loads(out)["id"] == 2, err


def test_ties_are_allowed(tiny, tmp_path):
    """Two members equal on every objective dominate neither: both stay."""
    doc = good_doc(tiny)
    member(doc, 3).update(acc1=65.0, flops=2000)
    path = tmp_path / "front.json"
    path.write_text(json.dumps(doc))
    assert {m.id for m in load_front(tiny, path=path)} == {0, 1, 2, 3}


def test_a_front_of_another_space_is_not_checked_against_the_bundled_one(tiny, tmp_path):
    """A front of a user's space file that shares a bundled space's name but not its hash has
    nothing to be checked against (without the space, the member checks still hold)."""
    doc = good_doc(tiny)
    doc["space_hash"] = "0123456789abcdef"
    member(doc, 3)["route"] = [[1, 0, 2], [0, 2, 4]]
    path = tmp_path / "front.json"
    path.write_text(json.dumps(doc))
    front = load_front(path=path)
    assert check_front(front) is front


def test_checks_without_the_space_need_no_torch(tiny, tmp_path):
    """A dominated member or top-1 of 5000 % is refused by load_front(path=...) alone, which
    never imports torch."""
    doc = good_doc(tiny)
    member(doc, 3)["acc1"] = 62.0
    dominated = tmp_path / "dominated.json"
    dominated.write_text(json.dumps(doc))
    code = ("import sys\nfrom stitchnas.errors import StitchnasError\nfrom stitchnas.fronts import load_front\n"
            f"try:\n    load_front(path={str(dominated)!r})\nexcept StitchnasError as e:\n"
            "    print('refused', 'dominated' in str(e))\nprint('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["refused", "True", "False"]


def test_a_prediction_never_dominates_a_measured_member(tiny, tmp_path):
    """As the search keeps them (stitchnas.pareto): a measured member beaten only by a predicted
    one stays on the front; a predicted member beaten by any member is refused."""
    doc = good_doc(tiny)
    member(doc, 2).update(acc1=71.0, acc1_source="predicted", acc1_std=1.0)  # beats id 3 (70 %, more flops)
    path = tmp_path / "front.json"
    path.write_text(json.dumps(doc))
    assert {m.id for m in load_front(tiny, path=path)} == {0, 1, 2, 3}
    member(doc, 3).update(acc1_source="predicted", acc1_std=1.0)
    path.write_text(json.dumps(doc))
    with pytest.raises(StitchnasError, match=r"member id 3 \(70.00%, 3,000 flops\) is dominated by member id 2"):
        load_front(tiny, path=path)


def test_a_front_of_a_space_file_is_exported_with_that_file_named(tiny, tmp_path, capsys):
    """`export --front FILE` builds the bundled space the front names; a front of the user's own
    space file needs the file named (one line saying so, not "unknown space" nor "another
    version of fmnist_vit_2way"), in export and in `bench switchable` (--space)."""
    from pathlib import Path

    text = Path(tiny.path).read_text().replace("name: tiny_test", "name: tiny_mine")
    space_file = tmp_path / "tiny_mine.yaml"
    space_file.write_text(text)
    mine = load_space(space_file)
    doc = good_doc(tiny) | {"space": "tiny_mine", "space_hash": mine.content_hash}
    front = tmp_path / "front.json"
    front.write_text(json.dumps(doc))
    common = ["--front", front, "--switchable", "--allow-random-weights", "--format", "bundle"]
    code, out, err = run_cli(capsys, "export", *common, "--out", tmp_path / "a")
    assert code == 2 and "a front of space 'tiny_mine', which is not bundled: name its space file" in err
    code, out, err = run_cli(capsys, "export", "fmnist_vit_2way", *common, "--out", tmp_path / "b")
    assert code == 2 and "a front of space 'tiny_mine', not of 'fmnist_vit_2way'" in err
    assert not list(tmp_path.glob("[ab].*"))
    code, out, err = run_cli(capsys, "export", space_file, *common, "--out", tmp_path / "c")
    assert code == 0, err
    assert (tmp_path / "c.pt").is_file()
    bench = ["bench", "switchable", "--size-only", front, "--allow-random-weights", "--out", tmp_path / "r"]
    code, out, err = run_cli(capsys, *bench)
    assert code == 2 and "--space SPACE.yaml" in err
    code, out, err = run_cli(capsys, *bench, "--space", space_file)
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "switchable.json").read_text())["fronts"][0]["space"] == "tiny_mine"
