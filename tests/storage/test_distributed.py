"""Many workers, one study, against a real PostgreSQL server (started by tests/pg.py; skipped
where PostgreSQL is not installed) and a journal file: concurrent `stitchnas search` and
`stitchnas evaluate` processes share the work, never repeat it, end with exactly the trials asked
for and one front; a worker killed with SIGKILL mid-trial loses nothing finished, and its trial is
failed and redone.

A worker is killed "mid-trial" deterministically: it is frozen (SIGSTOP) until the database shows
a RUNNING trial of its own (user attribute ``worker`` = host:pid), then killed.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
import sqlalchemy
import torch
from support import REPO
from optuna.trial import TrialState
from support.pg import pg_url, postgres  # noqa: F401 - fixtures
from support.tiny import ACC, MEASURED, costs, row, space  # noqa: F401 - fixtures

from stitchnas.network import save_checkpoint
from stitchnas.measure import DataSpec, calibration_batch, load_datasets
from stitchnas.storage import evaluate_worker
from stitchnas.measure import read_measurements, write_measurements
from stitchnas.network import StitchedNetwork

ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
           PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
HOST = socket.gethostname()


@pytest.fixture(scope="module")
def mfile(space, costs, tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.jsonl"
    write_measurements(path, [row(space, costs, i) for i in MEASURED])
    return path


def search_cmd(mfile, storage, out, trials, *extra):
    return [sys.executable, "-m", "stitchnas", "search", "tiny_test", "--target", "flops_budget",
            "--measurements", str(mfile), "--storage", str(storage), "--study-name", "shared",
            "--trials", str(trials), "--predictor", "flops", "--out", str(out),
            "--stale-after-s", "3", *extra]


def start(cmd, cwd):
    return subprocess.Popen(cmd, env=ENV, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc, timeout=150):
    """The worker's stdout (its stderr is kept as ``proc.err``)."""
    out, proc.err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, proc.err
    return out


def load(storage_url, name="shared"):
    return optuna.load_study(study_name=name, storage=storage_url)


def front_members(path):
    doc = json.loads(Path(path).read_text())
    return doc["members"], doc["study"]["n_trials"]


def journal_storage(path):
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


class Peek:
    """Reads a study's trial states and workers straight from the storage while workers run."""

    def __init__(self, storage, name="shared"):
        self.name = name
        self.engine = self.study = None
        if "://" in str(storage):
            self.storage = storage
            self.engine = sqlalchemy.create_engine(storage, poolclass=sqlalchemy.pool.NullPool)
        else:  # a journal file: one storage object, which reads the file incrementally
            self.storage = journal_storage(storage)

    def trials(self):
        """[(state, worker)] of every trial; [] while the study does not exist yet."""
        if self.engine is None:
            try:
                self.study = self.study or optuna.load_study(study_name=self.name, storage=self.storage)
            except KeyError:
                return []
            return [(t.state.name, t.user_attrs.get("worker"))
                    for t in self.study.get_trials(deepcopy=False)]
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(sqlalchemy.text(
                    "SELECT t.state, a.value_json FROM trials t JOIN studies s ON s.study_id = t.study_id "
                    "LEFT JOIN trial_user_attributes a ON a.trial_id = t.trial_id AND a.key = 'worker' "
                    "WHERE s.study_name = :n"), {"n": self.name}).fetchall()
        except sqlalchemy.exc.SQLAlchemyError:
            return []
        return [(str(getattr(s, "name", s)), json.loads(w) if w else None) for s, w in rows]

    def count(self, state):
        return sum(s == state for s, _ in self.trials())

    def close(self):
        if self.engine is not None:
            self.engine.dispose()


def kill_mid_trial(proc, peek, deadline):
    """Freeze the worker until the storage shows a RUNNING trial of its own, then SIGKILL it."""
    me = f"{HOST}:{proc.pid}"
    while True:
        assert proc.poll() is None, "the worker finished before it could be killed"
        assert time.time() < deadline, "never caught the worker mid-trial"
        proc.send_signal(signal.SIGSTOP)
        if any(s == "RUNNING" and w == me for s, w in peek.trials()):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.003)


