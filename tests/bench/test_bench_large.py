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
    assert rows["fallback"]["trials"] == 10 < rows["fallback"]["candidates"]  # the fallback's budget
    assert all(row["peak_python_mb"] >= 0 and row["search_s"] >= 0 for row in r["scaling"])
    assert json.loads((tmp_path / "large_search.json").read_text())["spaces"]["judge"]["runs"] == e["runs"]


def test_bench_large_default_is_exact_on_small_fronts_and_nsga2_on_the_priors_front(tmp_path, monkeypatch):
    """No --trials: the structural surface's small front is searched exactly (the whole
    hypervolume); the anchors' prior puts nearly every candidate on the front, past the limit, so
    the default is NSGA-II, scored below 1 but well above 0."""
    for mod in (large, exact_mod):
        monkeypatch.setattr(mod, "EXACT_LIMIT", 20)
    for mod in (exact_mod, loop_mod):
        monkeypatch.setattr(mod, "LARGE_SPACE", 20)
    monkeypatch.setattr(exact_mod, "LARGE_TRIALS", 15)
    monkeypatch.setattr(large, "LARGE_SPACES", {"judge": (((16, 4, 2), (32, 6, 2)), {"window": 3}, 1, "judged")})
    exact = large.bench_large(["judge"], seeds=[0], scaling=False, progress=False)["spaces"]["judge"]
    assert exact["accuracy"] == "structural" and exact["exhaustive_front"] <= 20
    assert exact["runs"][0]["sampler"] == "exact" and exact["runs"][0]["hv_ratio_nadir"] == 1.0
    prior = large.bench_large(["judge"], seeds=[0], scaling=False, progress=False, accuracy="prior",
                              out_dir=tmp_path)["spaces"]["judge"]
    assert prior["accuracy"] == "prior" and prior["exhaustive_front"] > 20
    run = prior["runs"][0]
    assert (run["sampler"], run["trials"]) == ("nsga2", 15) and 0.5 < run["hv_ratio_nadir"] < 1
    assert (tmp_path / "large_search_judge_prior.json").exists()


def test_prior_accuracy_is_the_anchors_line_in_log_flops():
    acc = large.prior_accuracy([1e6, 1e7, 1e8, 1e9], [1e8, 1e6], [80.0, 60.0])
    assert acc.tolist() == [60.0, 70.0, 80.0, 80.0]  # flat beyond the anchors, as np.interp
