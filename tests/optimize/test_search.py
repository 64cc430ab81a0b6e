"""The Optuna search: fronts of the evaluated stitches, seeds, exhaustive coverage, budgets as
constraints, several targets, storages and resuming (a search killed with SIGKILL continues).

Accuracies are a hand-written measurements file of the bundled ``tiny_test`` space (14
candidates; real ids, routes, FLOPs and params; made-up top-1 values).
"""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
from support import REPO, run_cli, tiny_anchor
from support.tiny import ACC, MEASURED, costs, row, space  # noqa: F401 - fixtures

from stitchnas.errors import StitchnasError
from stitchnas.fronts import load_front
from stitchnas.measure import read_measurements, write_measurements
from stitchnas.pareto import pareto_mask
from stitchnas.optimize import SearchConfig, nondominated, search, search_targets
from stitchnas.optimize._encoding import _RelativeEncoding, _TreeEncoding
from stitchnas.space import load_space



def write_table(space, costs, path, ids):
    write_measurements(path, [row(space, costs, i) for i in ids])
    return path


@pytest.fixture(scope="module")
def mfile(space, costs, tmp_path_factory):
    return write_table(space, costs, tmp_path_factory.mktemp("m") / "m.jsonl", MEASURED)


@pytest.fixture(scope="module")
def full(space, costs, tmp_path_factory):
    return write_table(space, costs, tmp_path_factory.mktemp("m") / "all.jsonl", sorted(ACC))


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def target_file(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\n{text}")
    return path


def cfg(mfile, **kw):
    kw.setdefault("predictor", "flops")  # the isotonic baseline: fast to fit
    return SearchConfig(measurements=mfile, **kw)


def front_ids(values_acc, values_cost, ids, certain=None):
    """The brute-force front; ``certain`` (measured) rows are dominated only by measured ones."""
    mask = (pareto_mask(values_acc, values_cost) if certain is None else
            nondominated(np.c_[values_acc, values_cost], ["maximize", "minimize"], certain=certain))
    return sorted(i for i, keep in zip(ids, mask) if keep)




def test_the_digest_a_front_keeps_is_of_the_rows_it_read(space, costs, tmp_path, monkeypatch):
    """A writer may replace the measurements file (atomically) while a search reads it: the rows
    and the digest saved with the front come from one read of one version, so `query`'s
    "changed since the search" note compares against what the front was made from. Here the
    file is replaced just before it is read; a CRLF file with a BOM digests as its bytes."""
    from stitchnas.measure import _measurements, measurements_snapshot
    from stitchnas.optimize import accuracy_table

    path = write_table(space, costs, tmp_path / "m.jsonl", MEASURED)
    later = [row(space, costs, i, acc1=50.0) for i in MEASURED]
    real = _measurements.read_text

    def replaced_first(p, *a, **kw):  # another process re-measures, then our read happens
        monkeypatch.setattr(_measurements, "read_text", real)
        write_measurements(path, later, conflicts="overwrite")
        return real(p, *a, **kw)

    monkeypatch.setattr(_measurements, "read_text", replaced_first)
    table = accuracy_table(space, path, "flops")
    assert table.measurements_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert {table.acc1[table.ids.index(i)] for i in MEASURED} == {50.0}
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    rows, digest = measurements_snapshot(crlf, space)
    assert digest == hashlib.sha256(crlf.read_bytes()).hexdigest() and rows == read_measurements(path, space)


# ---- the search ------------------------------------------------------------------------------
def test_search_saves_the_front_of_the_evaluated_stitches(space, costs, mfile, results):
    r = search(space, "flops_budget", cfg(mfile, n_trials=30, predictor="auto"))
    assert r.n_trials_done == 30 and len(r.trial_ids) == 30
    assert r.distinct_candidates == len(set(r.trial_ids)) == len(r.all_points)
    assert set(r.trial_ids) <= set(costs)
    # saved: JSON, CSV, PNG; the study in results/<space>/search.db
    path = results / "tiny_test" / "flops_budget" / "front.json"
    assert r.path == path and path.is_file()
    assert (path.parent / "front.csv").is_file() and (path.parent / "front.png").stat().st_size > 0
    assert (results / "tiny_test" / "search.db").is_file()
    front = load_front(space, "flops_budget")
    assert front == r.front and front.objectives == ("acc1", "flops")
    assert front.study["n_trials"] == 30 and front.study["sampler"] == "nsga2"
    assert front.study["study_name"] == r.study_name and front.measured_ids == len(MEASURED)
    assert front.predictor.startswith("auto") and front.measurements == str(mfile)
    assert front.measurements_sha256 == hashlib.sha256(Path(mfile).read_bytes()).hexdigest()
    # members: exactly the Pareto set of the evaluated stitches by the accuracies the search saw
    seen = {p.id: p for p in r.all_points}
    expect = front_ids([seen[i].acc1 for i in seen], [seen[i].flops for i in seen], list(seen),
                       certain=[seen[i].acc1_source == "measured" for i in seen])
    assert sorted(m.id for m in front) == expect
    for p in r.all_points:
        assert p.flops == costs[p.id].flops and p.params == costs[p.id].params
        if p.id in MEASURED:
            assert p.acc1_source == "measured" and p.acc1 == ACC[p.id] and p.acc1_std is None
        else:
            assert p.acc1_source == "predicted" and p.acc1_std is not None
    assert r.seconds > 0


def test_seed_makes_the_search_reproducible(space, mfile):
    a = search(space, "flops_budget", cfg(mfile, n_trials=25, seed=3, storage="memory", save=False))
    b = search(space, "flops_budget", cfg(mfile, n_trials=25, seed=3, storage="memory", save=False))
    c = search(space, "flops_budget", cfg(mfile, n_trials=25, seed=4, storage="memory", save=False))
    assert a.trial_ids == b.trial_ids and a.front.members == b.front.members
    assert a.trial_ids != c.trial_ids
    for sampler in ("tpe", "random"):
        x = search(space, "flops_budget", cfg(mfile, sampler=sampler, n_trials=15, seed=1,
                                              storage="memory", save=False))
        y = search(space, "flops_budget", cfg(mfile, sampler=sampler, n_trials=15, seed=1,
                                              storage="memory", save=False))
        assert x.trial_ids == y.trial_ids


def test_exhaustive_visits_every_candidate_once_and_finds_the_whole_front(space, costs, full, tmp_path):
    db = tmp_path / "ex.db"
    r = search(space, "flops_budget", cfg(full, sampler="exhaustive", storage=db))
    assert r.n_trials_done == 14 and sorted(r.trial_ids) == sorted(costs)
    ids = sorted(costs)
    expect = front_ids([ACC[i] for i in ids], [costs[i].flops for i in ids], ids)
    assert sorted(m.id for m in r.front) == expect
    assert r.front.predictor is None  # everything measured: nothing predicted
    again = search(space, "flops_budget", cfg(full, sampler="exhaustive", storage=db))
    assert again.n_trials_done == 14 and again.trial_ids == r.trial_ids  # nothing re-run


@pytest.mark.parametrize("given", ["optuna.samplers:BruteForceSampler", "instance"])
def test_optunas_brute_force_searches_the_tree_one_trial_per_candidate(given, space, costs, full):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.BruteForceSampler(seed=0) if given == "instance" else given
    r = search(space, "flops_budget", cfg(full, sampler=sampler, storage="memory", save=False))
    assert r.n_trials_done == 14 and sorted(r.trial_ids) == sorted(costs)  # the tree's leaves, once each
    assert r.front.study["encoding"] == "tree"
    ids = sorted(costs)
    assert sorted(m.id for m in r.front) == front_ids([ACC[i] for i in ids], [costs[i].flops for i in ids], ids)
    with pytest.raises(StitchnasError, match=r"^Optuna's BruteForceSampler needs the tree encoding \(finite "
                                             r"choices\): drop --encoding or use --encoding tree$"):
        search(space, "flops_budget", cfg(full, sampler=sampler, encoding="path", storage="memory", save=False))


def test_a_sampler_that_fails_inside_optuna_is_one_line_and_leaves_no_trial_running(space, full, tmp_path):
    """CMA-ES is single-objective: Optuna raises when it samples. The error names the study and
    Optuna's reason; the trial it was sampling is failed, not left RUNNING, so a rerun (or another
    sampler) starts clean and fails the same way."""
    db = tmp_path / "cma.db"
    for _ in range(2):
        with pytest.raises(StitchnasError, match=r"^the search of study '.*-CmaEsSampler-.*' in sqlite:///.*cma\.db "
                                                 r"failed: ValueError: .*multi-objective.*CmaEsSampler"):
            search(space, "flops_budget", cfg(full, sampler="optuna.samplers:CmaEsSampler", storage=db,
                                              save=False))
    (summary,) = optuna.get_all_study_summaries(f"sqlite:///{db}")
    trials = optuna.load_study(study_name=summary.study_name, storage=f"sqlite:///{db}").trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL] * 2


