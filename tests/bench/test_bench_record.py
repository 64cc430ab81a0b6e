"""``stitchnas bench record``: the three ways of recording run side by side on fresh storages, and
the one-transaction way reads back as Optuna's own."""

import json

from stitchnas.bench import bench_record


def test_bench_record_times_each_way_and_checks_the_read_back(tmp_path):
    r = bench_record([30, 60], repeats=2, out_dir=tmp_path, shape=(3, 8))
    assert r["candidates"] >= 60 and [row["trials"] for row in r["rows"]] == [30, 60]
    for row in r["rows"]:
        assert row["same_trials_read_back"] is True
        assert min(row["sqlite_one_transaction_s"], row["sqlite_trial_by_trial_s"], row["journal_s"]) > 0
        assert row["speedup"] == round(row["sqlite_trial_by_trial_s"] / row["sqlite_one_transaction_s"], 1)
    assert json.loads((tmp_path / "record_trials.json").read_text())["rows"] == r["rows"]
