"""A new family with nothing measured: the anchors' top-1 (space file, --anchor-acc, or
``evaluate --anchors``) is enough for a front, whose members say their accuracy is a prior."""

import csv
import json
from pathlib import Path

import pytest
from support import run_cli, tiny_anchor, write_space

from stitchnas.space import bundled_spaces_dir, load_space

RULE = "rule: {type: two_way, max_stitches: 1}\n"


def _space(tmp_path, acc=("", ""), name="fresh.yaml"):
    parts = []
    for (a, dim), value in zip((("s", 16), ("l", 32)), acc):
        parts.append(tiny_anchor(a, dim)[:-1] + (f", acc1: {value}}}" if value != "" else "}"))
    return write_space(tmp_path, "name: fresh\ninput_size: [1, 28, 28]\nanchors:\n"
                       + "".join(f"  - {p}\n" for p in parts) + RULE, name)


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def test_search_with_anchor_acc1_gives_a_front_of_priors(tmp_path, results, capsys):
    path = _space(tmp_path, (72.2, 79.8))
    code, out, err = run_cli(capsys, "search", path, "--target", "flops_budget")
    assert code == 0, err
    assert "0 measured, 0 predicted" in out and "prior accuracy" in out
    assert "accuracies are priors from the anchors' acc1" in out
    assert f"stitchnas evaluate {path} --sample 16" in out  # the space as the user named it
    front_dir = results / "fresh" / "flops_budget"
    doc = json.loads((front_dir / "front.json").read_text())
    assert doc["predictor"] == "prior" and doc["measured_ids"] == 0 and doc["measurements"] is None
    members = doc["members"]
    assert members and {m["acc1_source"] for m in members} == {"prior"}
    assert all(m["acc1_std"] >= 2.0 for m in members)
    anchors = {m["id"]: m["acc1"] for m in members if m["is_anchor"]}
    assert anchors == {0: 72.2, 1: 79.8}  # both anchors are on a FLOPs front of a monotone prior
    rows = list(csv.DictReader((front_dir / "front.csv").open()))
    assert {r["acc1_source"] for r in rows} == {"prior"}
    code, out, err = run_cli(capsys, "query", path, "--target", "flops_budget")
    assert code == 0 and json.loads(out)["acc1_source"] == "prior" and json.loads(out)["id"] == 1
    assert err == ("stitchnas: note: id 1's top-1 (79.80%) is the acc1 given for this anchor (space file "
                   "or --anchor-acc), not measured here: measure stitches (`stitchnas evaluate`), then "
                   "search again\n")
    stitch = min((m for m in members if not m["is_anchor"]), key=lambda m: m["flops"])
    code, out, err = run_cli(capsys, "query", path, "--target", "flops_budget", "--max-flops", stitch["flops"])
    assert code == 0 and json.loads(out)["id"] == stitch["id"]
    assert (f"note: id {stitch['id']}'s top-1 ({stitch['acc1']:.2f}%) is a prior read off the anchors' acc1, "
            f"std {stitch['acc1_std']:.1f} points, not a measurement") in err
    code, out, _ = run_cli(capsys, "query", path, "--target", "flops_budget", "--list")
    assert code == 0 and "accuracies are priors" in out and " prior " in out


def test_anchor_acc_on_the_command_line_and_its_errors(tmp_path, results, capsys):
    path = _space(tmp_path)
    code, out, err = run_cli(capsys, "search", path, "--target", "flops_budget")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    # both ways out, and the space named as given (the YAML path, not its name)
    assert f"space {path} has no measurements" in err and "acc1:" in err
    assert "--anchor-acc NAME=ACC" in err and f"`stitchnas evaluate {path} --sample 16`" in err
    assert "--anchors" in err
    code, out, err = run_cli(capsys, "search", path, "--target", "flops_budget", "--anchor-acc", "ss=70")
    assert code == 2 and "has no anchor 'ss'; did you mean s?" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(capsys, "search", path, "--target", "flops_budget", "--anchor-acc", "s")
    assert code == 2 and "expected NAME=ACC" in err
    code, out, err = run_cli(capsys, "search", path, "--target", "flops_budget",
                             "--anchor-acc", "s=70", "--anchor-acc", "l=80")
    assert code == 0, err
    doc = json.loads((results / "fresh" / "flops_budget" / "front.json").read_text())
    assert {m["id"]: m["acc1"] for m in doc["members"] if m["is_anchor"]} == {0: 70.0, 1: 80.0}


