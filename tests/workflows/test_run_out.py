"""`stitchnas run --out DIR` writes nothing outside DIR (anchors, tables, fronts, report), and its
progress reaches a log: one stderr line per epoch and per step when stderr is not a terminal,
none with --quiet, while stdout carries only the report."""

import json
import os
from pathlib import Path

from support import run_cli, tiny_anchor, write_space

SPACE = """name: run_out
input_size: [1, 28, 28]
anchors:
  - {a}, checkpoint: '${{results}}/anchors/run_out/s.pt'}}
  - {b}, checkpoint: '${{results}}/anchors/run_out/l.pt'}}
rule: {{type: two_way, pairs: nearest, max_stitches: 1}}
data: {{name: digits}}
training:
  anchors: {{epochs: 2, batch_size: 64, lr: 0.003, train_subset: 256, val_subset: 128}}
  stitching: {{epochs: 1, batch_size: 64, freeze_anchors: true, train_subset: 256}}
run:
  initial: 3
  rounds: 1
  per_round: 1
  val_subset: 128
  proxy_images: 200
  targets: [cpu, flops_budget]
  trials: 10
  latency_repeats: 3
  latency_validate: 3
"""


def _files(root):
    return {os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs}


def test_run_out_contains_everything_and_logs_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("STITCHNAS_RESULTS", raising=False)
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    path = write_space(tmp_path, SPACE.format(a=tiny_anchor("s", 16, depth=2)[:-1],
                                             b=tiny_anchor("l", 32, depth=2)[:-1]))
    before = _files(tmp_path)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(capsys, "run", path, "--out", out)
    assert code == 0, stderr
    new = _files(tmp_path) - before
    outside = {f for f in new if not f.startswith((str(out) + os.sep, str(tmp_path / "cache"),
                                                   str(tmp_path / "xdg")))}
    assert not outside, f"written outside --out: {sorted(outside)}"
    assert not os.listdir(cwd)
    assert (out / "anchors" / "run_out" / "s.pt").is_file()  # ${results} followed --out
    assert any(f.startswith(str(out / "latency")) for f in new)
    assert (out / "run_out" / "run" / "report.md").is_file()

    # stderr is not a terminal here: no bars, one line per epoch and per step; stdout: the report
    lines = stderr.splitlines()
    assert sum("anchor s: epoch" in ln and "train loss" in ln and "train top-1" in ln for ln in lines) == 2
    assert sum("stitching layers: epoch 1/1 done, train loss" in ln for ln in lines) == 1
    for i, step in enumerate(("anchors", "stitching layers", "proxy scores", "measurements", "predictor",
                              "latency tables", "search")):
        assert sum(ln.startswith(f"stitchnas: run: step {i + 1}/7 done, {step}: ") for ln in lines) == 1, step
    assert "\r" not in stderr and "it/s" not in stderr
    assert stdout.startswith("# stitchnas run: run_out") and "train loss" not in stdout
    from stitchnas.costs import cores_said, cpu_name

    assert f"; {cpu_name()}, {cores_said()}, total " in stdout.splitlines()[2]  # the machine, by name
    report = (out / "run_out" / "run" / "report.md").read_text()
    assert "## Measured: 4 of" in report and "| id | route | top-1 % | MFLOPs | vs line |" in report
    assert "(4 new; every candidate: the plan (anchors + 1 random + 1 x 1 suggested) covers this space)" in report
    assert "## Latency table `cpu`" in report
    # the latency front's members, timed end to end, beside the table's latencies
    cpu_front = report.split("## Target `cpu`", 1)[1].split("## Target", 1)[0]
    doc = json.loads((out / "run_out" / "run" / "report.json").read_text())
    line = doc["above_line"]  # measured on the run's 128 validation images: gaps carry error bars
    assert line["images"] == 128 and line["stitches"] == 2 and 0 <= line["above_by_2se"] <= line["above"] <= 2
    assert " ± " in report.split("| vs line |", 1)[1] and "two standard errors of that gap" in report
    timed = doc["front_latency_measured_ms"]
    assert set(timed) == {"cpu"} and timed["cpu"] and all(float(v) > 0 for v in timed["cpu"].values())
    assert "| latency ms | measured ms |" in cpu_front and "Front members timed end to end" in cpu_front
    # its order line reads pairs within the table's worst validation error as noise
    from stitchnas.costs import validation_error
    from stitchnas.fronts import load_front
    from stitchnas.workflows._front_timing import order_line

    table = json.loads(Path(report.split("- table: ", 1)[1].split("\n", 1)[0]).read_text())
    worst = validation_error(table["validation"])["worst_ape_pct"]
    members = load_front(path, "cpu", results=out).members
    said = next(ln for ln in cpu_front.splitlines() if ln.startswith("Front members timed end to end"))
    expected = order_line(members, {int(k): v for k, v in timed["cpu"].items()}, tolerance_pct=worst)
    assert said.split("; see the warning above.")[0].rstrip(".") == expected.rstrip(".")
    # the report's query hint finds the fronts where --out put them
    hint = report.split("Query: `", 1)[1].split("`", 1)[0]
    assert hint == f"stitchnas query {path} --results {out} --target cpu --list"
    code, listed, err = run_cli(capsys, "query", path, "--results", out, "--target", "cpu", "--list")
    assert code == 0 and listed.strip(), err
    monkeypatch.setenv("STITCHNAS_RESULTS", str(out))
    # a search after the run reads the run's measurements and proxy scores: the run's front again
    front_file = out / "run_out" / "flops_budget" / "front.json"
    before_search = json.loads(front_file.read_text())
    code, said, err = run_cli(capsys, "search", path, "--target", "flops_budget")
    assert code == 0, err
    assert f"reading the last run's {out / 'run_out' / 'run' / 'measurements.jsonl'} and " in err
    again = json.loads(front_file.read_text())
    assert again["measurements"] == "${results}/run_out/run/measurements.jsonl"  # within --out: relative
    assert again["members"] == before_search["members"] and again["predictor"] == before_search["predictor"]
    # so do predict, suggest and predictor-cv: the same rows and proxy scores, no --measurements
    ran = out / "run_out" / "run"
    for argv in (("predict",), ("suggest", "--k", "1"), ("predictor-cv", "--repeats", "2", "--train-fraction", "0.5")):
        code, said, err = run_cli(capsys, argv[0], path, *argv[1:])
        assert code == 0, err
        assert f"{argv[0]}: no {out / 'run_out' / 'measurements.jsonl'}: reading the last run's " \
               f"{ran / 'measurements.jsonl'} and {ran / 'proxies.jsonl'}" in err
        if argv[0] == "predict":
            assert "with auto (chose proxy), fitted on 4 measured" in said
        if argv[0] == "suggest":  # every candidate is measured here, in the run's file
            assert said.rstrip().endswith(f"is measured in {ran / 'measurements.jsonl'}: nothing to suggest")
    monkeypatch.delenv("STITCHNAS_RESULTS")

    code, stdout, stderr = run_cli(capsys, "run", path, "--out", out, "--quiet")  # all reused
    assert code == 0 and stdout.startswith("# stitchnas run")
    assert all(ln.startswith("stitchnas: warning:") for ln in stderr.splitlines()), stderr


