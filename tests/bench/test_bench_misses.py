"""`bench search` says whether what the default search misses is measurement noise: each missed
true-front member's lead over the best stitch at most as costly, against two standard errors of
that difference (paired over the same images where the rows carry per-image outcomes)."""

import dataclasses
import json

import numpy as np
import pytest
from support import run_cli
from support.tiny import ACC, costs, row, space  # noqa: F401 - fixtures

from stitchnas.bench import bench_search, miss_line
from stitchnas.measure import difference_stderr, encode_outcomes, read_measurements, write_measurements

IMAGES = 400


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))


def _table(space, costs, path, hits: bool):
    """Every tiny_test candidate at ACC's top-1; with ``hits``, measured on 400 images, the first
    k right (so two stitches differ on few images and their paired error is small)."""
    rows = []
    for i in sorted(ACC):
        m = row(space, costs, i)
        if hits:
            k = round(ACC[i] * IMAGES / 100)
            outcomes = encode_outcomes(np.arange(IMAGES) < k)
            m = dataclasses.replace(m, dataset=f"fashion_mnist:val:subset{IMAGES}",
                                    extra=(("top1_hits", outcomes),))
        rows.append(m)
    write_measurements(path, rows)
    return path


def test_each_miss_is_told_against_its_paired_error(space, costs, tmp_path):
    path = _table(space, costs, tmp_path / "hits.jsonl", hits=True)
    rows = {m.id: m for m in read_measurements(path, space)}
    r = bench_search("tiny_test", path, train_fraction=0.3, trials=2, seeds=(0, 1, 2), samplers=("random",),
                     predictor="flops", out_dir=None)
    truth = set(r["true_front_ids"])
    missed = []
    for seed_run, ceiling in zip(r["default_search"]["per_seed"], r["ceiling"]["per_seed"]):
        got = seed_run["missed"]
        # the exact default search finds the predicted front: what it lacks of the true one is missed
        assert sorted(m["id"] for m in got) == sorted(truth - set(ceiling["predicted_front_ids"]))
        for m in got:
            me = rows[m["id"]]
            cheaper = [x for x in rows.values() if x.id != me.id and x.flops <= me.flops]
            if not cheaper:  # the cheapest stitch missed: no rival, never noise
                assert m["rival"] is m["lead"] is m["stderr"] is None
                continue
            rival = max(cheaper, key=lambda x: x.acc1)
            assert rows[m["rival"]].acc1 == rival.acc1 and m["lead"] == pytest.approx(me.acc1 - rival.acc1)
            se, paired = difference_stderr(me, rival)
            assert paired and m["paired"] and m["stderr"] == pytest.approx(se, abs=1e-4)
        missed += got
    assert missed, "the test needs misses: change the seeds"
    counts = r["default_search"]["misses"]
    rivalled = [m for m in missed if m["rival"] is not None]
    within = sum(m["lead"] <= 0 or m["lead"] < 2 * m["stderr"] for m in rivalled)
    assert counts == {"count": len(missed), "within_2se": within, "paired": len(rivalled), "independent": 0,
                      "unjudged": 0}
    line = miss_line(counts, 3)
    assert line.startswith(f"misses of the default search: {len(missed)} true-front member")
    assert f"{counts['within_2se']} of {len(missed)} lead the best stitch at most as costly" in line


def test_the_bench_prints_the_line_and_says_when_it_cannot_judge(space, costs, tmp_path, capsys):
    path = _table(space, costs, tmp_path / "plain.jsonl", hits=False)  # digits:val, no image count
    out = tmp_path / "bench"
    code, stdout, err = run_cli(capsys, "bench", "search", "tiny_test", "--measurements", path, "--trials", "2",
                                "--seeds", "0,1,2", "--samplers", "random", "--train-fraction", "0.3",
                                "--predictor", "flops", "--out", out)
    assert code == 0, err
    report = json.loads(next(out.glob("search_tiny_test*.json")).read_text())
    counts = report["default_search"]["misses"]
    assert counts["count"] > 0 and counts["unjudged"] == counts["count"]
    assert f"  {miss_line(counts, 3)}" in stdout.splitlines()
    assert "not judged" in miss_line(counts, 3)
    assert stdout.splitlines()[-1].startswith("default search: ")  # still the last line
    assert miss_line({"count": 0, "within_2se": 0, "paired": 0, "unjudged": 0}, 5) == \
        "misses of the default search: none over 5 seeds"
    from stitchnas.bench._search import _miss_counts

    cheapest = {"id": 0, "rival": None, "lead": None, "stderr": None, "paired": None}
    tie = {"id": 3, "rival": 4, "lead": 0.0, "stderr": 0.0, "paired": True}
    assert _miss_counts([cheapest, tie]) == {"count": 2, "within_2se": 1, "paired": 1, "independent": 0,
                                             "unjudged": 0}
    some = miss_line({"count": 3, "within_2se": 1, "paired": 3, "unjudged": 0}, 5)
    assert some.endswith("1 of 3 lead the best stitch at most as costly by less than two standard errors of "
                         "the difference (3 paired over the same images), 2 by more: not noise")


def test_a_saved_report_recounts_to_what_the_bench_stored(space, costs, tmp_path):
    """Reports written before the bench counted misses are counted again by its own rule."""
    from stitchnas.bench import recount_misses
    from stitchnas.errors import StitchnasError

    path = _table(space, costs, tmp_path / "hits.jsonl", hits=True)
    r = bench_search("tiny_test", path, train_fraction=0.3, trials=2, seeds=(0, 1, 2), samplers=("random",),
                     predictor="flops", out_dir=None)
    old = json.loads(json.dumps(r))
    for seed_run in old["default_search"]["per_seed"]:
        del seed_run["missed"]
    del old["default_search"]["misses"]
    again = recount_misses(old, "tiny_test", path)
    assert again["misses"] == r["default_search"]["misses"] and again["misses"]["count"] > 0
    assert again["per_seed"] == [s["missed"] for s in r["default_search"]["per_seed"]]
    old["default_search"]["per_seed"][1]["hv_ratio_nadir"] -= 0.01  # a search that was not exact
    with pytest.raises(StitchnasError, match=r"seed 1\) did not return the predicted front"):
        recount_misses(old, "tiny_test", path)


def test_rows_on_a_whole_fashion_mnist_split_are_judged_as_independent(space, costs, tmp_path):
    path = _table(space, costs, tmp_path / "whole.jsonl", hits=False)
    rows = [dataclasses.replace(m, dataset="fashion_mnist:val") for m in read_measurements(path, space)]
    write_measurements(path, rows)
    r = bench_search("tiny_test", path, train_fraction=0.3, trials=2, seeds=(0, 1, 2), samplers=("random",),
                     predictor="flops", out_dir=None)
    counts = r["default_search"]["misses"]
    rivalled = [m for s in r["default_search"]["per_seed"] for m in s["missed"] if m["rival"] is not None]
    assert rivalled and counts["unjudged"] == 0 and counts["paired"] == 0
    assert counts["independent"] == len(rivalled) and all(m["paired"] is False for m in rivalled)
    assert "taken as independent, which overstates them" in miss_line(counts, 3)
    assert "paired over" not in miss_line(counts, 3)
    mixed = miss_line({"count": 4, "within_2se": 4, "paired": 1, "independent": 3, "unjudged": 0}, 5)
    assert "(1 paired over the same images, 3 taken as independent" in mixed
