import json

import pytest

from support import tiny_anchor, write_space
from stitchnas.measure import DataSpec
from stitchnas.measure import read_measurements
from stitchnas.space import load_space
from stitchnas.workflows import snnet_study
from stitchnas.measure import AnchorTrainConfig, StitchTrainConfig


def test_study_end_to_end_on_digits(tmp_path):
    text = (f"name: digits_study\ninput_size: [1, 28, 28]\nanchors:\n"
            f"  - {tiny_anchor('s', 16, depth=3)[:-1]}, checkpoint: s.pt}}\n"
            f"  - {tiny_anchor('l', 32, depth=3)[:-1]}, checkpoint: l.pt}}\n"
            "rule: {type: two_way}\n")
    space = load_space(write_space(tmp_path, text))
    report = snnet_study(
        space, DataSpec("digits", input_size=(1, 28, 28)),
        AnchorTrainConfig(epochs=4, batch_size=32, lr=3e-3),
        StitchTrainConfig(epochs=1, batch_size=32, calib_size=128, freeze_anchors=False),
        out_dir=tmp_path / "out", log=lambda m: None,
    )
    out = tmp_path / "out"
    rows = read_measurements(out / "measurements.jsonl", space)
    assert [r.id for r in rows] == [c.id for c in space.candidates]
    assert len(read_measurements(out / "measurements_uniform.jsonl", space)) == len(rows)
    assert (out / "measured_front.png").read_bytes()[:4] == b"\x89PNG"
    assert "| id | route |" in (out / "measurements.md").read_text()
    saved = json.loads((out / "snnet_study.json").read_text())
    stats = saved["stats"]
    assert stats["least_squares"]["mean_stitch_acc1"] > stats["random_init"]["mean_stitch_acc1"]
    assert stats["trained_flops"]["front_size"] >= 1
    assert set(saved["times_s"]) >= {"train_anchors_s", "train_flops_s", "train_uniform_s",
                                     "evaluate_least_squares_s"}
    assert report["stats"] == stats
    assert saved["anchor_warning"] is None  # trained anchors: no chance-level warning
    diffs = saved["mean_stitch_acc1_differences"]
    assert set(diffs) == {"least_squares_vs_random_init", "trained_flops_vs_least_squares",
                          "trained_flops_vs_trained_uniform"}
    for key, d in diffs.items():
        a, b = key.split("_vs_")
        assert d["difference"] == pytest.approx(stats[a]["mean_stitch_acc1"] - stats[b]["mean_stitch_acc1"],
                                                abs=1e-3)
        assert d["stderr"] > 0 and d["stitches"] == len(space) - 2 and d["within_noise"] == (
            abs(d["difference"]) < 2 * d["stderr"])
    assert not diffs["least_squares_vs_random_init"]["within_noise"]  # chance against trained anchors


def test_mean_stitch_difference_is_paired_over_images():
    """Per image, the share of stitches right in one variant minus the other: the closed form for
    two stitches on four images; anchors left out; None without per-image outcomes."""
    import dataclasses

    import numpy as np

    from stitchnas.measure import Measurement, encode_outcomes
    from stitchnas.workflows._study import mean_stitch_difference

    space = load_space("tiny_test")

    def rows(hits):
        out = []
        for c, h in zip(space.candidates[:3], hits):  # ids 0, 1 are the anchors, 2 a stitch
            out.append(Measurement(c.id, c.route, 100.0 * np.mean(h), None, None, 1, 1, "digits:val:subset4",
                                   "c", space.name, space.content_hash, extra=(("top1_hits", encode_outcomes(h)),)))
        return out

    a = rows([[1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 0, 1]])
    b = rows([[0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]])
    d = mean_stitch_difference(a, b)  # the stitch alone: per image 0, 1, 0, 1
    assert d["stitches"] == 1 and d["images"] == 4 and d["difference"] == pytest.approx(50.0)
    assert d["stderr"] == pytest.approx(100 * np.std([0, 1, 0, 1], ddof=1) / 2, abs=1e-3)
    assert mean_stitch_difference([dataclasses.replace(r, extra=()) for r in a], b) is None


