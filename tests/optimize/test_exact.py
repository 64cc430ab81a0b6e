"""The default search is exact where that is cheap: its saved front is the brute-force front
(ties kept, budgets honoured) on real tables and random ones, and queries on it answer as brute
force over every candidate does."""

import json
import time

import numpy as np
import optuna
import pytest
from support import SHARED, run_cli
from support.tiny import ACC, costs, row, space  # noqa: F401 - fixtures

from stitchnas.fronts import load_front
from stitchnas.measure import write_measurements
from stitchnas.optimize import EXACT_LIMIT, SearchConfig, resolve_sampler, search
from stitchnas.space import load_space


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def brute_front(acc: dict, cost: dict, budget: float | None = None) -> list[int]:
    """Every candidate within budget that no other within budget dominates (ties kept), the
    plain O(n^2) way, independent of stitchnas.pareto."""
    ok = [i for i in acc if budget is None or cost[i] <= budget]
    return sorted(i for i in ok if not any(
        acc[j] >= acc[i] and cost[j] <= cost[i] and (acc[j] > acc[i] or cost[j] < cost[i]) for j in ok))


def brute_best(acc: dict, cost: dict, params: dict, limit: float):
    ok = [i for i in acc if cost[i] <= limit]
    return min(ok, key=lambda i: (-acc[i], cost[i], params[i], i)) if ok else None


def flops_target(tmp_path, budget=None):
    path = tmp_path / "flops_t.yaml"
    path.write_text("name: flops_t\ncost_model: flops\n" + (f"budgets: {{max_flops: {budget}}}\n" if budget else ""))
    return path