def test_budgets_are_constraints_and_never_on_the_front(space, costs, full, tmp_path):
    flops = sorted(c.flops for c in costs.values())
    limit = flops[len(flops) // 2]
    tgt = target_file(tmp_path, "halfflops", f"cost_model: flops\nbudgets: {{max_flops: {limit}}}\n")
    db = tmp_path / "b.db"
    for sampler in ("exhaustive", "nsga2"):
        r = search(space, tgt, cfg(full, sampler=sampler, n_trials=40, storage=db))
        assert r.front.target_budgets["max_flops"] == limit
        assert r.front.members and all(m.flops <= limit for m in r.front)
        infeasible = [p for p in r.all_points if p.flops > limit]
        assert infeasible, "the search saw stitches over budget"
        ok = [i for i in set(r.trial_ids) if costs[i].flops <= limit]
        assert sorted(m.id for m in r.front) == front_ids([ACC[i] for i in ok],
                                                          [costs[i].flops for i in ok], ok)
        study = optuna.load_study(study_name=r.study_name, storage=f"sqlite:///{db}")
        for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
            assert set(t.constraints) == {"max_flops"}
            cid = t.user_attrs["id"]
            assert (t.constraints["max_flops"] <= 0) == (costs[cid].flops <= limit)
            assert t.constraints["max_flops"] == pytest.approx((costs[cid].flops - limit) / limit)
    assert sorted(t.user_attrs["id"] for t in optuna.load_study(
        study_name=search(space, tgt, cfg(full, sampler="exhaustive", storage=db)).study_name,
        storage=f"sqlite:///{db}").trials) == sorted(costs)


def test_impossible_budget_is_a_one_line_error(space, costs, mfile, tmp_path, capsys):
    tgt = target_file(tmp_path, "nothing", "cost_model: flops\nbudgets: {max_flops: 1000}\n")
    cheapest = min(costs.values(), key=lambda c: (c.flops, c.id))
    with pytest.raises(StitchnasError, match=rf"max_flops=1,000: the cheapest stitch needs "
                                             rf"{cheapest.flops:,} flops \(id {cheapest.id}\)"):
        search(space, tgt, cfg(mfile))
    code, _, err = run_cli(capsys, "search", "tiny_test", "--target", tgt, "--measurements", mfile)
    assert code == 2 and err.count("\n") == 1 and "max_flops" in err


def test_two_targets_fronts_differ_where_costs_differ_and_respect_budgets(space, costs, full, tmp_path):
    # tiny_test orders its stitches the same by FLOPs and by params: the budgets make the
    # difference (id 12 fits the FLOPs budget, not the params one)
    f_lim, p_lim = costs[12].flops, costs[12].params - 1
    t1 = target_file(tmp_path, "fbud", f"cost_model: flops\nbudgets: {{max_flops: {f_lim}}}\n")
    t2 = target_file(tmp_path, "pbud", f"cost_model: params\nbudgets: {{max_params: {p_lim}}}\n")
    rs = search_targets(space, [t1, t2], cfg(full, sampler="exhaustive"))
    assert [r.target for r in rs] == ["fbud", "pbud"]
    f, p = rs[0].front, rs[1].front
    assert f.objectives == ("acc1", "flops") and p.objectives == ("acc1", "params")
    assert all(m.flops <= f_lim for m in f) and all(m.params <= p_lim for m in p)
    ids = sorted(costs)
    ok_f = [i for i in ids if costs[i].flops <= f_lim]
    ok_p = [i for i in ids if costs[i].params <= p_lim]
    assert sorted(m.id for m in f) == front_ids([ACC[i] for i in ok_f], [costs[i].flops for i in ok_f], ok_f)
    assert sorted(m.id for m in p) == front_ids([ACC[i] for i in ok_p], [costs[i].params for i in ok_p], ok_p)
    assert 12 in {m.id for m in f} and 12 not in {m.id for m in p}
    for r in rs:
        assert (Path(os.environ["STITCHNAS_RESULTS"]) / "tiny_test" / r.target / "front.json").is_file()


def test_latency_target_front_uses_the_table_and_its_budget(space, costs, full, tmp_path):
    from stitchnas.costs import get_latency_table, target_costs

    base = tmp_path / "t1.yaml"
    base.write_text("name: t1\ndevice: cpu\nthreads: 1\nbatch_size: 1\ndtype: float32\n")
    get_latency_table(space, base, repeats=2, warmup=1, progress=False)  # saved in results/latency
    lat = {c.id: c.latency_ms for c in target_costs(space, base)}
    limit = sorted(lat.values())[9]
    tgt = tmp_path / "t1b.yaml"  # same settings (same table), with a latency budget
    tgt.write_text(base.read_text() + f"budgets: {{max_latency_ms: {limit}}}\n")
    rs = search_targets(space, [tgt], cfg(full, sampler="exhaustive"))
    front = rs[0].front
    assert front.objectives == ("acc1", "latency_ms")
    assert all(m.latency_ms is not None and m.latency_ms <= limit for m in front)
    ok = [i for i in sorted(costs) if lat[i] <= limit]
    assert sorted(m.id for m in front) == front_ids([ACC[i] for i in ok], [lat[i] for i in ok], ok)


def test_three_objectives_keep_every_nondominated_stitch(space, costs, full):
    r = search(space, "flops_budget", cfg(full, sampler="exhaustive", objectives=("acc1", "flops", "params"),
                                          storage="memory"))
    ids = sorted(costs)
    vals = np.array([[ACC[i], costs[i].flops, costs[i].params] for i in ids], dtype=float)
    mask = nondominated(vals, ["maximize", "minimize", "minimize"])
    assert sorted(m.id for m in r.front) == [i for i, k in zip(ids, mask) if k]
    assert r.front.objectives == ("acc1", "flops", "params")


def test_nondominated_agrees_with_pareto_mask_and_keeps_ties():
    rng = np.random.default_rng(0)
    acc, cost = rng.integers(0, 10, 60).astype(float), rng.integers(0, 10, 60).astype(float)
    mask = nondominated(np.c_[acc, cost], ["maximize", "minimize"])
    assert list(mask) == list(pareto_mask(acc, cost))
    same = nondominated(np.array([[1.0, 2.0], [1.0, 2.0], [0.5, 3.0]]), ["maximize", "minimize"])
    assert list(same) == [True, True, False]


@pytest.mark.parametrize("sampler", ["tpe", "random", "gp", "optuna.samplers:RandomSampler"])
def test_other_samplers(space, mfile, sampler):
    r = search(space, "flops_budget", cfg(mfile, sampler=sampler, n_trials=12, storage="memory",
                                          save=False))
    assert r.n_trials_done == 12 and r.front.members


def test_a_sampler_instance_is_used_as_given(space, mfile):
    r = search(space, "flops_budget", cfg(mfile, sampler=optuna.samplers.RandomSampler(seed=7),
                                          n_trials=10, storage="memory", save=False))
    assert r.front.study["sampler"] == "RandomSampler" and r.n_trials_done == 10


def test_samplers_are_a_registry_and_plug_ins_register_by_name(space, mfile):
    from stitchnas.errors import PluginError
    from stitchnas.optimize import SAMPLERS, list_samplers, make_sampler

    assert list_samplers() == ["exhaustive", "gp", "nsga2", "random", "tpe"]
    assert list_samplers("*s*") == ["exhaustive", "nsga2"] and "tpe" in SAMPLERS
    assert isinstance(make_sampler("nsga2", n_trials=100), optuna.samplers.NSGAIISampler)
    with pytest.raises(PluginError, match=r"unknown sampler 'tp' \(did you mean tpe\?\): choose auto, exact, nsga2, "
                                          r"tpe, gp, random, exhaustive, or give"):
        SearchConfig(sampler="tp")
    seen = {}

    @SAMPLERS.register("qmc_test")
    def qmc(seed, n_trials):
        seen.update(seed=seed, n_trials=n_trials)
        return optuna.samplers.QMCSampler(seed=seed)

    try:
        r = search(space, "flops_budget", cfg(mfile, sampler="qmc_test", n_trials=6, seed=2,
                                              storage="memory", save=False))
        assert r.front.study["sampler"] == "qmc_test" and seen == {"seed": 2, "n_trials": 6}
        assert "qmc_test" in list_samplers()
    finally:
        SAMPLERS._table.pop("qmc_test")


# ---- the encoding --------------------------------------------------------------------------
def window_space(tmp_path):
    path = tmp_path / "win.yaml"
    path.write_text(f"name: win\ninput_size: [1, 28, 28]\nanchors:\n  - {tiny_anchor('a', 16, depth=6)}\n"
                    f"  - {tiny_anchor('b', 32, depth=6)}\n"
                    "rule: {type: two_way, pairs: nearest, max_stitches: 2, window: 3}\n")
    return load_space(path)


@pytest.mark.parametrize("which", ["tiny_test", "fmnist_vit_2way", "window"])
def test_every_point_maps_to_a_candidate_and_each_candidate_is_reachable(which, tmp_path):
    space = window_space(tmp_path) if which == "window" else load_space(which)
    ids = {c.id for c in space.candidates}
    shapes = {c.id: ">".join(map(str, c.route.anchors)) for c in space.candidates}
    rel = _RelativeEncoding(space)
    assert rel.resume == (which == "window")  # a second float only where cuts do not decide
    for cid in ids:  # each candidate's own parameters map back to it
        assert rel.suggest(optuna.trial.FixedTrial(rel.params(cid))) == cid
    rng = np.random.default_rng(0)
    for _ in range(200):  # any point maps to a candidate of the chosen shape
        shape = rel.shapes[rng.integers(len(rel.shapes))]
        params = {"shape": shape, **{f"stitch{k}": float(rng.random()) for k in range(1, rel.slots + 1)}}
        if rel.resume:
            params.update({f"resume{k}": float(rng.random()) for k in range(1, rel.slots + 1)})
        cid = rel.suggest(optuna.trial.FixedTrial(params))
        assert cid in ids and shapes[cid] == shape
    tree = _TreeEncoding(space)
    leaves = [tree.suggest(optuna.trial.FixedTrial(tree.params(cid))) for cid in sorted(ids)]
    assert leaves == sorted(ids)


# ---- storages and resuming ---------------------------------------------------------------------
def test_rerun_resumes_and_extends_without_repeating(space, mfile, tmp_path):
    for storage in (tmp_path / "s.db", tmp_path / "s.journal", f"journal:{tmp_path}/j.txt"):
        a = search(space, "flops_budget", cfg(mfile, n_trials=12, storage=storage))
        b = search(space, "flops_budget", cfg(mfile, n_trials=20, storage=storage))
        c = search(space, "flops_budget", cfg(mfile, n_trials=20, storage=storage))
        assert a.study_name == b.study_name == c.study_name
        assert b.trial_ids[:12] == a.trial_ids and b.n_trials_done == 20
        assert c.trial_ids == b.trial_ids


def test_changed_inputs_start_a_new_study_and_mismatched_names_fail(space, costs, mfile, tmp_path):
    db = tmp_path / "n.db"
    a = search(space, "flops_budget", cfg(mfile, n_trials=5, storage=db))
    more = write_table(space, costs, tmp_path / "more.jsonl", MEASURED + (3, 4))
    b = search(space, "flops_budget", cfg(more, n_trials=5, storage=db))
    assert a.study_name != b.study_name
    search(space, "flops_budget", cfg(mfile, n_trials=5, storage=db, study_name="mine"))
    with pytest.raises(StitchnasError, match="was made for objectives"):
        search(space, "flops_budget", cfg(mfile, n_trials=5, storage=db, study_name="mine",
                                          objectives=("acc1", "params")))


@pytest.mark.parametrize("sampler", ["nsga2", "exhaustive"])
def test_a_trial_left_running_is_failed_and_retried(space, costs, mfile, tmp_path, sampler):
    db = tmp_path / "z.db"
    n = 14 if sampler == "exhaustive" else 10
    first = search(space, "flops_budget", cfg(mfile, sampler=sampler, n_trials=n - 4, storage=db))
    study = optuna.load_study(study_name=first.study_name, storage=f"sqlite:///{db}")
    # as a killed process leaves it: RUNNING, half its parameters suggested (a shape of stitches
    # the study has visited: a failed half path there broke Optuna's BruteForceSampler)
    visited = next(i for i in first.trial_ids if costs[i].route.num_stitches)
    shape = ">".join(map(str, costs[visited].route.anchors))
    study.enqueue_trial({"shape": shape})
    zombie = study.ask()
    assert zombie.suggest_categorical("shape", _RelativeEncoding(space).shapes) == shape
    again = search(space, "flops_budget", cfg(mfile, sampler=sampler, n_trials=n, storage=db))
    assert again.n_trials_done == n
    assert any("left RUNNING" in note for note in again.notes)
    trials = optuna.load_study(study_name=first.study_name, storage=f"sqlite:///{db}").trials
    states = {t.number: t.state for t in trials}
    assert states[zombie.number] == optuna.trial.TrialState.FAIL
    retry = [t for t in trials if t.user_attrs.get("retry_of") == zombie.number]
    if sampler == "exhaustive":  # no retry: failed trials do not count as visited
        assert not retry and sorted(again.trial_ids) == sorted(costs)
    else:
        assert len(retry) == 1 and retry[0].state == optuna.trial.TrialState.COMPLETE
        assert retry[0].params["shape"] == shape


def _count(db, state):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM trials WHERE state = ?", (state,)).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_killed_search_resumes_without_losing_or_repeating_trials(mfile, tmp_path):
    db = tmp_path / "kill.db"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "stitchnas", "search", "tiny_test", "--target", "flops_budget",
           "--measurements", str(mfile), "--storage", str(db), "--trials", "150",
           "--predictor", "flops", "--seed", "5"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    # kill it mid-trial (a trial RUNNING) once at least 15 have completed
    while _count(db, "COMPLETE") < 15 or _count(db, "RUNNING") < 1:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "the search did not start"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    name_rows = sqlite3.connect(str(db)).execute("SELECT study_name FROM studies").fetchall()
    assert len(name_rows) == 1
    name = name_rows[0][0]
    before = optuna.load_study(study_name=name, storage=f"sqlite:///{db}").trials
    done = {t.number: t.params for t in before if t.state == optuna.trial.TrialState.COMPLETE}
    running = [t.number for t in before if t.state == optuna.trial.TrialState.RUNNING]
    assert 15 <= len(done) < 150
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150, check=False)
    assert out.returncode == 0, out.stderr
    assert "front of" in out.stdout
    after = optuna.load_study(study_name=name, storage=f"sqlite:///{db}").trials
    complete = [t for t in after if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 150
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in after)
    by_number = {t.number: t for t in after}
    for number, params in done.items():  # nothing finished was lost or re-run
        assert by_number[number].state == optuna.trial.TrialState.COMPLETE
        assert by_number[number].params == params
    waiting = sum(t.state == optuna.trial.TrialState.WAITING for t in before)
    assert len(after) == len(before) - waiting + (150 - len(done))  # no trial run twice
    assert sum(t.state == optuna.trial.TrialState.FAIL for t in after) == len(running)
    for number in running:  # what the killed process left RUNNING was failed and retried
        assert by_number[number].state == optuna.trial.TrialState.FAIL
        assert [t for t in after if t.user_attrs.get("retry_of") == number]
    front = json.loads((Path(os.environ["STITCHNAS_RESULTS"]) / "tiny_test" / "flops_budget"
                        / "front.json").read_text())
    assert front["study"]["n_trials"] == 150