def test_evaluate_anchors_needs_no_stitched_checkpoint_and_seeds_the_search(tmp_path, results, capsys):
    path = _space(tmp_path)
    out_file = tmp_path / "m.jsonl"
    code, out, err = run_cli(capsys, "evaluate", path, "--anchors", "--data", "digits", "--val-subset",
                             "20", "--out", out_file)
    assert code == 0, err
    assert "no weights" in err  # tiny anchors without checkpoints: said, not hidden
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    space = load_space(path)
    assert [r["id"] for r in rows] == [c.id for c in space.candidates if c.is_anchor] == [0, 1]
    assert {r["checkpoint"] for r in rows} == {"none (anchor weights)"}
    assert {r["space_hash"] for r in rows} == {space.content_hash}
    code, out, err = run_cli(capsys, "search", path, "--target", "flops_budget", "--measurements", out_file)
    assert code == 0, err
    doc = json.loads((results / "fresh" / "flops_budget" / "front.json").read_text())
    sources = {m["id"]: m["acc1_source"] for m in doc["members"]}
    assert all(s == ("measured" if i in (0, 1) else "prior") for i, s in sources.items())
    code, out, err = run_cli(capsys, "search", path, "--target", "flops_budget", "--target", "flops",
                             "--measurements", out_file, "--anchor-acc", "s=70")
    measured_s = next(r["acc1"] for r in rows if r["id"] == 0)
    assert code == 0, err  # the measured anchor wins, and the note says so once (not per target)
    assert err.count(f"--anchor-acc s=70 (measured {measured_s:.2f}%) not used") == 1
    doc = json.loads((results / "fresh" / "flops_budget" / "front.json").read_text())
    assert next(m["acc1"] for m in doc["members"] if m["id"] == 0) == measured_s
    code, _, err = run_cli(capsys, "evaluate", path, "--anchors", "--storage", tmp_path / "q.db",
                           "--data", "digits")
    assert code == 2 and "--anchors measures a few networks on one worker: drop --storage" in err


def test_enumerate_prints_the_space_hash_a_hand_written_row_needs(tmp_path, results, capsys):
    path = _space(tmp_path, (72.2, ""))
    space = load_space(path)
    code, out, _ = run_cli(capsys, "enumerate", path, "--format", "table")
    assert code == 0 and f"space_hash {space.content_hash}" in out and "s=72.2" in out
    code, out, _ = run_cli(capsys, "enumerate", path)
    row = json.loads(out.splitlines()[2])
    row.pop("space_hash")
    row.update(acc1=70.0, acc5=None, loss=None, dataset="mine", checkpoint="c.pt")
    hand = tmp_path / "hand.jsonl"
    hand.write_text(json.dumps(row) + "\n")
    code, _, err = run_cli(capsys, "search", path, "--target", "flops_budget", "--measurements", hand)
    assert code == 2 and "missing key(s) ['space_hash']" in err
    assert f'take "space_hash": "{space.content_hash}"' in err
    hand.write_text(json.dumps({**row, "space_hash": "0123456789abcdef"}) + "\n")
    code, _, err = run_cli(capsys, "search", path, "--target", "flops_budget", "--measurements", hand)
    assert code == 2 and f"takes space_hash {space.content_hash}" in err


def test_every_hint_names_the_space_as_given(tmp_path, results, capsys):
    """A space given as a YAML path is named by that path in the commands an error suggests (not
    by its `name:`, which is no bundled space): here evaluating a stitch with no stitched
    checkpoint."""
    path = _space(tmp_path, (72.2, 79.8))
    code, out, err = run_cli(capsys, "evaluate", path, "--ids", "5", "--data", "digits")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"`stitchnas train {path}`" in err and "stitchnas train fresh" not in err


def test_run_and_train_anchors_say_what_to_add_for_anchors_without_weights(tmp_path, results, capsys):
    path = _space(tmp_path)  # anchors with no checkpoint, no training section
    code, out, err = run_cli(capsys, "run", path, "--out", str(tmp_path / "out"))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"anchors ['s', 'l'] of {path} have no trained weights" in err
    assert "`training: {anchors: {epochs: 4}}`" in err and "`${results}/anchors/fresh/s.pt`" in err
    code, out, err = run_cli(capsys, "train-anchors", path, "--data", "digits", "--epochs", "1")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no 'checkpoint' path to save to" in err and "`checkpoint: ${results}/anchors/fresh/s.pt`" in err
    assert not (tmp_path / "out").exists()
    assert "copy the bundled file" not in err  # a file of the user's own is edited in place
    code, out, err = run_cli(capsys, "run", "deit_tsb_v1", "--out", str(tmp_path / "out"))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    bundled = Path(bundled_spaces_dir(), "deit_tsb_v1.yaml")
    assert (f"training.anchors section to train them with: copy the bundled file {bundled} "
            "to one of your own") in err
    assert not (tmp_path / "out").exists()


def test_query_hints_name_the_space_file_as_given(tmp_path, results, capsys):
    path = _space(tmp_path, (72.2, 79.8))
    assert run_cli(capsys, "search", path, "--target", "flops_budget")[0] == 0
    code, out, err = run_cli(capsys, "query", path, "--target", "flops_budget", "--max-latency-ms", "3")
    assert code == 2 and f"`stitchnas search {path} --target T`" in err
    code, out, err = run_cli(capsys, "query", path, "--target", "flops_budget", "--list")
    assert code == 0 and f"stitchnas evaluate {path} --sample 16" in out