def busiest(procs, peek):
    """The live worker with the most completed trials: surely at work, with work left."""
    done = Counter(w for s, w in peek.trials() if s == "COMPLETE")
    live = [p for p in procs if p.poll() is None]
    return max(live, key=lambda p: done[f"{HOST}:{p.pid}"])


def wait_for(cond, deadline, *procs):
    """Until ``cond()``; every worker in ``procs`` must stay alive meanwhile."""
    while not cond():
        for proc in procs:
            assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


# ---- search -----------------------------------------------------------------------------------
def check_search(trials, n, dead, snapshot):
    """Exactly ``n`` trials COMPLETE and one FAIL (the dead worker's), retried once; every trial
    completed before the kill is still complete with the same parameters."""
    by_number = {t.number: t for t in trials}
    assert sorted(by_number) == list(range(n + 1))  # no trial made twice, none lost
    assert Counter(t.state for t in trials) == {TrialState.COMPLETE: n, TrialState.FAIL: 1}
    (failed,) = [t for t in trials if t.state == TrialState.FAIL]
    assert failed.user_attrs["worker"] == dead
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == failed.number]
    assert retry.state == TrialState.COMPLETE and retry.user_attrs["worker"] != dead
    assert {k: v for k, v in retry.params.items()} == failed.params
    for number, params in snapshot.items():
        assert by_number[number].state == TrialState.COMPLETE and by_number[number].params == params


def test_four_search_workers_on_postgres_exact_trials_one_front_and_a_kill_loses_nothing(
        mfile, pg_url, tmp_path):  # noqa: F811
    """Four `stitchnas search` processes share one study on the server; one is SIGKILLed
    mid-trial once 15 trials are complete. The other three end with exactly 80 completed trials
    (not 4 x 80) and save the same front; the dead worker's trial is failed and redone; started
    again, the killed worker finds the study done."""
    n = 80
    peek = Peek(pg_url)
    url = "postgresql://" + pg_url.split("://", 1)[1]  # as users write it: no driver named
    procs = [start(search_cmd(mfile, url, tmp_path / f"w{k}", n), tmp_path) for k in range(4)]
    deadline = time.time() + 120
    wait_for(lambda: peek.count("COMPLETE") >= 15, deadline, *procs)
    victim = busiest(procs, peek)
    kill_mid_trial(victim, peek, deadline)
    k = procs.index(victim)
    survivors = [p for p in procs if p is not victim]
    snapshot = {t.number: t.params for t in load(pg_url).get_trials(deepcopy=False)
                if t.state == TrialState.COMPLETE}
    assert 15 <= len(snapshot) < n
    outs = [finish(p) for p in survivors]
    trials = load(pg_url).get_trials(deepcopy=False)
    check_search(trials, n, f"{HOST}:{victim.pid}", snapshot)
    workers = Counter(t.user_attrs["worker"] for t in trials)
    assert set(workers) <= {f"{HOST}:{p.pid}" for p in procs} and len(workers) >= 2
    assert sum("failed 1 trial(s) left RUNNING by an interrupted search and queued them again"
               in p.err for p in survivors) == 1
    # every surviving worker saved the same front, from the same 80 trials
    fronts = [front_members(tmp_path / f"w{j}" / "tiny_test" / "flops_budget" / "front.json")
              for j in range(4) if j != k]
    assert all(f == fronts[0] for f in fronts) and fronts[0][1] == n
    assert all(f"in {n} trials" in o for o in outs)
    # the killed worker, started again, finds the study done: no new trial, the same front
    again = finish(start(search_cmd(mfile, url, tmp_path / f"w{k}", n), tmp_path))
    assert f"in {n} trials" in again
    assert len(load(pg_url).get_trials(deepcopy=False)) == n + 1
    assert front_members(tmp_path / f"w{k}" / "tiny_test" / "flops_budget" / "front.json") == fronts[0]
    peek.close()