def test_cli_search_names_the_command_that_measures_its_predicted_members(capsys, mfile, full, results):
    code, _, err = run_cli(capsys, "search", "tiny_test", "--target", "flops", "--measurements", mfile,
                           "--predictor", "gp")
    assert code == 0, err
    members = json.loads((results / "tiny_test" / "flops" / "front.json").read_text())["members"]
    predicted = [m["id"] for m in members if m["acc1_source"] == "predicted"]
    assert predicted
    assert (f"stitchnas: note: {len(predicted)} of the flops front's {len(members)} members have predicted "
            f"top-1: `stitchnas evaluate tiny_test --ids {','.join(map(str, predicted))} --out {mfile}` "
            "measures them (then search again)") in err
    code, _, err = run_cli(capsys, "search", "tiny_test", "--target", "flops", "--measurements", full)
    assert code == 0 and "have predicted top-1" not in err  # every member measured: no note
    other = results.parent / "other results"  # a root given on the command line: the command names it
    code, _, err = run_cli(capsys, "--results", other, "search", "tiny_test", "--target", "flops",
                           "--measurements", mfile, "--predictor", "gp")
    assert code == 0, err
    assert f"--out {mfile} --results '{other}'` measures them (then search again)" in err


# ---- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("targets", [["--target", "flops_budget", "--target", "params_budget"],
                                     ["--target", "flops_budget,params_budget"]],  # as run's --targets
                         ids=["repeated", "comma-separated"])
