import json

import pytest
from support import make_image_tree, run_cli, tiny_anchor, write_space

from stitchnas.cli import main
from stitchnas.errors import StitchnasError
from stitchnas.fronts import load_front
from stitchnas.measure import checkpoint_digest
from stitchnas.workflows import RunConfig, run
from stitchnas.space import load_space

SPACE = """name: run_tiny
input_size: [1, 28, 28]
anchors:
  - {a}, checkpoint: '${{results}}/anchors/run_tiny/s.pt'}}
  - {b}, checkpoint: '${{results}}/anchors/run_tiny/l.pt'}}
rule: {{type: two_way, pairs: nearest, max_stitches: 2}}
data: {{name: digits}}
training:
  anchors: {{epochs: 6, batch_size: 32, lr: 0.003}}
  stitching: {{epochs: 1, batch_size: 32, freeze_anchors: true}}
run:
  initial: 4
  rounds: 1
  per_round: 3
  val_subset: 120
  proxy_images: 200
  targets: [flops_budget, params_budget]
  trials: 40
"""


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    path = write_space(tmp_path, SPACE.format(a=tiny_anchor("s", 16)[:-1], b=tiny_anchor("l", 32)[:-1]))
    return tmp_path / "results", path


def test_run_end_to_end_then_reuses_everything(results, capsys):
    root, path = results
    space = load_space(path)
    report = run(space, log=lambda m: None)
    assert [s.name for s in report.steps] == ["anchors", "stitching layers", "proxy scores", "measurements",
                                              "predictor", "latency tables", "search"]
    assert report.steps[2].done.startswith(f"{len(space)} candidates scored on ")
    assert "auto chose proxy" in report.steps[4].done and "the proxy loss ranks the 7 measured" in report.steps[4].done
    assert "trained s, l" in report.steps[0].done
    assert report.steps[3].done.endswith("(7 new; anchors + 2 random + 1 x 3 suggested)")
    for target in ("flops_budget", "params_budget"):
        front = load_front(space, target, results=root)
        assert front.members and front.objectives[0] == "acc1"
        assert (root / "run_tiny" / target / "front.png").is_file()
        sources = {m.acc1_source for m in front.members}
        assert sources <= {"measured", "predicted"}
    measured = (root / "run_tiny" / "run" / "measurements.jsonl").read_text().splitlines()
    assert len(measured) == 4 + 3  # 2 anchors + 2 random, then 3 suggested
    predicted = [json.loads(x) for x in (root / "run_tiny" / "run" / "predictions.jsonl").read_text().splitlines()]
    assert [p["id"] for p in predicted] == [c.id for c in space.candidates]  # every candidate, drawn too
    assert sum(p["measured"] for p in predicted) == 7 and "predictions.jsonl (+ .png)" in report.steps[4].done
    assert (root / "run_tiny" / "run" / "predictions.png").read_bytes()[:4] == b"\x89PNG"
    text = (root / "run_tiny" / "run" / "report.md").read_text()
    assert "## Target `flops_budget`" in text and "| step | seconds | what |" in text
    doc = json.loads((root / "run_tiny" / "run" / "report.json").read_text())
    assert doc["measured"] == 7 and set(doc["fronts"]) == {"flops_budget", "params_budget"}
    assert doc["predictor"]["chosen"] == "proxy" and -1 <= doc["predictor"]["proxy_tau"] <= 1

    again = run(space, log=lambda m: None)  # nothing is redone
    assert again.steps[0].done == "reused saved checkpoints"
    assert again.steps[1].done.startswith("reused")
    assert again.steps[2].done.startswith("reused")  # the saved scores, of the same checkpoint
    assert "0 new" in again.steps[3].done
    assert len((root / "run_tiny" / "run" / "measurements.jsonl").read_text().splitlines()) == 7

    # the space's stitching recipe changed: its finished checkpoint is reused, and the run says so
    edited = path.with_name("edited.yaml")
    edited.write_text(path.read_text().replace("stitching: {epochs: 1,", "stitching: {epochs: 1, lr: 0.005,"))
    third = run(load_space(edited), log=lambda m: None)
    assert third.steps[1].done.startswith("reused") and "other settings than the run's recipe (lr 0.001 -> 0.005)" \
        in third.steps[1].done

    # the checkpoint changed under the run (trained on by hand, say): its old rows are not reused
    import torch

    ckpt = root / "run_tiny" / "stitched.pt"
    doc = torch.load(ckpt, weights_only=True)
    key = next(k for k, v in doc["stitch_layers"].items() if v.is_floating_point())
    doc["stitch_layers"][key] += 0.01
    torch.save(doc, ckpt)
    fourth = run(space, log=lambda m: None)
    assert fourth.steps[1].done.startswith("reused") and not fourth.steps[2].done.startswith("reused")
    assert "(7 new;" in fourth.steps[3].done
    rows = [json.loads(line) for line in (root / "run_tiny" / "run" / "measurements.jsonl").read_text().splitlines()]
    assert len(rows) == 7 and {r["checkpoint_sha256"] for r in rows} == {checkpoint_digest(ckpt)}

    # an anchor trained anew (train-anchors --force): the layers fitted to the old one are trained again
    anchor = root / "anchors" / "run_tiny" / "s.pt"
    weights = torch.load(anchor, weights_only=True)
    state = weights.get("state_dict", weights.get("model", weights)) if isinstance(weights, dict) else weights
    key = next(k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point())
    state[key] += 0.01
    torch.save(weights, anchor)
    fifth = run(space, log=lambda m: None)
    assert fifth.steps[0].done == "reused saved checkpoints"
    assert fifth.steps[1].done.startswith("trained 1 epoch(s)") and \
        "again: anchor(s) s were trained anew since the saved layers" in fifth.steps[1].done
    assert "(7 new;" in fifth.steps[3].done
    assert run(space, log=lambda m: None).steps[1].done.startswith("reused")  # recorded: no third training

    # the space itself changed (another rule): its old checkpoint is refused, with what the run needs
    other = path.with_name("other_rule.yaml")
    other.write_text(path.read_text().replace("max_stitches: 2", "max_stitches: 1"))
    with pytest.raises(StitchnasError, match=r"stitched\.pt was trained on another version of space 'run_tiny' "
                                             r"\(its anchors, rule or stitching changed since\); delete it, or "
                                             "run with another --out"):
        run(load_space(other), log=lambda m: None)