def test_journal_file_workers_on_one_machine_survive_a_kill(mfile, tmp_path):
    journal = tmp_path / "study.journal"
    n = 100
    peek = Peek(journal)
    procs = [start(search_cmd(mfile, journal, tmp_path / f"w{k}", n), tmp_path) for k in range(2)]
    deadline = time.time() + 120
    wait_for(lambda: peek.count("COMPLETE") >= 5, deadline, *procs)
    victim = busiest(procs, peek)
    kill_mid_trial(victim, peek, deadline)
    snapshot = {t.number: t.params for t in load(peek.storage).get_trials(deepcopy=False)
                if t.state == TrialState.COMPLETE}
    (survivor,) = [p for p in procs if p is not victim]
    finish(survivor)
    trials = load(journal_storage(journal)).get_trials(deepcopy=False)
    check_search(trials, n, f"{HOST}:{victim.pid}", snapshot)
    out = tmp_path / f"w{procs.index(survivor)}" / "tiny_test" / "flops_budget" / "front.json"
    members, n_trials = front_members(out)
    assert n_trials == n and members


# ---- evaluate ---------------------------------------------------------------------------------
def test_evaluate_workers_share_a_work_queue_each_id_once(space, costs, pg_url, tmp_path):  # noqa: F811
    """Three workers (threads here, each with its own connection and lock) start together on a
    fresh study: every id is queued once and measured once, all end with the same rows."""
    out = tmp_path / "m.jsonl"
    seen: list[int] = []
    lock = threading.Lock()

    def fake_measure(ids):
        time.sleep(0.1 * len(ids))
        with lock:
            seen.extend(ids)
        return [row(space, costs, i, acc1=50.0 + i) for i in ids]

    results, errors = [], []

    def work():
        try:
            results.append(evaluate_worker(space, list(costs), fake_measure, storage=pg_url, out=out,
                                           dataset="fake", checkpoint_key="k", study_name="queue",
                                           chunk=2, stale_after_s=3))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(seen) == sorted(costs)  # measured exactly once each, by one worker or another
    mine = [r.measured for r in results]
    assert sorted(i for m in mine for i in m) == sorted(costs)
    assert sum(bool(m) for m in mine) >= 2  # the work was shared
    assert sum(r.queued for r in results) == len(costs)  # queued once, by whoever came first
    trials = load(pg_url, "queue").get_trials(deepcopy=False)
    assert len(trials) == len(costs) and all(t.state == TrialState.COMPLETE for t in trials)
    assert sorted(t.params["id"] for t in trials) == sorted(costs)
    assert all(r.rows == results[0].rows for r in results) and len(results[0].rows) == len(costs)
    assert {m.id: m.acc1 for m in read_measurements(out, space)} == {i: 50.0 + i for i in costs}


@pytest.fixture(scope="module")
def checkpoint(space, tmp_path_factory):
    _, val, _ = load_datasets(DataSpec("digits", input_size=(1, 28, 28), val_subset=64))
    torch.manual_seed(0)
    net = StitchedNetwork(space, space.create_models(weights=False))
    net.init_least_squares(calibration_batch(val, 64))
    path = tmp_path_factory.mktemp("ckpt") / "stitched.pt"
    save_checkpoint(path, net, anchors_tuned=True)
    return path


def evaluate_cmd(checkpoint, storage, out):
    return [sys.executable, "-m", "stitchnas", "evaluate", "tiny_test", "--checkpoint", str(checkpoint),
            "--data", "digits", "--val-subset", "300", "--batch-size", "10", "--storage", str(storage),
            "--study-name", "shared", "--chunk", "1", "--stale-after-s", "3", "--out", str(out)]


def measured_ids(stdout):
    line = next(x for x in stdout.splitlines() if x.startswith("this worker measured"))
    ids = line.rsplit("ids ", 1)[1]
    return [] if ids == "none" else [int(i) for i in ids.split(",")]