def test_cli_search_prints_where_each_front_went(capsys, mfile, results, targets):
    code, out, err = run_cli(capsys, "search", "tiny_test", *targets, "--measurements", mfile, "--trials", "8",
                             "--predictor", "flops")
    assert code == 0, err
    assert out.count("front of") == 2
    assert str(results / "tiny_test" / "params_budget" / "front.json") in out
    n = len(load_space("tiny_test"))
    for line in out.splitlines():  # 8 trials see at most 8 candidates: every line says so
        seen = int(line.split(" distinct of ")[0].rsplit(" ", 1)[1])
        assert seen < n and line.endswith(f"evaluated {seen} of {n} candidates; the front may be incomplete")


@pytest.mark.parametrize("extra, message", [
    (["--objectives", "acc1,flop"], "unknown objective 'flop' (did you mean flops?)"),
    (["--objectives", "flops,params"], "need acc1"),
    (["--objectives", "acc1,latency_ms"], "needs a latency target"),
    (["--sampler", "nsga"], "unknown sampler 'nsga' (did you mean nsga2?)"),
    (["--sampler", "optuna.samplers:NoSuch"], "has no 'NoSuch'"),
    (["--storage", "results.txt"], "neither a URL nor a path"),
    (["--storage", "postgresql://u:secret@127.0.0.1:1/db"], "cannot open Optuna storage"),
    (["--storage", "sqlite:////proc/nope/x.db"], "storage"),
    (["--target", "flops_budget"], "given twice"),
    (["--target", ","], "--target: expected comma-separated names like a,b, got ','"),  # not the default
])
def test_cli_bad_input_is_one_line_exit_2(capsys, mfile, extra, message):
    code, _, err = run_cli(capsys, "search", "tiny_test", "--target", "flops_budget",
                           "--measurements", mfile, "--predictor", "flops", *extra)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert "secret" not in err


