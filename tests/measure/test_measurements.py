import json
import multiprocessing

import pytest
import yaml

from support import tiny_anchor
from stitchnas.errors import StitchnasError
from stitchnas.measure import FIELDS, Measurement, lock_path, read_measurements, write_measurements
from stitchnas.space import Route
from stitchnas.space import SearchSpace, load_space


@pytest.fixture(scope="module")
def space():
    return load_space("tiny_test")


def make(sp, cid, acc1=50.0, **kw):
    cand = sp.candidate(cid)
    fields = dict(id=cid, route=cand.route, acc1=acc1, acc5=90.0, loss=1.25, flops=1000 + cid,
                  params=10 + cid, dataset="digits:val", checkpoint="c.pt", space=sp.name,
                  space_hash=sp.content_hash)
    fields.update(kw)
    return Measurement(**fields)


def test_roundtrip_sorted_and_json_form(space, tmp_path):
    path = tmp_path / "m.jsonl"
    rows = [make(space, 5), make(space, 2, acc5=None, loss=None), make(space, 9)]
    merged = write_measurements(path, rows)
    assert [m.id for m in merged] == [2, 5, 9]
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    assert list(first) == list(FIELDS)
    assert first["route"] == space.candidate(2).route.to_json()
    assert first["acc5"] is None and first["loss"] is None
    assert read_measurements(path, space) == sorted(rows, key=lambda m: m.id)
    assert Measurement.from_json(rows[0].to_json(), space) == rows[0]
    assert lock_path(path) == tmp_path / ".locks" / "m.jsonl.lock"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".locks", "m.jsonl"]  # no lock beside the file



def test_rows_built_from_numpy_values_write_and_read_back_equal(space, tmp_path):
    # a user's script fills rows from arrays: np.float32 top-1 and np.int64 counts were refused on
    # writing as "'acc1' must be a number"; a bool is still not a number
    import numpy as np

    row = make(space, 4, acc1=np.float32(71.5), acc5=np.float64(90.25), loss=np.float32(0.5),
               id=np.int64(4), flops=np.int64(1004), params=np.int32(14))
    assert (type(row.id), type(row.acc1), type(row.flops), type(row.params)) == (int, float, int, int)
    assert row == make(space, 4, acc1=71.5, acc5=90.25, loss=0.5)
    write_measurements(tmp_path / "m.jsonl", [row])
    assert read_measurements(tmp_path / "m.jsonl", space) == [row]
    with pytest.raises(StitchnasError, match="'acc1' must be a number, got True"):
        write_measurements(tmp_path / "n.jsonl", [make(space, 4, acc1=True)])

def test_merge_replaces_remeasured_ids(space, tmp_path):
    path = tmp_path / "m.jsonl"
    write_measurements(path, [make(space, i, acc1=10.0) for i in (0, 1, 2)])
    write_measurements(path, [make(space, 1, acc1=77.0), make(space, 7, acc1=70.0)])
    got = {m.id: m.acc1 for m in read_measurements(path, space)}
    assert got == {0: 10.0, 1: 77.0, 2: 10.0, 7: 70.0}
    write_measurements(path, [make(space, 1, acc1=1.0), make(space, 8, acc1=8.0)], replace=False)
    got = {m.id: m.acc1 for m in read_measurements(path, space)}
    assert got[1] == 77.0 and got[8] == 8.0
    write_measurements(path, [make(space, 4, acc1=4.0)], conflicts="overwrite")  # whole file replaced
    assert {m.id: m.acc1 for m in read_measurements(path, space)} == {4: 4.0}


def test_duplicate_ids_that_differ_are_refused_identical_ones_merge(space, tmp_path):
    path = tmp_path / "m.jsonl"  # (tests/measure/test_merges.py has the rest of the rules)
    rows = [make(space, 3, acc1=1.0), make(space, 1), make(space, 3, acc1=3.0)]
    path.write_text("".join(json.dumps(m.to_json()) + "\n" for m in rows) + "\n")
    with pytest.raises(StitchnasError, match="id 3 has conflicting rows .lines 1 and 3: acc1 1 vs 3"):
        read_measurements(path, space)
    rows[2] = rows[0]
    path.write_text("".join(json.dumps(m.to_json()) + "\n" for m in rows) + "\n")
    got = read_measurements(path, space)
    assert [(m.id, m.acc1) for m in got] == [(1, 50.0), (3, 1.0)]


def _edit(row, **changes):
    row = dict(row)
    for k, v in changes.items():
        if v is _DROP:
            row.pop(k)
        else:
            row[k] = v
    return json.dumps(row)


_DROP = object()


