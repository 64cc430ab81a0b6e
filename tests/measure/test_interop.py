import json

import pytest
from support import SHARED, run_cli

from stitchnas.errors import StitchnasError
from stitchnas.measure import import_snnet, mismatch_lines, read_snnet_results
from stitchnas.measure import read_measurements
from stitchnas.costs import Profiler
from stitchnas.space import load_space

PUBLISHED = SHARED / "snnet_v1_deit_tsb.jsonl"
needs_published = pytest.mark.skipif(not PUBLISHED.is_file(), reason=f"{PUBLISHED} is absent")


@pytest.fixture(scope="module")
def deit():
    space = load_space("deit_tsb_v1")
    return space, {c.id: c for c in Profiler(space, progress=False).profile()}




@needs_published
def test_published_deit_table_imports_cleanly(deit, tmp_path, capsys):
    space, costs = deit
    out = tmp_path / "published.jsonl"
    code, stdout, err = run_cli(capsys, "import-snnet", PUBLISHED, "--space", "deit_tsb_v1", "--out", out)
    assert code == 0 and err == ""
    assert "imported 71 published rows" in stdout and "0 flop disagreement(s)" in stdout
    rows = read_measurements(out, space)
    assert [m.id for m in rows] == list(range(71))
    published = [json.loads(line) for line in PUBLISHED.read_text().splitlines()]
    for m, p in zip(rows, published):
        assert m.acc1 == p["acc1"] and m.acc5 is None and m.loss is None
        assert (m.flops, m.params, m.route) == (costs[m.id].flops, costs[m.id].params, costs[m.id].route)
        assert m.dataset == "imagenet-1k:published"
        assert m.checkpoint == "snnet-published:snnet_v1_deit_tsb.jsonl"


@needs_published
def test_tampered_flops_warn(deit, tmp_path, capsys):
    lines = PUBLISHED.read_text().splitlines()
    row = json.loads(lines[40])
    row["flops"] = int(row["flops"] * 1.01)
    lines[40] = json.dumps(row)
    tampered = tmp_path / "stitches_res.txt"
    tampered.write_text("\n".join(lines) + "\n")
    code, _, err = run_cli(capsys, "import-snnet", tampered, "--space", "deit_tsb_v1", "--out",
                           tmp_path / "m.jsonl")
    assert code == 0
    assert err.count("\n") == 1
    assert err.startswith("stitchnas: warning: id 40: published flops") and "by +0.995%" in err


def test_python_dict_lines_and_conventions(deit, tmp_path):
    space, costs = deit
    d_last = {a: space.feature_specs[a][-1].shape[-1] for a in range(3)}
    norm = {cid: 5 * 197 * d_last[c.route.last_anchor] for cid, c in costs.items()}
    lines = [
        f"{{'cfg_id': 0, 'flops': {costs[0].flops}, 'params': 5717416, 'acc1': 72.2, 'acc5': 91.1}}",
        "",
        f"{{'cfg_id': 3, 'flops': {costs[3].flops - norm[3]}, 'acc1': 79.0}}",   # SN-Net: no final norm
        f"{{'cfg_id': 40, 'flops': {costs[40].flops + 1000}, 'acc1': 81.0}}",     # within 0.01%
        f"{{'cfg_id': 50, 'flops': {costs[50].flops * 2}, 'acc1': 81.6}}",        # wrong
        "{'cfg_id': 60, 'acc1': 81.1, 'acc5': None}",
        '{"cfg_id": 61, "acc1": 80.8, "acc5": null}',                            # JSON spelling
        f"{{'cfg_id': 3, 'flops': {costs[3].flops}, 'acc1': 79.5}}",              # last row wins
    ]
    path = tmp_path / "stitches_res.txt"
    path.write_text("\n".join(lines))
    assert [r.id for r in read_snnet_results(path)] == [0, 3, 40, 50, 60, 61]
    result = import_snnet(path, space)
    rows = {m.id: m for m in result.rows}
    assert sorted(rows) == [0, 3, 40, 50, 60, 61]
    assert rows[0].acc5 == 91.1 and rows[3].acc1 == 79.5 and rows[60].acc5 is None
    assert [m.id for m in result.mismatches] == [50]
    (line,) = mismatch_lines(result)
    assert line.startswith("warning: id 50: published flops") and "+100.000%" in line