def test_measurements_of_another_space_and_missing_ones(capsys, mfile, tmp_path):
    code, _, err = run_cli(capsys, "search", "fmnist_vit_2way", "--target", "flops_budget",
                           "--measurements", mfile)
    assert code == 2 and "belongs to another space" in err
    code, _, err = run_cli(capsys, "search", "tiny_test", "--target", "flops_budget")
    assert code == 2 and "no measurements" in err and "stitchnas evaluate" in err


# ---- the benchmark -----------------------------------------------------------------------------
def test_bench_search_scores_found_fronts_against_the_truth(capsys, full, tmp_path):
    out = tmp_path / "bench"
    code, stdout, err = run_cli(capsys, "bench", "search", "tiny_test", "--measurements", full,
                                "--trials", "16", "--seeds", "0,1", "--samplers",
                                "nsga2,random,exhaustive", "--train-fraction", "0.5", "--predictor",
                                "flops", "--out", out)
    assert code == 0, err
    report = json.loads((out / "search_tiny_test_measured50.json").read_text())
    assert (out / "search_tiny_test_measured50.png").stat().st_size > 0
    assert report["train_size"] == 7 and report["trials"] == 16
    for entry in report["results"].values():
        for ref in ("nadir", "log_nadir", "chance"):
            curve = entry[f"hv_ratio_{ref}"]["mean"]
            assert len(curve) == 16
            assert all(v is None or 0 <= v <= 1 + 1e-9 for v in curve)
        assert entry["distinct"]["mean"][-1] <= 14
    ex = report["results"]["exhaustive"]
    assert ex["distinct"]["mean"][13] == 14  # every candidate after 14 trials
    for seed_ceiling, final in zip(report["ceiling"]["per_seed"], ex["final_nadir"]["per_seed"]):
        assert final == pytest.approx(seed_ceiling["hv_ratio_nadir"])  # exhaustive = the ceiling
    assert "ceiling" in stdout
    # each true front member's margin: its top-1 less the best of the stitches at most as costly
    rows = {m.id: m for m in read_measurements(full, load_space("tiny_test"))}
    margins = report["true_front_margins"]
    assert sorted(int(i) for i in margins) == report["true_front_ids"]
    for i, m in margins.items():
        me = rows[int(i)]
        best = max((r.acc1 for r in rows.values() if r.id != me.id and r.flops <= me.flops), default=None)
        assert (m is None) if best is None else (m == pytest.approx(me.acc1 - best, abs=1e-4) and m > 0)
    assert f"true front: {len(margins)} members" in stdout
    # the default search (exact here) is run per seed and scores the ceiling: its last line says so
    default = report["default_search"]
    assert [d["sampler"] for d in default["per_seed"]] == ["exact", "exact"]
    for seed_ceiling, d in zip(report["ceiling"]["per_seed"], default["per_seed"]):
        assert d["hv_ratio_nadir"] == pytest.approx(seed_ceiling["hv_ratio_nadir"]) and d["distinct"] == 14
    worst = min(d["hv_ratio_nadir"] for d in default["per_seed"])
    assert stdout.splitlines()[-1] == (f"default search: {default['hv_ratio_nadir_mean']:.4f} of the "
                                       f"true front's hypervolume (mean of 2 seeds, worst seed {worst:.4f}; exact)")
    # everything measured: the search alone is scored, and exhaustive finds the true front
    from stitchnas.bench import bench_search

    r = bench_search("tiny_test", full, train_fraction=1.0, trials=14, seeds=(0,),
                     samplers=("exhaustive",), out_dir=None)
    assert r["ceiling"]["hv_ratio_nadir_mean"] == pytest.approx(1.0)
    assert r["results"]["exhaustive"]["final_nadir"]["mean"] == pytest.approx(1.0)
    assert r["default_search"]["hv_ratio_nadir_mean"] == pytest.approx(1.0)