@pytest.mark.parametrize("bad, line, message", [
    (lambda r: "{\"id\": 1, \"route\"", 3, "not valid JSON; the last line is cut short"),
    (lambda r: "{oops}\n" + json.dumps(r), 3, "not valid JSON; fix or delete that line"),
    (lambda r: _edit(r, acc5=_DROP), 3, "missing key(s) ['acc5']"),
    (lambda r: "[1, 2]", 3, "expected a JSON object"),
    (lambda r: _edit(r, acc1="high"), 3, "'acc1' must be a number"),
    (lambda r: _edit(r, id="4"), 3, "'id' must be an integer >= 0"),
    (lambda r: _edit(r, flops=1.5), 3, "'flops' must be an integer"),
    (lambda r: _edit(r, dataset=None), 3, "'dataset' must be a string"),
    (lambda r: _edit(r, route=[[0, 0]]), 3, "three integers"),
    (lambda r: _edit(r, id=99), 3, "space 'tiny_test' has ids 0..13, not 99"),
    (lambda r: _edit(r, route=[[1, 0, 4]]), 3, "from a different enumeration; re-measure it"),
    (lambda r: _edit(r, acc1=float("nan")), 3, "'acc1' is nan: measurements must be finite"),
    (lambda r: _edit(r, loss=float("inf")), 3, "'loss' is inf"),
    (lambda r: _edit(r, acc1=150.0), 3, "outside 0..100: accuracies are percentages"),
    (lambda r: _edit(r, acc5=-1), 3, "outside 0..100"),
    (lambda r: _edit(r, space_hash="0123456789abcdef"), 3,
     "the file belongs to another space ('tiny_test', hash 0123456789abcdef)"),
])
def test_bad_rows_name_file_and_line(space, tmp_path, bad, line, message):
    good = [json.dumps(make(space, i).to_json()) for i in (0, 1)]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(good + [bad(make(space, 4).to_json())]) + "\n")
    with pytest.raises(StitchnasError) as err:
        read_measurements(path, space)
    text = str(err.value)
    assert text.startswith(f"{path}, line {line}: ")
    assert message in text and "\n" not in text


def test_missing_file_and_invalid_id(tmp_path):
    doc = yaml.safe_load(f"anchors: [{tiny_anchor('s', 16)}, {tiny_anchor('l', 32)}]\n"
                         "rule: {type: snnet_v2}\ninput_size: [1, 28, 28]\n")
    v2 = SearchSpace.from_dict(doc)
    assert v2.num_ids == len(v2) + 1  # id 5 is kept for the official numbering
    with pytest.raises(StitchnasError, match="does not exist: create it with `stitchnas evaluate`"):
        read_measurements(tmp_path / "none.jsonl", v2)
    row = make(v2, 4).to_json()
    row.update(id=5)
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(StitchnasError, match=r"line 1: id 5 of space .* is not a valid network"):
        read_measurements(path, v2)


def test_write_refuses_other_space_and_bad_values_without_touching_the_file(space, tmp_path):
    path = tmp_path / "m.jsonl"
    write_measurements(path, [make(space, 0)])
    before = path.read_text()
    with pytest.raises(StitchnasError, match="holds measurements of space 'tiny_test'"):
        write_measurements(path, [make(space, 1, space="other", space_hash="ffffffffffffffff")])
    with pytest.raises(StitchnasError, match="cannot write id 2 .* must be finite"):
        write_measurements(path, [make(space, 2, loss=float("nan"))])
    with pytest.raises(StitchnasError, match="several spaces"):
        write_measurements(path, [make(space, 1), make(space, 2, space_hash="ffffffffffffffff")])
    with pytest.raises(StitchnasError) as err:  # a huge value is named cut short: the line stays short
        write_measurements(path, [make(space, 3, flops=10 ** 80)])
    assert f"must be an integer in 0..2**63-1, got {str(10 ** 80)[:37]}...;" in str(err.value)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def _writer(path, ids, routes, space_name, space_hash):
    for bump in (0.0, 0.5):  # every id written twice, one write per id
        for cid in ids:
            m = Measurement(id=cid, route=Route.of(routes[cid]), acc1=cid + bump, acc5=None,
                            loss=None, flops=cid, params=cid, dataset="d", checkpoint="c",
                            space=space_name, space_hash=space_hash)
            write_measurements(path, [m])


def test_concurrent_writers_lose_nothing(tmp_path):
    big = load_space("fmnist_vit_2way")  # 83 ids: a lost update would drop or stale a row
    path = tmp_path / "m.jsonl"
    routes = {c.id: c.route.to_json() for c in big.candidates}
    ids = sorted(routes)
    ctx = multiprocessing.get_context("spawn")  # not fork: 3.12+ warns of forking a threaded process
    procs = [ctx.Process(target=_writer, args=(path, part, routes, big.name, big.content_hash))
             for part in (ids[0::2], ids[1::2])]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    got = read_measurements(path, big)
    assert [m.id for m in got] == ids
    assert all(m.acc1 == m.id + 0.5 for m in got)
