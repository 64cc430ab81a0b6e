"""The accuracy table with (almost) nothing measured: when the prior steps in, and when not."""

import json

import pytest
from support import run_cli
from support.tiny import ACC, costs, row, space  # noqa: F401 - fixtures

from stitchnas.errors import StitchnasError
from stitchnas.optimize import accuracy_table


def test_anchor_rows_alone_give_a_prior_table(space, costs):
    table = accuracy_table(space, [row(space, costs, 0), row(space, costs, 1)])
    assert table.predictor == "prior" and table.measured_ids == 2
    sources = dict(zip(table.ids, table.source))
    assert sources[0] == sources[1] == "measured"
    assert {s for cid, s in sources.items() if cid > 1} == {"prior"}
    assert all(70.0 <= a <= 80.0 for a in table.acc1)
    assert all(sd >= 2.0 for sd, s in zip(table.std, table.source) if s == "prior")


def test_one_measured_stitch_calibrates_the_prior_two_hand_over(space, costs):
    given = space.with_anchor_acc1({"s": 70.0, "l": 80.0})
    one = accuracy_table(given, [row(space, costs, 5, acc1=60.0)])
    assert one.predictor == "prior"
    base = accuracy_table(given, [])
    shifted = [a - b for a, b, s in zip(one.acc1, base.acc1, one.source) if s == "prior"]
    assert all(d < -1.0 for d in shifted)  # a stitch measured far below the line pulls it down
    two = accuracy_table(given, [row(space, costs, i) for i in (2, 5)])
    assert two.predictor.startswith("auto") and "prior" not in two.source
    assert base.key != accuracy_table(space.with_anchor_acc1({"s": 71.0, "l": 80.0}), []).key


def test_without_two_anchors_or_two_stitches_the_error_names_both_ways(space, costs):
    with pytest.raises(StitchnasError, match=r"has no measurements.*acc1:.*--anchor-acc NAME=ACC.*"
                                             r"stitchnas evaluate tiny_test --sample 16.*--anchors"):
        accuracy_table(space, [])
    with pytest.raises(StitchnasError, match=r"only 1 measured stitch.*use --predictor prior"):
        accuracy_table(space, [row(space, costs, 5)], "flops")


def test_bench_prior_scores_the_prior_on_a_measured_table(space, costs, tmp_path, capsys):
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(row(space, costs, i).to_json()) + "\n" for i in ACC))
    code, out, err = run_cli(capsys, "bench", "prior", "tiny_test", "--measurements", path,
                             "--out", tmp_path)
    assert code == 0, err
    report = json.loads((tmp_path / "prior_tiny_test.json").read_text())
    assert report["anchors"] == {"s": 70.0, "l": 80.0} and report["stitches"] == len(ACC) - 2
    assert 0.0 <= report["within_1_std"] <= report["within_2_std"] <= 1.0
    assert report["median_std"] >= 2.0 and "tiny_test: prior from anchors s 70.0, l 80.0" in err
