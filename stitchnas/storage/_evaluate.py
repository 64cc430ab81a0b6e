"""``stitchnas evaluate --storage``: the candidate ids as a work queue in an Optuna study, measured
by any number of workers at once. Each id is queued once under the study mutex, popped by one
worker, kept alive by its heartbeat and queued again if its worker dies (the mechanism of
:mod:`stitchnas.storage._workers`); every worker ends with every row of the study merged into
its measurements file."""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import StitchnasError, StorageError
from ._open import META_KEY, close_storage, error_line, open_storage, quiet_optuna
from ._workers import (Heartbeat, SharedStudy, StaleWatch, StudyMutex, fail_trials, heartbeat_interval,
                       poll_interval, pop_waiting, set_metric_names, study_lock, tell, trials_in, worker_name)

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["EVALUATE_KIND", "EvaluateWork", "default_evaluate_study", "evaluate_worker"]

EVALUATE_KIND = "stitchnas-evaluate/1"


@dataclass(frozen=True)
class EvaluateWork:
    """One ``evaluate`` worker's share: ``measured``, the ids this worker measured (in order);
    ``rows``, every row the study holds (all workers'), merged into ``out``; ``queued``, the ids
    this worker put in the queue; ``stale``, trials of dead workers it failed and queued again."""

    study_name: str
    storage: str
    measured: tuple[int, ...]
    rows: tuple[Any, ...]
    queued: int
    stale: int
    seconds: float
    out: Path


def default_evaluate_study(space: Any, ids: Sequence[int], dataset: str, checkpoint_key: str) -> str:
    key = hashlib.sha256(repr((dataset, checkpoint_key, sorted(ids))).encode()).hexdigest()[:10]
    return f"evaluate-{space.name}-{space.content_hash[:8]}-{key}"


@quiet_optuna()  # Optuna's verbosity restored after
def evaluate_worker(space: Any, ids: Sequence[int], measure: Any, *, storage: Any, out: Path,
                    dataset: str, checkpoint_key: str, study_name: str | None = None,
                    chunk: int = 8, stale_after_s: float = 60.0) -> EvaluateWork:
    """Measure the candidates ``ids`` together with any number of other workers of one study.

    Under the study mutex the first worker queues every id (``study.enqueue_trial({"id": ...})``)
    that the study does not hold yet (completed, running or waiting), so each is queued once
    however many workers start together. Each worker then pops up to ``chunk`` waiting trials at a
    time (a popped trial is RUNNING: no other worker gets it), measures them with
    ``measure(ids) -> [Measurement]`` while a heartbeat marks them alive, merges the rows into
    ``out`` (locked, atomic) and completes each trial with its top-1 and the whole row (user
    attribute ``row``). A worker stops when nothing waits and nothing runs: trials of a dead
    worker are failed and queued again once stale (see :class:`StaleWatch`), so every id is
    measured while one worker lives. At the end each worker merges every row of the study into
    ``out``: all of them end with the same file."""
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    from ..measure import Measurement, write_measurements

    ids = sorted({int(i) for i in ids})
    store = open_storage(storage, space)
    name = study_name or default_evaluate_study(space, ids, dataset, checkpoint_key)
    meta = {"kind": EVALUATE_KIND, "space": space.name, "space_hash": space.content_hash,
            "dataset": dataset, "checkpoint": checkpoint_key}
    watch = StaleWatch(stale_after_s)
    mutex = StudyMutex(store, name)
    measured: list[int] = []
    stale = queued = 0
    start = time.perf_counter()
    popped: list[int] = []  # numbers of the trials in hand
    shared = None
    try:
        with study_lock(store.file, name) as lock, warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            with mutex:
                study = _open_evaluate_study(store, name, meta)
                shared = SharedStudy.of(study, store.storage)
                if lock.exclusive:
                    stale += fail_trials(shared, trials_in(study, TrialState.RUNNING))
                held = {_candidate_of(t) for t in trials_in(study, TrialState.COMPLETE,
                                                           TrialState.RUNNING, TrialState.WAITING)}
                for cid in ids:
                    if cid not in held:
                        study.enqueue_trial({"id": cid}, user_attrs={"id": cid})
                        queued += 1
            lock.share()
            while True:
                with mutex:
                    running = trials_in(study, TrialState.RUNNING)
                    dead = watch.stale(running)
                    if dead:
                        stale += fail_trials(shared, dead)
                        running = trials_in(study, TrialState.RUNNING)
                    trials = pop_waiting(study, chunk)
                    popped = [t.number for t in trials]
                    if not popped and not running:
                        break
                if not popped:  # others' trials in flight: wait for them (or for them to go stale)
                    time.sleep(poll_interval(stale_after_s))
                    continue
                for trial in trials:
                    trial.set_user_attr("worker", worker_name())
                cids = [t.suggest_int("id", 0, max(space.num_ids - 1, 0)) for t in trials]
                with Heartbeat(shared, popped, heartbeat_interval(stale_after_s)):
                    rows = measure(cids)
                    write_measurements(out, rows)
                by_id = {m.id: m for m in rows}
                for trial, cid in zip(trials, cids):
                    try:
                        trial.set_user_attr("row", by_id[cid].to_json())
                    except UpdateFinishedTrialError:
                        continue  # taken for dead meanwhile: its retry measures it again
                    if tell(study, trial, by_id[cid].acc1):
                        measured.append(cid)
                popped = []
    except KeyboardInterrupt:
        _give_back(shared, popped, mutex)
        raise
    except StitchnasError:
        _give_back(shared, popped, mutex, retry=False)
        raise
    except Exception as err:  # noqa: BLE001 - storage failures
        _give_back(shared, popped, mutex, retry=False)
        raise StitchnasError(f"distributed evaluation in study {name!r} of {store.label} failed: "
                             f"{error_line(err)}") from err
    finally:
        mutex.close()
        close_storage(store)
    latest: dict[int, Any] = {}
    for t in sorted(trials_in(study, TrialState.COMPLETE), key=lambda t: t.number):
        row = t.user_attrs.get("row")
        if row is not None:
            latest[int(row["id"])] = row
    close_storage(store)  # read again above: close once more
    rows = [Measurement.from_json(latest[k], space) for k in sorted(latest)]
    merged = write_measurements(out, rows) if rows else []
    return EvaluateWork(study_name=name, storage=store.label, measured=tuple(measured),
                        rows=tuple(m for m in merged if m.id in latest), queued=queued, stale=stale,
                        seconds=time.perf_counter() - start, out=Path(out))