def test_ids_and_top1_alone_as_csv_or_id_rows(deit, tmp_path, capsys):
    """A published table as a CSV with a header, or as rows keyed by ``id``, imports like
    stitches_res.txt; a measurements file of such rows points to import-snnet."""
    space, costs = deit
    csv_path = tmp_path / "published.csv"
    csv_path.write_text("\ufeffCFG_ID, acc1,acc5,flops\n0,72.2,91.1,\n\n3,79.0,,%d\n" % costs[3].flops)
    rows = {m.id: m for m in import_snnet(csv_path, space).rows}
    assert sorted(rows) == [0, 3] and rows[0].acc5 == 91.1 and rows[3].acc5 is None
    assert rows[3].flops == costs[3].flops and rows[3].route == costs[3].route
    id_rows = tmp_path / "ids.jsonl"
    id_rows.write_text('{"id": 0, "acc1": 72.2}\n{"id": 3, "acc1": 79.0}\n')
    assert [(m.id, m.acc1) for m in import_snnet(id_rows, space).rows] == [(0, 72.2), (3, 79.0)]
    with pytest.raises(StitchnasError, match=r"import-snnet .*ids.jsonl --space deit_tsb_v1 --out"):
        read_measurements(id_rows, space)


def test_many_mismatches_are_summarised(deit, tmp_path):
    space, costs = deit
    path = tmp_path / "stitches_res.txt"
    path.write_text("".join(f"{{'cfg_id': {i}, 'flops': {costs[i].flops * 2}, 'acc1': 50.0}}\n"
                            for i in range(30)))  # e.g. two flops per multiply-add: within 3x, warned
    lines = mismatch_lines(import_snnet(path, space), limit=10)
    assert len(lines) == 11 and lines[-1].startswith("warning: 20 more id(s) disagree on flops (30 of 30)")


@pytest.mark.parametrize("text, message", [
    ("{'cfg_id': 3, 'acc1': 79.0}\n{'cfg_id': 4, 'acc1'\n", "line 2: not a Python dict or JSON object"),
    ("{'cfg_id': 3}\n", "line 1: each line needs at least 'cfg_id' (or 'id') and 'acc1'"),
    ("[3, 79.0]\n", "line 1: each line needs at least 'cfg_id' (or 'id') and 'acc1'"),
    ("cfg_id,acc1,flops\n3,79.0\n", "line 2: 2 values for the header's 3 columns"),
    ("id,acc1\n3,high\n", "line 2: 'acc1' must be a finite number, got 'high'"),
    ("id,top1\n3,79.0\n", "line 2: each line needs at least 'cfg_id' (or 'id') and 'acc1'"),
    ("{'cfg_id': 'x', 'acc1': 79.0}\n", "line 1: 'cfg_id' must be an integer"),
    ("{'cfg_id': 3, 'acc1': 0.79e3}\n", "line 1: 'acc1' is 790.0, outside 0..100"),
    ('{"cfg_id": 3, "acc1": NaN}\n', "line 1: 'acc1' must be a finite number"),
    ("{'cfg_id': 3, 'acc1': 79.0, 'flops': 1.5}\n", "line 1: 'flops' must be an integer"),
    ("\n\n", "holds no rows"),
    ("{'cfg_id': 3, 'acc1': 79.0}\n{'cfg_id': 71, 'acc1': 79.0}\n{'cfg_id': -1, 'acc1': 1.0}\n",
     "id(s) -1, 71 are not valid candidates of space 'deit_tsb_v1'"),
])
def test_bad_published_files(deit, tmp_path, capsys, text, message):
    path = tmp_path / "stitches_res.txt"
    path.write_text(text)
    with pytest.raises(StitchnasError) as err:
        import_snnet(path, deit[0])
    assert message in str(err.value) and "\n" not in str(err.value)
    code, stdout, stderr = run_cli(capsys, "import-snnet", path, "--space", "deit_tsb_v1", "--out",
                                   tmp_path / "m.jsonl")
    assert code == 2 and stderr.count("\n") == 1 and message in stderr
    assert not (tmp_path / "m.jsonl").exists()


def test_cli_missing_file_and_space(tmp_path, capsys):
    code, _, err = run_cli(capsys, "import-snnet", tmp_path / "none.txt", "--space", "tiny_test",
                           "--out", tmp_path / "m.jsonl")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "import-snnet", tmp_path / "none.txt", "--out", tmp_path / "m.jsonl")
    assert code == 2 and "--space" in err and err.count("\n") == 1