def test_ctrl_c_names_the_step_and_the_same_command_goes_on(tmp_path, monkeypatch, capsys):
    """Ctrl-C in the stitching layers' training (stood in for by a train_stitched that is
    interrupted, as an evaluation is, after some images): one line naming the step, exit 130; the
    anchors trained before it are kept and the same command reuses them."""
    import stitchnas.measure._train as train

    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path / "cache"))
    path = write_space(tmp_path, SPACE.format(a=tiny_anchor("s", 16, depth=2)[:-1],
                                             b=tiny_anchor("l", 32, depth=2)[:-1]))
    out = tmp_path / "out"
    real = train.train_stitched

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("interrupted after 64 images")

    monkeypatch.setattr(train, "train_stitched", interrupted)
    code, stdout, stderr = run_cli(capsys, "--quiet", "run", path, "--out", out)
    assert code == 130 and stdout == ""
    assert stderr.splitlines()[-1] == (  # after the anchors' warnings (two epochs on 256 images)
        "stitchnas: interrupted in step 2/7, stitching layers (after 64 images); the steps before it and "
        "what this one saved are kept: the same command goes on from there")
    assert (out / "anchors" / "run_out" / "s.pt").is_file() and not (out / "run_out" / "run").exists()
    monkeypatch.setattr(train, "train_stitched", real)
    code, stdout, stderr = run_cli(capsys, "run", path, "--out", out)
    assert code == 0, stderr
    assert "stitchnas: run: step 1/7 done, anchors: reused saved checkpoints" in stderr
    # after its seventh step, writing the report, a run is still in its last step, not an eighth
    import stitchnas.workflows._run as run_module

    def report_interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "run_report", report_interrupted)
    code, _, stderr = run_cli(capsys, "--quiet", "run", path, "--out", out)
    assert code == 130 and stderr.splitlines()[-1].startswith("stitchnas: interrupted in step 7/7, search; ")