def _candidate_of(t: "FrozenTrial") -> int | None:
    cid = t.params.get("id", (t.system_attrs.get("fixed_params") or {}).get("id"))
    return None if cid is None else int(cid)


def _open_evaluate_study(store: Any, name: str, meta: dict) -> "optuna.Study":
    import optuna

    try:
        try:
            sid = store.storage.get_study_id_from_name(name)
            old = store.storage.get_study_user_attrs(sid).get(META_KEY)
            if old is None or old.get("kind") != EVALUATE_KIND:
                raise StitchnasError(f"study {name!r} in {store.label} is not a stitchnas evaluate "
                                     "study: choose another --study-name")
        except KeyError:
            old = None
        study = optuna.create_study(storage=store.storage, study_name=name, direction="maximize",
                                    sampler=optuna.samplers.RandomSampler(seed=0),
                                    load_if_exists=True)
    except StitchnasError:
        raise
    except Exception as err:  # noqa: BLE001 - storage/driver errors
        raise StorageError(f"cannot create or load study {name!r} in {store.label}: "
                           f"{error_line(err)}") from err
    if study.metric_names is None:
        set_metric_names(study, ["acc1"])
    if old is None:
        study.set_user_attr(META_KEY, meta)
        return study
    for key, what in (("space_hash", "space"), ("dataset", "dataset"), ("checkpoint", "checkpoint")):
        if old.get(key) != meta[key]:
            raise StitchnasError(
                f"study {name!r} in {store.label} measures {what} {old.get(key)!r}, not "
                f"{meta[key]!r}: give another --study-name for this evaluation")
    return study


def _give_back(shared: SharedStudy | None, numbers: Sequence[int], mutex: StudyMutex,
               retry: bool = True) -> None:
    """A worker stopping with trials in hand fails them; ``retry`` (interrupted, not broken)
    queues them again so the other workers measure them now, not once they go stale."""
    if shared is None or not numbers:
        return
    try:
        with mutex:
            fail_trials(shared, [shared.trial(n) for n in numbers], retry=retry)
    except Exception:  # noqa: BLE001 - best effort: else they go stale
        pass