def test_snnetv2_table_with_its_kept_slot_imports_the_networks(tmp_path, capsys):
    """SN-Netv2's evaluation loops over every id of its numbering, the S->L slot after the last
    S block (no L block left) included, so a published table has a row for it: that row is
    skipped with one warning line and the rest import; an id past the numbering still fails."""
    space = load_space("fmnist_vit_sl_v2")
    kept = [i for i in range(space.num_ids) if i not in {c.id for c in space.candidates}]
    assert kept == [7]  # depths 6 and 12: S->L ids 2..7, the last has no L block left
    path = tmp_path / "stitches_res_s_l.txt"
    path.write_text("".join(f'{{"cfg_id": {i}, "acc1": {70 + i / 10:.1f}}}\n' for i in range(space.num_ids)))
    out = tmp_path / "m.jsonl"
    code, stdout, err = run_cli(capsys, "import-snnet", path, "--space", "fmnist_vit_sl_v2", "--out", out)
    assert code == 0, err
    assert err.count("\n") == 1 and err.startswith("stitchnas: warning: id(s) 7 skipped")
    assert f"imported {len(space)} published rows" in stdout and "1 skipped, not networks" in stdout
    assert [m.id for m in read_measurements(out, space)] == [c.id for c in space.candidates]
    result = import_snnet(path, space)
    assert result.skipped == (7,) and len(result.rows) == len(space)
    path.write_text(path.read_text() + f'{{"cfg_id": {space.num_ids}, "acc1": 1.0}}\n')
    with pytest.raises(StitchnasError, match=f"id\\(s\\) {space.num_ids} are not valid"):
        import_snnet(path, space)


@pytest.fixture(scope="module")
def tiny():
    space = load_space("tiny_test")
    return space, {c.id: c for c in Profiler(space, progress=False).profile()}


def test_results_of_another_space_are_refused_before_anything_is_written(tiny, tmp_path, capsys):
    # a DeiT-sized table imported into a 28x28 space: every count thousands of times ours
    space, costs = tiny
    path = tmp_path / "stitches_res.txt"
    path.write_text("".join(f"{{'cfg_id': {i}, 'flops': {costs[i].flops * 5000}, 'acc1': 70.0}}\n"
                            for i in range(3)))
    out = tmp_path / "m.jsonl"
    code, stdout, err = run_cli(capsys, "import-snnet", path, "--space", "tiny_test", "--out", out)
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "its flops are not those of space 'tiny_test': 3 of 3 rows are more than 3x off ours" in err
    assert "import with the space the results were published for" in err and not out.exists()
    # the same accuracies without flops import: nothing left to disagree with
    path.write_text("".join(f"{{'cfg_id': {i}, 'acc1': 70.0}}\n" for i in range(3)))
    assert run_cli(capsys, "import-snnet", path, "--space", "tiny_test", "--out", out)[0] == 0


def test_one_row_far_off_is_a_warning_not_a_refusal(tiny, tmp_path):
    space, costs = tiny
    path = tmp_path / "stitches_res.txt"
    path.write_text("".join(f"{{'cfg_id': {i}, 'flops': {costs[i].flops * (10 if i == 2 else 1)}, "
                            f"'acc1': 70.0}}\n" for i in range(4)))
    assert [m.id for m in import_snnet(path, space).mismatches] == [2]


def test_rows_are_labelled_with_the_data_they_were_measured_on(tiny, tmp_path, capsys):
    path = tmp_path / "res.csv"
    path.write_text("id,acc1\n0,71.5\n1,80.25\n")
    spec = tmp_path / "mine.yaml"  # a user's space measured on its own data
    spec.write_text(load_space("tiny_test").path.read_text().replace("name: tiny_test", "name: mine")
                    + "data: {name: digits}\n")
    code, stdout, _ = run_cli(capsys, "import-snnet", path, "--space", spec, "--out", tmp_path / "a.jsonl")
    assert code == 0 and "(digits:published)" in stdout
    assert {m.dataset for m in read_measurements(tmp_path / "a.jsonl", load_space(spec))} == {"digits:published"}
    # a space that names no data set: SN-Net's tables, ImageNet; --dataset says otherwise
    assert {m.dataset for m in import_snnet(path, tiny[0]).rows} == {"imagenet-1k:published"}
    code, _, _ = run_cli(capsys, "import-snnet", path, "--space", "tiny_test", "--dataset", "cifar100",
                         "--out", tmp_path / "b.jsonl")
    assert code == 0
    assert {m.dataset for m in read_measurements(tmp_path / "b.jsonl", tiny[0])} == {"cifar100:published"}