@pytest.mark.parametrize("seed", range(6))
def test_default_search_saves_exactly_the_brute_force_front(space, costs, tmp_path, seed):
    rng = np.random.default_rng(seed)
    # coarse accuracies so that ties happen; every candidate measured
    acc = {i: float(rng.integers(60, 70)) for i in costs}
    mfile = tmp_path / "m.jsonl"
    write_measurements(mfile, [row(space, costs, i, acc[i]) for i in costs])
    flops = {i: c.flops for i, c in costs.items()}
    budget = sorted(flops.values())[len(flops) // 2] if seed % 2 else None
    r = search(space, str(flops_target(tmp_path, budget)), SearchConfig(measurements=mfile))
    assert r.front.study["sampler"] == "exact" and r.front.coverage is None
    assert r.n_trials_done == r.distinct_candidates == len(space)
    assert sorted(m.id for m in r.front.members) == brute_front(acc, flops, budget)
    saved = load_front(space, "flops_t")
    assert saved == r.front
    assert "\n" not in repr(r) and "all_points" not in repr(r) and "trial_ids" not in repr(r)
    assert f"front=Front({space.name!r}, target='flops_t'" in repr(r)
    params = {i: c.params for i, c in costs.items()}
    for limit in sorted(set(flops.values())) + [min(flops.values()) - 1]:
        want = brute_best(acc, flops, params, min(limit, budget) if budget else limit)
        got = [m.id for m in saved.fits(max_flops=limit)]
        if want is None:
            assert got == []
        else:
            assert saved.best(max_flops=limit).id == want


def test_the_exact_search_is_recorded_once_and_found_again(space, costs, tmp_path):
    mfile = tmp_path / "m.jsonl"
    write_measurements(mfile, [row(space, costs, i) for i in costs])
    db = tmp_path / "s.db"
    config = SearchConfig(measurements=mfile, storage=str(db))
    r = search(space, "flops_budget", config)
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    study = optuna.load_study(study_name=r.study_name, storage=storage)
    assert sorted(t.user_attrs["id"] for t in study.trials) == sorted(m.id for m in r.front.members)
    assert study.user_attrs["stitchnas"]["evaluated"] == len(space)
    again = search(space, "flops_budget", config)
    assert again.front.members == r.front.members and again.study_name == r.study_name
    assert len(optuna.load_study(study_name=r.study_name, storage=storage).trials) == len(r.front)


def test_auto_is_exact_only_without_a_trial_budget_and_up_to_the_limit():
    assert resolve_sampler("auto", 83, None) == "exact"
    assert resolve_sampler("auto", EXACT_LIMIT, None) == "exact"
    assert resolve_sampler("auto", EXACT_LIMIT + 1, None) == "nsga2"
    assert resolve_sampler("auto", 83, 30) == "nsga2"
    assert resolve_sampler("tpe", 83, None) == "tpe"


def test_cli_search_by_default_is_exact_and_says_nothing_is_missing(space, costs, tmp_path, capsys):
    mfile = tmp_path / "m.jsonl"
    write_measurements(mfile, [row(space, costs, i) for i in costs])
    code, out, err = run_cli(capsys, "search", "tiny_test", "--target", "flops_budget",
                             "--measurements", mfile)
    assert code == 0, err
    assert f"from {len(space)} distinct of {len(space)} candidates" in out and "(exact," in out
    assert "may be incomplete" not in out


@pytest.mark.skipif(not (SHARED / "snnet_v1_deit_tsb.jsonl").is_file(), reason="../shared is absent")
def test_snnet_v1_table_default_search_is_the_true_front(tmp_path, capsys):
    """The published SN-Net DeiT-Ti/S/B table, every stitch measured, on FLOPs without budget:
    the default search saves the true front (39 members), as brute force finds it."""
    out = tmp_path / "m.jsonl"
    code, _, err = run_cli(capsys, "import-snnet", SHARED / "snnet_v1_deit_tsb.jsonl", "--space",
                           "deit_tsb_v1", "--out", out)
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    acc = {r["id"]: r["acc1"] for r in rows}
    flops = {r["id"]: r["flops"] for r in rows}
    t0 = time.perf_counter()
    r = search(load_space("deit_tsb_v1"), str(flops_target(tmp_path)), SearchConfig(measurements=out))
    assert time.perf_counter() - t0 < 120
    assert sorted(m.id for m in r.front.members) == brute_front(acc, flops)
    assert len(r.front) == 39


def test_search_takes_config_fields_as_keywords(space, costs, tmp_path):
    from sklearn.linear_model import Ridge

    from stitchnas.errors import StitchnasError

    mfile = tmp_path / "m.jsonl"
    write_measurements(mfile, [row(space, costs, i, 60.0 + i) for i in list(costs)[:6]])
    r = search(space, str(flops_target(tmp_path)), measurements=mfile, predictor=Ridge(),
               out_dir=tmp_path / "kw")
    assert r.front.predictor.startswith("Ridge") and (tmp_path / "kw" / space.name / "flops_t" / "front.json").is_file()
    # keywords replace the config's fields; the config's others stay
    base = SearchConfig(measurements=mfile, predictor="flops", out_dir=tmp_path / "cfg")
    r = search(space, str(flops_target(tmp_path)), base, predictor="route")
    assert r.front.predictor.startswith("route") and (tmp_path / "cfg" / space.name).is_dir()
    with pytest.raises(StitchnasError, match=r"unknown search option 'out'; did you mean out_dir\? SearchConfig takes"):
        search(space, str(flops_target(tmp_path)), measurements=mfile, out=tmp_path)


def test_a_partial_search_replacing_an_exact_front_says_so(space, costs, tmp_path, capsys):
    mfile = tmp_path / "m.jsonl"
    write_measurements(mfile, [row(space, costs, i) for i in costs])
    args = ("search", "tiny_test", "--target", "flops_budget", "--measurements", mfile)
    code, _, err = run_cli(capsys, *args)
    assert code == 0 and "note:" not in err, err
    code, out, err = run_cli(capsys, *args, "--sampler", "random", "--trials", "3")
    assert code == 0, err
    assert f"held a front from all {len(space)} candidates (sampler exact); it is replaced by this one from" in err
    assert "may be incomplete" in out
    # a partial front replacing a partial one, or an exact one replacing anything: no note
    code, _, err = run_cli(capsys, *args, "--sampler", "random", "--trials", "4")
    assert code == 0 and "held a front" not in err, err
    code, _, err = run_cli(capsys, *args)
    assert code == 0 and "held a front" not in err, err


@pytest.mark.parametrize("seed", range(3))
def test_the_vectorised_evaluation_gives_every_candidate_studys_front_and_trials(space, costs, tmp_path, seed):
    """exact_front (what the search runs) and evaluate_all (every candidate a trial of an
    in-memory study) give the same front, and the same trial for each member."""
    from stitchnas.costs import load_target
    from stitchnas.optimize import build_problem, evaluate_all, exact_front
    from stitchnas.optimize import accuracy_table

    rng = np.random.default_rng(seed)
    mfile = tmp_path / "m.jsonl"
    write_measurements(mfile, [row(space, costs, i, float(rng.integers(60, 70))) for i in costs])
    target = load_target(str(flops_target(tmp_path, sorted(c.flops for c in costs.values())[len(costs) // 2])))
    acc = accuracy_table(space, mfile)
    problem = build_problem(space, target, ("acc1", "flops"), acc)
    study, want, _ = evaluate_all(problem)
    got, trials, _ = exact_front(problem)
    assert got == want and [t.user_attrs["id"] for t in trials] == want
    every = {t.user_attrs["id"]: t for t in study.trials}
    for t in trials:
        old = every[t.user_attrs["id"]]
        assert (t.params, t.distributions, t.values, t.user_attrs, t.state) == \
               (old.params, old.distributions, old.values, old.user_attrs, old.state)
        # built without create_trial, it is what create_trial makes of the same arguments
        made = optuna.trial.create_trial(params=t.params, distributions=t.distributions, values=t.values,
                                         user_attrs=t.user_attrs)
        assert (made.params, made.distributions, made.values, made.user_attrs, made.state, made.number,
                made.system_attrs, made.intermediate_values) == \
               (t.params, t.distributions, t.values, t.user_attrs, t.state, t.number, t.system_attrs,
                t.intermediate_values)
        assert t.datetime_complete == t.datetime_start is not None
        t._validate()  # Optuna's own check of a trial's consistency
