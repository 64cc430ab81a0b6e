"""Every stitchnas study names its objectives (``study.metric_names``): the exact search (its
in-memory study and the study it records), the trial-by-trial samplers, the exhaustive mode, the
in-memory search beyond the exact limit and the ``evaluate`` work queue. optuna-dashboard, started
as docs/search.md says (``optuna-dashboard sqlite:///results/SPACE/search.db``) on a loopback port,
serves a stitchnas study with those names through its JSON API."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from support import run_cli
from support.tiny import MEASURED, costs, row, space  # noqa: F401 - fixtures

import stitchnas.optimize._exact as exact_mod
import stitchnas.optimize._loop as loop_mod
from stitchnas.measure import write_measurements
from stitchnas.optimize import SearchConfig, build_problem, evaluate_all, search, search_problem
from stitchnas.storage import evaluate_worker


@pytest.fixture(scope="module")
def mfile(space, costs, tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.jsonl"
    write_measurements(path, [row(space, costs, i) for i in MEASURED])
    return path


def names_in(db, study_name):
    return optuna.load_study(study_name=study_name, storage=f"sqlite:///{db}").metric_names


@pytest.mark.parametrize("sampler,trials", [("auto", None), ("nsga2", 8), ("exhaustive", None),
                                            ("tpe", 6)])
def test_every_search_names_its_objectives(space, mfile, tmp_path, sampler, trials):
    db = tmp_path / "s.db"
    r = search(space, "flops_budget", SearchConfig(measurements=mfile, predictor="flops", sampler=sampler,
                                                   n_trials=trials, storage=db, save=False))
    assert names_in(db, r.study_name) == ["acc1", "flops"]
    three = search(space, "flops_budget", SearchConfig(
        measurements=mfile, predictor="flops", sampler=sampler, n_trials=trials, storage=db,
        save=False, objectives=("acc1", "flops", "params")))
    assert names_in(db, three.study_name) == ["acc1", "flops", "params"]


def test_the_exact_search_names_its_in_memory_study(space, mfile):
    from stitchnas.optimize import accuracy_table
    from stitchnas.costs import load_target

    acc = accuracy_table(space, mfile, "flops")
    problem = build_problem(space, load_target("flops_budget"), ("acc1", "flops"), acc)
    study, front, _ = evaluate_all(problem)
    assert study.metric_names == ["acc1", "flops"] and front


def test_the_in_memory_search_beyond_the_limit_names_the_study_it_records(space, mfile, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(exact_mod, "EXACT_LIMIT", 5)
    for mod in (exact_mod, loop_mod):
        monkeypatch.setattr(mod, "LARGE_SPACE", 5)
    from stitchnas.optimize import accuracy_table
    from stitchnas.costs import load_target

    problem = build_problem(space, load_target("flops_budget"), ("acc1", "flops"),
                            accuracy_table(space, mfile, "flops"))
    db = tmp_path / "large.db"
    r = search_problem(problem, SearchConfig(storage=str(db), save=False, n_trials=6), progress=False)
    assert r.front.study["encoding"] == "path"  # the in-memory path
    assert names_in(db, r.study_name) == ["acc1", "flops"]


def test_the_evaluate_work_queue_names_its_objective(space, costs, tmp_path):
    journal = tmp_path / "e.journal"
    work = evaluate_worker(space, [0, 1, 2], lambda ids: [row(space, costs, i) for i in ids],
                           storage=journal, out=tmp_path / "m.jsonl", dataset="digits:val",
                           checkpoint_key="c")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    assert optuna.load_study(study_name=work.study_name, storage=storage).metric_names == ["acc1"]


# ---- optuna-dashboard -------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dashboard_command() -> list[str]:
    script = Path(sys.executable).with_name("optuna-dashboard")
    if script.is_file():
        return [str(script)]
    found = shutil.which("optuna-dashboard")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from optuna_dashboard._cli import main; sys.exit(main())"]


def _get_json(url: str, deadline: float, proc):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback
                return json.loads(resp.read())
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"optuna-dashboard exited: {proc.communicate()[1][-2000:]}")
            if time.time() > deadline:
                raise
            time.sleep(0.3)


def test_optuna_dashboard_shows_the_named_objectives(mfile, tmp_path, monkeypatch, capsys):
    pytest.importorskip("optuna_dashboard")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "search", "tiny_test", "--target", "flops_budget", "--measurements",
                             mfile, "--predictor", "flops", "--sampler", "nsga2", "--trials", "8",
                             "--out", "results")
    assert code == 0, err
    assert (tmp_path / "results" / "tiny_test" / "search.db").is_file()
    port = _free_port()
    # exactly as docs/search.md says, from the folder that holds results/
    cmd = [*_dashboard_command(), "sqlite:///results/tiny_test/search.db", "--host", "127.0.0.1",
           "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    try:
        base = f"http://127.0.0.1:{port}"
        studies = _get_json(f"{base}/api/studies", time.time() + 90, proc)["study_summaries"]
        (summary,) = [s for s in studies if s["study_name"].startswith("tiny_test-")]
        detail = _get_json(f"{base}/api/studies/{summary['study_id']}", time.time() + 30, proc)
        names = detail.get("metric_names") or detail.get("objective_names")
        assert names == ["acc1", "flops"]
        assert detail["directions"] == ["maximize", "minimize"]
        assert len(detail["trials"]) == 8
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
