"""``stitchnas bench large`` on small generated spaces (the limit lowered so that they count as
large): every search is scored against the exhaustive front, and the scaling rows time the exact
search over every candidate."""

import json

import stitchnas.bench._large as large
import stitchnas.optimize._exact as exact_mod
import stitchnas.optimize._loop as loop_mod


def test_bench_large_scores_the_default_against_the_exhaustive_front(tmp_path, monkeypatch):
    for mod in (large, exact_mod):
        monkeypatch.setattr(mod, "EXACT_LIMIT", 20)
    for mod in (exact_mod, loop_mod):
        monkeypatch.setattr(mod, "LARGE_SPACE", 20)
    monkeypatch.setattr(exact_mod, "LARGE_TRIALS", 10)
    monkeypatch.setattr(large, "LARGE_SPACES", {"tune": (((16, 6, 2), (32, 6, 2)), {}, 0, "chosen here"),
                                                "judge": (((16, 4, 2), (32, 6, 2)), {"window": 3}, 1, "judged")})
    monkeypatch.setattr(large, "SCALING_SPACES", ((2, 6),))
    r = large.bench_large(["judge"], seeds=[0, 1], trials=12, out_dir=tmp_path, progress=False)
    e = r["spaces"]["judge"]
    assert e["candidates"] > 20 and e["trials"] == 12
    assert e["trials_share_pct"] == round(100 * 12 / e["candidates"], 2)
    assert [x["seed"] for x in e["runs"]] == [0, 1]
    for run in e["runs"]:
        assert (run["sampler"], run["encoding"]) == ("nsga2", "path")
        assert 0 < run["hv_ratio_nadir"] <= 1 + 1e-9
    rows = {row["search"].split(" ")[0]: row for row in r["scaling"]}
    assert rows["exact"]["trials"] == rows["exact"]["candidates"]  # every candidate evaluated
    assert rows["default"]["trials"] == 10 < rows["default"]["candidates"]  # the default's budget
    assert all(row["peak_python_mb"] >= 0 and row["search_s"] >= 0 for row in r["scaling"])
    assert json.loads((tmp_path / "large_search.json").read_text())["spaces"]["judge"]["runs"] == e["runs"]
