"""``stitchnas bench record``: the ways of recording run side by side on fresh studies, and the
one-transaction way reads back as Optuna's own, in SQLite and in PostgreSQL."""

import json

import optuna

from stitchnas.bench import bench_record
from support.pg import pg_url, postgres  # noqa: F401 - fixtures


def test_bench_record_times_each_way_and_checks_the_read_back(tmp_path):
    r = bench_record([30, 60], repeats=2, out_dir=tmp_path, shape=(3, 8))
    assert r["candidates"] >= 60 and [row["trials"] for row in r["rows"]] == [30, 60]
    for row in r["rows"]:
        assert row["same_trials_read_back"] is True
        assert min(row["sqlite_one_transaction_s"], row["sqlite_trial_by_trial_s"], row["journal_s"]) > 0
        assert row["speedup"] == round(row["sqlite_trial_by_trial_s"] / row["sqlite_one_transaction_s"], 1)
    assert json.loads((tmp_path / "record_trials.json").read_text())["rows"] == r["rows"]
    assert r["postgresql"] is None and "postgresql_speedup" not in r["rows"][0]


def test_bench_record_in_postgresql_leaves_no_study(pg_url, tmp_path):  # noqa: F811
    r = bench_record([20], repeats=1, shape=(3, 8), postgres=pg_url)
    row = r["rows"][0]
    assert row["same_trials_read_back"] is True and row["postgresql_one_transaction_s"] > 0
    assert r["postgresql"]  # the server's version
    assert optuna.get_all_study_names(storage=pg_url) == []