def test_a_split_too_small_for_proxy_images_apart_measures_every_candidate(tmp_path, monkeypatch):
    """Proxy images that would include every image the measurements use are measurements by
    another name (same images, same cost): the run measures every candidate instead, and nothing
    is labelled predicted (digits' 360 validation images, 2,048 proxy images)."""
    root = tmp_path / "results"
    monkeypatch.setenv("STITCHNAS_RESULTS", str(root))
    text = SPACE.replace("  val_subset: 120\n  proxy_images: 200\n", "")
    path = write_space(tmp_path, text.format(a=tiny_anchor("s", 16)[:-1], b=tiny_anchor("l", 32)[:-1]))
    space = load_space(path)
    report = run(space, log=lambda m: None)
    assert report.steps[2].done.startswith("not needed: the 2048 proxy images would include every validation")
    assert report.steps[3].done == (f"{len(space)} of {len(space)} stitches measured on digits:val ({len(space)} "
                                    "new; every candidate: the split's 360 images are too few to hold 2048 proxy "
                                    "images apart, and scoring them costs what measuring does)")
    assert report.steps[4].done.startswith("not needed: every candidate is measured; their top-1s -> ")
    assert "Every candidate measured: nothing predicted." in (root / "run_tiny" / "run" / "report.md").read_text()
    assert not (root / "run_tiny" / "run" / "proxies.jsonl").exists()
    predicted = [json.loads(x) for x in (root / "run_tiny" / "run" / "predictions.jsonl").read_text().splitlines()]
    assert all(p["measured"] for p in predicted) and len(predicted) == len(space)
    for target in ("flops_budget", "params_budget"):
        assert {m.acc1_source for m in load_front(space, target, results=root).members} == {"measured"}