def test_study_refuses_to_replace_measurements_before_training(tmp_path):
    """A measurements file in the study's folder (a user's rows) stops it before any anchor is
    trained; force=True replaces it."""
    import pytest

    from stitchnas.errors import StitchnasError

    text = (f"name: digits_keep\ninput_size: [1, 28, 28]\nanchors:\n"
            f"  - {tiny_anchor('s', 16, depth=2)[:-1]}, checkpoint: s.pt}}\n"
            f"  - {tiny_anchor('l', 32, depth=2)[:-1]}, checkpoint: l.pt}}\n"
            "rule: {type: two_way}\n")
    space = load_space(write_space(tmp_path, text))
    out = tmp_path / "out"
    out.mkdir()
    (out / "measurements_uniform.jsonl").write_text("kept\n")
    with pytest.raises(StitchnasError, match="would replace .*measurements_uniform.jsonl: pass force=True"):
        snnet_study(space, DataSpec("digits", input_size=(1, 28, 28)), AnchorTrainConfig(epochs=1),
                    StitchTrainConfig(epochs=1), out_dir=out, log=lambda m: None)
    assert (out / "measurements_uniform.jsonl").read_text() == "kept\n"
    assert not (tmp_path / "s.pt").exists()  # refused before training


def test_study_tables_replace_an_older_space_version(tmp_path):
    """A table left by an earlier version of the space is replaced whole, not merged (nor refused)."""
    from stitchnas.measure import Measurement
    from stitchnas.workflows._study import _replace_table

    space = load_space("tiny_test")
    rows = [Measurement(c.id, c.route, 50.0, None, None, 1, 1, "d", "c", space.name, space.content_hash)
            for c in space.candidates[:3]]
    path = tmp_path / "measurements.jsonl"
    stale = rows[0].to_json() | {"space_hash": "0" * 16}
    path.write_text(json.dumps(stale) + "\n")
    _replace_table(path, rows)
    assert [r.id for r in read_measurements(path, space)] == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["measurements.jsonl"]


def test_study_command_prints_readable_lines_and_writes_its_tables(tmp_path, capsys):
    """stdout carries the anchors' top-1, the time taken and one line per variant, as text (the
    numbers for scripts are in snnet_study.json)."""
    from support import run_cli

    text = (f"name: digits_cli\ninput_size: [1, 28, 28]\ndata: {{name: digits}}\nanchors:\n"
            f"  - {tiny_anchor('s', 16, depth=2)[:-1]}, checkpoint: s.pt}}\n"
            f"  - {tiny_anchor('l', 32, depth=2)[:-1]}, checkpoint: l.pt}}\n"
            "rule: {type: two_way}\n"
            "training:\n  anchors: {epochs: 1, batch_size: 64, lr: 0.003}\n"
            "  stitching: {epochs: 1, batch_size: 64, calib_size: 128}\n")
    path = write_space(tmp_path, text)
    code, out, err = run_cli(capsys, "--quiet", "study", path, "--out", tmp_path / "out")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("anchors: s ") and lines[0].endswith("%") and ", l " in lines[0]
    assert lines[1].startswith("took ") and "train flops" in lines[1]
    assert sum(": mean stitch top-1 " in line and "hypervolume" in line for line in lines) == 4
    told = [line for line in lines if "points, standard error" in line]
    assert [line.split(":")[0] for line in told] == ["least_squares - random_init", "trained_flops - least_squares",
                                                     "trained_flops - trained_uniform"]
    assert all("(paired over 360 images; training seeds not varied): " in line for line in told)
    assert lines[-1].startswith(f"wrote {tmp_path / 'out'}/")
    saved = json.loads((tmp_path / "out" / "snnet_study.json").read_text())
    assert f"s {saved['anchor_acc1']['s']:.2f}%" in lines[0]