def test_bench_search_scores_the_whole_trade_off_and_warns_when_budgets_leave_a_trivial_front(
        capsys, full, tmp_path):
    """The bench's default target is FLOPs without a budget; a target whose budgets leave a true
    front of fewer than 3 members (so any found front scores about 1) is named in one warning line."""
    from stitchnas.bench import bench_search

    r = bench_search("tiny_test", full, train_fraction=0.5, trials=2, seeds=(0,), samplers=("random",),
                     predictor="flops", out_dir=None)
    assert r["target"] == "flops" and r["feasible"] == r["candidates"] and "warning" not in r
    assert len(r["true_front_ids"]) >= 3
    rows = read_measurements(full, load_space("tiny_test"))
    cheapest = min(m.flops for m in rows)
    tight = target_file(tmp_path, "tight", f"device: null\ncost_model: flops\nbudgets: {{max_flops: {cheapest}}}\n")
    code, stdout, err = run_cli(capsys, "bench", "search", "tiny_test", "--measurements", full,
                                "--target", tight, "--trials", "2", "--seeds", "0", "--samplers",
                                "random", "--train-fraction", "0.5", "--predictor", "flops", "--out",
                                tmp_path / "bench")
    assert code == 0, err
    report = json.loads((tmp_path / "bench" / "search_tiny_test_measured50.json").read_text())
    assert report["feasible"] == sum(m.flops <= cheapest for m in rows) < 3
    lines = [ln for ln in err.splitlines() if "warning" in ln]
    assert len(lines) == 1 and "'tight'" in lines[0] and "--target flops" in lines[0]
    assert lines[0].endswith(report["warning"])

    # without budgets the advice cannot be "use --target flops": a table whose stitches all fall
    # below the anchors has a true front of the two anchors, and the warning says just that
    from dataclasses import replace

    space = load_space("tiny_test")
    low = tmp_path / "low.jsonl"
    write_measurements(low, [replace(m, acc1=m.acc1 if m.route.num_stitches == 0 else 1.0 + m.id / 100)
                             for m in rows])
    r = bench_search("tiny_test", low, train_fraction=0.5, trials=2, seeds=(0,), samplers=("random",),
                     predictor="flops", out_dir=None)
    assert sorted(r["true_front_ids"]) == sorted(c.id for c in space.candidates if c.is_anchor)
    assert "has no budgets" in r["warning"] and "--target flops" not in r["warning"]


