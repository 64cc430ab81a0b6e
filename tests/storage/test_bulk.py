"""record_trials: the one-transaction path into a SQLite file reads back exactly as Optuna's own
study.add_trials, is all or nothing, and steps aside for every storage it does not know."""

from __future__ import annotations

import math
import warnings

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from stitchnas.storage import close_storage, open_storage, record_trials
from stitchnas.storage import _bulk as bulk_mod
from support.pg import pg_url, postgres  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
optuna.logging.set_verbosity(optuna.logging.WARNING)

DIRECTIONS = ["maximize", "minimize"]


def _trials(n: int, offset: int = 0) -> list:
    """Finished trials as an in-memory study makes them: several distribution kinds, infinite and
    finite values (NaN intermediate ones), attributes of every JSON kind, intermediate values, a pruned and a failed one."""
    memory = optuna.create_study(directions=DIRECTIONS)
    for i in range(offset, offset + n):
        state = TrialState.FAIL if i % 7 == 3 else TrialState.COMPLETE
        memory.add_trial(create_trial(
            state=state,
            params={"route": i, "cut": 0.25 * i, "kind": ["a", "b", None][i % 3]},
            distributions={"route": IntDistribution(0, 1000), "cut": FloatDistribution(0.0, 500.0),
                           "kind": CategoricalDistribution(["a", "b", None])},
            values=None if state == TrialState.FAIL else [float(i), math.inf if i % 5 == 0 else -0.5 * i],
            user_attrs={"id": i, "route": f"(0, {i})", "nested": {"x": [1, 2.5, None]}},
            system_attrs={"constraints": [float(i % 2) - 0.5]},
            intermediate_values={0: 1.0, 3: -math.inf, 5: math.nan} if i % 4 == 0 else None))
    return memory.get_trials(deepcopy=False)


def _read(storage, name: str) -> list:
    study = optuna.load_study(study_name=name, storage=storage)
    return [(t.number, t.state, t.values, t.params, t.distributions, t.user_attrs, t.system_attrs,
             t.intermediate_values, t.datetime_start, t.datetime_complete) for t in study.trials]


def _study(spec, name: str = "s"):
    opened = open_storage(str(spec))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(storage=opened.storage, study_name=name, directions=DIRECTIONS)
    return opened, study


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A fresh database: a SQLite file, or one on the throw-away PostgreSQL cluster."""
    return tmp_path / "s.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_bulk_recording_reads_back_as_optunas_own(database):
    """Two batches (the second numbered after the first, as on resuming) into one study by
    record_trials and into another study of the same database by study.add_trials: every field
    read back is the same."""
    first, second = _trials(40), _trials(25, offset=40)
    fast, fast_study = _study(database, "bulk")
    slow, slow_study = _study(database, "optuna")
    for batch in (first, second):
        assert record_trials(fast_study, batch, fast.storage) is True
        slow_study.add_trials(batch)
    got, want = _read(fast.storage, "bulk"), _read(slow.storage, "optuna")
    assert len(got) == 65 and [row[0] for row in got] == list(range(65))
    assert repr(got) == repr(want)  # repr: NaN intermediate values compare unequal
    assert len(fast_study.get_trials(states=(TrialState.COMPLETE,))) == 65 - 9  # the live study sees them
    close_storage(fast)
    close_storage(slow)


def test_bulk_recording_is_all_or_nothing(database):
    """A trial whose parameter clashes with the study's distribution is refused as Optuna refuses
    it, and none of the batch is written."""
    opened, study = _study(database)
    record_trials(study, _trials(5), opened.storage)
    clash = create_trial(params={"route": 3}, distributions={"route": CategoricalDistribution([1, 2, 3])},
                         values=[1.0, 2.0])
    with pytest.raises(ValueError):
        record_trials(study, _trials(10, offset=5) + [clash], opened.storage)
    assert len(_read(opened.storage, "s")) == 5
    close_storage(opened)


@pytest.mark.parametrize("spec", ["memory", "s.journal"])  # MySQL (no RETURNING) is not at hand
def test_other_storages_get_optunas_own_path(tmp_path, spec):
    opened = open_storage(spec if spec == "memory" else str(tmp_path / spec))
    study = optuna.create_study(storage=opened.storage, study_name="s", directions=DIRECTIONS)
    assert record_trials(study, _trials(12), opened.storage) is False
    assert [t.number for t in study.trials] == list(range(12))


def test_an_unknown_schema_or_unfinished_trial_gets_optunas_own_path(tmp_path, monkeypatch):
    opened, study = _study(tmp_path / "s.db")
    running = create_trial(state=TrialState.RUNNING, params={}, distributions={})
    assert record_trials(study, _trials(3) + [running], opened.storage) is False
    monkeypatch.setattr(bulk_mod, "BULK_SCHEMAS", frozenset({"v0"}))
    assert record_trials(study, _trials(3, offset=3), opened.storage) is False
    assert [t.state for t in study.trials].count(TrialState.RUNNING) == 1 and len(study.trials) == 7
    close_storage(opened)


def test_a_trial_added_by_another_process_meanwhile_keeps_the_numbers_distinct(tmp_path, monkeypatch):
    """SQLite: another writer adds a trial after the batch counted the study's trials and before
    it inserts its own: the batch is numbered after it, as Optuna would number it. (PostgreSQL
    holds the study's row from the start, as Optuna does: such a writer waits.)"""
    import optuna.distributions as dists

    opened, study = _study(tmp_path / "s.db")
    record_trials(study, _trials(2), opened.storage)
    other = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}")
    check = dists.check_distribution_compatibility
    raced = []

    def racing(old, new):
        if not raced:
            raced.append(True)  # before: Optuna's own add_trial checks through this name too
            other.add_trial(_trials(1, offset=50)[0])
        return check(old, new)

    monkeypatch.setattr(dists, "check_distribution_compatibility", racing)
    record_trials(study, _trials(4, offset=2), opened.storage)
    rows = _read(opened.storage, "s")
    assert raced and [row[0] for row in rows] == list(range(7))
    assert [row[5]["id"] for row in sorted(rows, key=lambda r: r[0])] == [0, 1, 50, 2, 3, 4, 5]
    close_storage(opened)


def test_optuna_writing_to_the_study_at_the_same_time_keeps_every_number_distinct(database):
    """Another connection adds trials through Optuna while a batch is recorded: each waits for
    the other's lock, and the study's trial numbers stay 0..N-1 without a repeat."""
    import threading

    opened, study = _study(database)
    record_trials(study, _trials(3), opened.storage)  # parameters to check against: the slow path
    other_opened = open_storage(str(database))
    other = optuna.load_study(study_name="s", storage=other_opened.storage)
    errors: list[BaseException] = []
    started = threading.Event()

    def optuna_writer():
        try:
            for t in _trials(40, offset=950):
                other.add_trial(t)
                started.set()
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)
            started.set()

    thread = threading.Thread(target=optuna_writer)
    thread.start()
    started.wait(30)
    for k in range(3):
        record_trials(study, _trials(300, offset=3 + 300 * k), opened.storage)
    thread.join(60)
    assert not errors and not thread.is_alive()
    numbers = [row[0] for row in _read(opened.storage, "s")]
    assert sorted(numbers) == list(range(3 + 900 + 40))
    close_storage(opened)
    close_storage(other_opened)