def test_killed_evaluate_worker_loses_nothing_and_the_others_redo_its_ids(space, checkpoint, pg_url,  # noqa: F811
                                                                         tmp_path):
    peek = Peek(pg_url)
    victim = start(evaluate_cmd(checkpoint, pg_url, tmp_path / "w0.jsonl"), tmp_path)
    deadline = time.time() + 150
    wait_for(lambda: peek.count("COMPLETE") >= 1, deadline, victim)
    kill_mid_trial(victim, peek, deadline)
    dead = f"{HOST}:{victim.pid}"
    before = {t.number: t.user_attrs["row"] for t in load(pg_url).get_trials(deepcopy=False)
              if t.state == TrialState.COMPLETE}
    # two workers start together (both writing to one measurements file) and finish the queue
    shared = tmp_path / "shared.jsonl"
    procs = [start(evaluate_cmd(checkpoint, pg_url, shared), tmp_path) for _ in range(2)]
    outs = [finish(p) for p in procs]
    trials = load(pg_url).get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(t.params["id"] for t in done) == list(range(14))  # every id, exactly once
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all(t.user_attrs["worker"] == dead for t in failed)
    assert not [t for t in trials if t.state not in (TrialState.COMPLETE, TrialState.FAIL)]
    for t in failed:  # the dead worker's ids were redone by the others
        (retry,) = [r for r in trials if r.user_attrs.get("retry_of") == t.number]
        assert retry.state == TrialState.COMPLETE and retry.params["id"] == t.system_attrs["fixed_params"]["id"]
    by_number = {t.number: t for t in trials}
    for number, r in before.items():  # nothing finished was lost or redone
        assert by_number[number].state == TrialState.COMPLETE and by_number[number].user_attrs["row"] == r
    mine = [measured_ids(o) for o in outs]
    assert not set(mine[0]) & set(mine[1])
    assert sorted(mine[0] + mine[1] + [r["id"] for r in before.values()]) == list(range(14))
    rows = read_measurements(shared, space)  # both wrote into it, concurrently: nothing lost
    assert [m.id for m in rows] == list(range(14))
    study_rows = {t.params["id"]: t.user_attrs["row"] for t in done}
    assert [m.to_json() for m in rows] == [study_rows[i] for i in range(14)]
    assert all(m.acc1 == t.values[0] for m in rows for t in done if t.params["id"] == m.id)
    peek.close()


def test_a_journal_line_cut_short_by_a_killed_writer_is_cut_off(tmp_path):
    """A writer killed mid-append leaves half a line; appended to as it is, Optuna's journal would
    be unreadable for good ("Invalid log format"). The next stitchnas writer cuts it off."""
    from stitchnas.storage import open_storage

    path = tmp_path / "s.journal"
    study = optuna.create_study(storage=open_storage(path).storage, study_name="x")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    whole = path.read_bytes()
    with open(path, "ab") as fh:
        fh.write(b'{"op_code":4,"worker_id":"dead","trial_id":3,"sta')
    # a plain Optuna writer would append after the torn line: readers then fail
    plain = tmp_path / "plain.journal"
    plain.write_bytes(path.read_bytes())
    with pytest.raises(Exception):  # noqa: B017 - Optuna fails in one way or another
        optuna.create_study(storage=journal_storage(plain), study_name="y")
        _ = optuna.load_study(study_name="x", storage=journal_storage(plain)).trials
    # stitchnas's writer cuts it off first: nothing lost, the journal stays readable
    again = optuna.load_study(study_name="x", storage=open_storage(path).storage)
    again.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert path.read_bytes().startswith(whole)
    trials = optuna.load_study(study_name="x", storage=journal_storage(path)).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5


def test_storage_opens_without_the_search_and_fails_as_storage_errors(tmp_path):
    from stitchnas.errors import StorageError
    from stitchnas.storage import open_storage

    code = ("import sys, stitchnas.storage as s; s.open_storage('memory'); "
            "print([m for m in sys.modules if m.startswith('stitchnas.optimize')])")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
    with pytest.raises(StorageError, match="neither a URL nor a path"):
        open_storage(tmp_path / "results.txt")
    (tmp_path / "f").write_text("")
    with pytest.raises(StorageError, match="is a file, not a folder"):
        open_storage(tmp_path / "f" / "x.db")