def test_the_package_attribute_search_is_the_function(space, mfile):
    import stitchnas
    import stitchnas.optimize

    assert stitchnas.search is stitchnas.optimize.search is search
    assert callable(stitchnas.search) and stitchnas.search_targets is search_targets
    r = stitchnas.search(space, "flops_budget", cfg(mfile, n_trials=5, storage="memory", save=False))
    assert r.n_trials_done == 5 and isinstance(stitchnas.SearchConfig(), SearchConfig)


def test_bench_search_chooses_as_run_does_with_its_initial_and_per_round(full, monkeypatch):
    """``--choose suggest``: the anchors, random stitches up to ``initial``, then rounds of
    ``per_round`` suggestions until the measured share is reached: the run's own plan
    (``measurement_plan``), so the bench replays exactly what ``stitchnas run`` would measure."""
    import stitchnas.predict._suggest as suggest_module
    from stitchnas.bench import bench_search
    from stitchnas.predict import measurement_plan

    asked = []
    real = suggest_module.suggest

    def counting(space, rows, k=8, **kw):
        asked.append((len(rows), k))
        return real(space, rows, k=k, **kw)

    monkeypatch.setattr(suggest_module, "suggest", counting)
    r = bench_search("tiny_test", full, train_fraction=0.5, trials=4, seeds=(0,), samplers=("random",),
                     predictor="flops", choose="suggest", initial=3, per_round=2, out_dir=None)
    assert (r["initial"], r["per_round"], r["train_size"]) == (3, 2, 7)
    assert asked == [(3, 2), (5, 2)]  # 3 first, then two rounds of 2
    measured = r["ceiling"]["per_seed"][0]["measured_ids"]
    assert len(set(measured)) == 7

    space = load_space("tiny_test")
    by_id = {m.id: m for m in read_measurements(full, space)}
    seen: list = []

    def reveal(ids):
        seen.extend(by_id[i] for i in ids if by_id[i] not in seen)
        return seen

    rows = measurement_plan(space, reveal, 7, initial=3, per_round=2, predictor="flops", seed=0)
    assert sorted(m.id for m in rows) == sorted(measured)
    assert {c.id for c in space.candidates if c.is_anchor} <= {m.id for m in rows[:3]}
    assert len(rows) == 7 and measurement_plan(space, reveal, 7, initial=3, seed=0) == rows  # none left to add
    seen.clear()  # the run's form: rounds after the first batch, the same plan
    assert measurement_plan(space, reveal, rounds=2, initial=3, per_round=2, predictor="flops", seed=0) == rows
    for bad in ({}, {"total": 7, "rounds": 2}):
        with pytest.raises(StitchnasError, match="either total or rounds"):
            measurement_plan(space, reveal, **bad)