def test_bad_run_sections_are_one_line_errors(tmp_path, capsys):
    for bad, message in [("run: {rounds: -1}", "section 'run' key 'rounds' must be an integer >= 0"),
                         ("run: {nope: 1}", r"section 'run' has unknown key\(s\) \['nope'\]"),
                         ("run: {targets: []}", "key 'targets' must be a name")]:
        path = write_space(tmp_path, SPACE.split("run:")[0].format(
            a=tiny_anchor("s", 16)[:-1], b=tiny_anchor("l", 32)[:-1]) + bad + "\n")
        with pytest.raises(StitchnasError, match=message):
            RunConfig.from_space(load_space(path))
        code = main(["run", str(path)])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("stitchnas: error:") and err.count("\n") == 1


def test_a_counted_budget_no_stitch_meets_stops_run_before_any_training(tmp_path, capsys, monkeypatch):
    """FLOPs and params are counted in a second: a target whose budgets nothing meets is one line
    before the anchors and stitching layers are trained, not after."""
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path / "cache"))
    path = write_space(tmp_path, SPACE.format(a=tiny_anchor("s", 16)[:-1], b=tiny_anchor("l", 32)[:-1]))
    target = tmp_path / "tight.yaml"
    target.write_text("name: tight\ncost_model: flops\ndevice: null\nbudgets: {max_flops: 1000}\n")
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "run", path, "--out", out, "--targets", f"flops, {target}")  # a blank after the comma, as search takes it
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "no stitch of run_tiny fits the budgets of target 'tight': max_flops=1,000" in err
    assert not out.exists()  # nothing trained, nothing written


def test_rows_measured_by_evaluate_on_an_image_folder_are_reused_by_run(tmp_path, monkeypatch, capsys):
    """`stitchnas evaluate --data DIR` and `stitchnas run` label image-folder rows alike, so run
    reuses what evaluate measured (they once wrote imagefolder(DIR):val and imagefolder:val)."""
    root = tmp_path / "results"
    monkeypatch.setenv("STITCHNAS_RESULTS", str(root))
    images = tmp_path / "images"
    make_image_tree(images, classes=[f"c{i}" for i in range(10)], per_class=4)
    text = SPACE.replace("data: {{name: digits}}", f"data: {{{{name: imagefolder, root: {images}}}}}")
    text = text.replace("epochs: 6", "epochs: 1").replace("proxy_images: 200", "proxy_images: 0")
    path = write_space(tmp_path, text.format(a=tiny_anchor("s", 16)[:-1], b=tiny_anchor("l", 32)[:-1]))
    space = load_space(path)
    run(space, log=lambda m: None)
    rows_file = root / "run_tiny" / "run" / "measurements.jsonl"
    measured = {json.loads(line)["id"] for line in rows_file.read_text().splitlines()}
    extra = min(c.id for c in space.candidates if c.id not in measured)

    code, _, err = run_cli(capsys, "evaluate", path, "--data", images, "--ids", extra,
                           "--checkpoint", root / "run_tiny" / "stitched.pt", "--out", rows_file)
    assert code == 0, err
    labels = {json.loads(line)["dataset"] for line in rows_file.read_text().splitlines()}
    assert labels == {f"imagefolder({images.resolve()}):val"}

    again = run(space, log=lambda m: None)
    assert again.steps[3].done.startswith(f"{len(measured) + 1} of {len(space)} stitches measured")
    assert "(0 new;" in again.steps[3].done
