"""Merges never drop data silently: rows of one id that differ are refused in one line naming
the id, the lines and the values (identical repeats are fine), a re-measured row that changes
an id's values replaces it with a warning naming the ids, an import that disagrees with the file
is refused, and keys a user added to rows (``note``, ``operator``) survive every merge."""

from __future__ import annotations

import json
import logging

import pytest

from stitchnas.errors import StitchnasError
from stitchnas.measure import Measurement, read_measurements, write_measurements
from stitchnas.space import load_space
from support import run_cli


@pytest.fixture(scope="module")
def space():
    return load_space("tiny_test")


def row(space, cid, acc1=50.0, **extra) -> dict:
    r = Measurement(id=cid, route=space.candidate(cid).route, acc1=acc1, acc5=90.0, loss=1.0,
                    flops=1000 + cid, params=10 + cid, dataset="digits:val", checkpoint="c.pt",
                    space=space.name, space_hash=space.content_hash).to_json()
    return {**r, **extra}


def write_rows(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def m(space, cid, acc1=50.0) -> Measurement:
    return Measurement.from_json(row(space, cid, acc1), space)


def test_conflicting_rows_of_one_id_are_refused_naming_them(space, tmp_path):
    path = tmp_path / "m.jsonl"
    write_rows(path, [row(space, 3, 71.5), row(space, 4), row(space, 3, 10.0), row(space, 3, 99.0)])
    with pytest.raises(StitchnasError) as err:
        read_measurements(path, space)
    text = str(err.value)
    assert "id 3 has conflicting rows (lines 1 and 3: acc1 71.5 vs 10)" in text
    assert "keep the right one and delete the other" in text and "\n" not in text
    before = path.read_bytes()
    with pytest.raises(StitchnasError, match="id 3 has conflicting rows"):  # nor merged into
        write_measurements(path, [m(space, 5)])
    assert path.read_bytes() == before


def test_identical_repeats_are_one_row(space, tmp_path):
    path = tmp_path / "m.jsonl"
    write_rows(path, [row(space, 3, 71.5), row(space, 3, 71.5, note="checked"), row(space, 3, 71.5)])
    rows = read_measurements(path, space)
    assert len(rows) == 1 and rows[0].acc1 == 71.5 and dict(rows[0].extra) == {"note": "checked"}


def test_a_batch_that_disagrees_with_itself_is_refused(space, tmp_path):
    with pytest.raises(StitchnasError, match="id 2 has conflicting rows .new rows 1 and 2: acc1 60 vs 61"):
        write_measurements(tmp_path / "m.jsonl", [m(space, 2, 60.0), m(space, 2, 61.0)])
    assert not (tmp_path / "m.jsonl").exists()


def test_fields_a_user_added_survive_merges(space, tmp_path):
    path = tmp_path / "m.jsonl"
    write_rows(path, [row(space, 0, 60.0, note="first run", operator="ana"), row(space, 1, 61.0)])
    write_measurements(path, [m(space, 5, 55.0)])  # another id: the file's rows kept whole
    rows = {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}
    assert rows[0]["note"] == "first run" and rows[0]["operator"] == "ana"
    write_measurements(path, [m(space, 0, 62.0)])  # re-measured: the user's notes stay with the id
    rows = {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}
    assert rows[0]["acc1"] == 62.0 and rows[0]["note"] == "first run" and rows[0]["operator"] == "ana"
    assert sorted(rows) == [0, 1, 5]
    assert dict(read_measurements(path, space)[0].extra) == {"note": "first run", "operator": "ana"}


def test_remeasured_rows_replace_with_a_warning_naming_them(space, tmp_path, caplog):
    path = tmp_path / "m.jsonl"
    write_measurements(path, [m(space, 0, 71.5), m(space, 1, 60.0)])
    with caplog.at_level(logging.WARNING, logger="stitchnas"):
        write_measurements(path, [m(space, 0, 10.0), m(space, 1, 60.0)])
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "re-measured id(s) 0 (acc1 71.5 -> 10) replace their rows" in warned[0]
    assert [r.acc1 for r in read_measurements(path, space)] == [10.0, 60.0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="stitchnas"):
        write_measurements(path, [m(space, 1, 60.0)])  # the same values: nothing to say
    assert not caplog.records
    write_measurements(path, [m(space, 0, 99.0)], replace=False)  # keep: the file's row stays
    assert read_measurements(path, space)[0].acc1 == 10.0


def test_import_that_disagrees_with_the_file_is_refused(space, tmp_path, capsys):
    out = tmp_path / "m.jsonl"
    write_rows(out, [row(space, 0, 71.5, note="measured here")])
    published = tmp_path / "stitches_res.txt"
    published.write_text("{'cfg_id': 0, 'acc1': 10.0}\n{'cfg_id': 1, 'acc1': 99.0}\n")
    before = out.read_bytes()
    code, stdout, err = run_cli(capsys, "import-snnet", published, "--space", "tiny_test", "--out", out)
    assert code == 2 and stdout == "" and err.count("\n") == 1, err
    assert "already holds id 0 with other values (acc1 71.5" in err and "acc1 10" in err
    assert "write to a new file, or delete that row" in err
    assert out.read_bytes() == before