def test_measurement_plan_draws_its_random_stitches_one_per_route_shape(full):
    """The first random stitches come from different anchor sequences while any is left undrawn
    (tiny_test: 4 shapes of 3 routes), then from any; seeded, so run and bench agree."""
    from stitchnas.predict import measurement_plan

    space = load_space("tiny_test")
    by_id = {m.id: m for m in read_measurements(full, space)}
    shape = {c.id: c.route.anchors for c in space.candidates}
    anchors = {c.id for c in space.candidates if c.is_anchor}

    def first_batch(initial, seed):
        asked: list = []
        measurement_plan(space, lambda ids: asked.extend(ids) or [by_id[i] for i in asked],
                         rounds=0, initial=initial, seed=seed)
        assert anchors <= set(asked) and len(set(asked)) == len(asked) == initial
        return [i for i in asked if i not in anchors]

    for seed in range(8):
        drawn = first_batch(6, seed)  # the 2 anchors and 4 random stitches: every shape once
        assert len({shape[i] for i in drawn}) == 4 == len(drawn)
        drawn = first_batch(8, seed)  # 6: every shape, then 2 more
        assert len({shape[i] for i in drawn[:4]}) == 4 and len(drawn) == 6
        assert first_batch(8, seed) == drawn
    assert len({tuple(first_batch(6, seed)) for seed in range(8)}) > 1  # the seed draws them


@pytest.mark.parametrize("bad", [-1, 2 ** 32, 1.5, True])
def test_search_config_refuses_a_seed_no_sampler_takes(bad):
    """A seed outside 0..2**32-1 used to pass SearchConfig and fail inside NumPy mid-search."""
    with pytest.raises(StitchnasError, match=r"seed must be an integer 0..4294967295"):
        SearchConfig(seed=bad)


def test_counts_in_report_lines_are_singular_for_one():
    """'mean of 1 seed', not '1 seeds' (bench search, active, predictors, startup, predictor-cv);
    the plural form is asserted in the bench search line above."""
    from stitchnas._util import counted

    assert [counted(n, "seed") for n in (0, 1, 2)] == ["0 seeds", "1 seed", "2 seeds"]
    assert counted(1, "split") == "1 split" and counted(20, "run") == "20 runs"
