"""One search's Optuna study on its storage: created or resumed with its metadata checked, and run
by any number of workers at once until it holds the trials asked for (the protocol is in
:mod:`._loop`'s docstring; :func:`run_study` is its worker)."""

from __future__ import annotations

import random
import time
import warnings
from typing import TYPE_CHECKING, Any

from ..errors import StitchnasError, StorageError
from ..progress import show_bars
from ..storage import (META_KEY, OpenedStorage, SharedStudy, StaleWatch, StudyMutex, error_line, fail_trials,
                       poll_interval, quiet_optuna, set_metric_names, study_lock, tell, trials_in, worker_name)
from ._config import SearchConfig
from ._encoding import make_encoding
from ._problem import Problem
from ._samplers import _population, make_sampler, sampler_label

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["check_meta", "complete_trials", "existing_meta", "run_study", "study_meta"]


def study_meta(problem: Problem, encoding: str, sampler: str, seed: int, population: int | None) -> dict:
    return {"space": problem.space.name, "space_hash": problem.space.content_hash,
            "target": problem.target.name, "objectives": list(problem.objectives),
            "encoding": encoding, "sampler": sampler, "seed": seed,
            "population_size": population, "inputs_key": problem.key,
            "candidates": len(problem.space)}


def existing_meta(storage: Any, name: str) -> dict | None:
    try:
        sid = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    attrs = storage.get_study_user_attrs(sid)
    meta = attrs.get(META_KEY)
    if meta is None:
        raise StitchnasError(f"study {name!r} exists in the storage but was not made by stitchnas: "
                             "choose another --study-name")
    return meta


def check_meta(old: dict, new: dict, name: str, where: str) -> list[str]:
    for key, what in (("space_hash", "space"), ("target", "target"), ("objectives", "objectives"),
                      ("encoding", "encoding")):
        if old.get(key) != new.get(key):
            raise StitchnasError(
                f"study {name!r} in {where} was made for {what} {old.get(key)!r}, not "
                f"{new.get(key)!r}: give another --study-name (or --storage) for this search")
    notes = []
    if old.get("inputs_key") != new.get("inputs_key"):
        notes.append(f"study {name!r} was started with other accuracies or costs (the measurements, "
                     "predictor or latency table changed): its earlier trials guided the sampler "
                     "with old values; the front uses the current ones")
    if old.get("sampler") != new.get("sampler"):
        notes.append(f"study {name!r} was started with sampler {old.get('sampler')!r}; continuing "
                     f"with {new.get('sampler')!r}")
    return notes


def complete_trials(study: "optuna.Study") -> list:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


@quiet_optuna()  # Optuna's verbosity restored after
def run_study(problem: Problem, config: SearchConfig, *, storage: OpenedStorage, study_name: str,
               n_trials: int, sampler_spec: Any, encoding: str, progress: bool | None = None):
    """Create or resume the study and run it until it holds ``n_trials`` completed trials (or,
    exhaustive, that many distinct candidates). Any number of workers may do so at once on one
    storage: under the study mutex a worker admits a new trial only while completed plus running
    trials are fewer than asked for (and samples it there, so samplers see every trial admitted
    before), then waits for the others' trials in flight, failing and queueing again those whose
    workers died. Returns (study, seconds, notes)."""
    import optuna
    from optuna.trial import TrialState

    encoder = make_encoding(problem.space, encoding)
    exhaustive = sampler_spec == "exhaustive"
    label = sampler_label(sampler_spec)
    mutex = StudyMutex(storage, study_name)
    try:
        with study_lock(storage.file, study_name) as lock, warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            with mutex:  # one worker at a time creates the study and its metadata
                study, notes = _open_study(problem, config, storage=storage, study_name=study_name,
                                           n_trials=n_trials, sampler_spec=sampler_spec,
                                           encoding=encoding, label=label)
                shared = SharedStudy.of(study, storage.storage)
                stale = 0
                if lock.exclusive:  # alone on a file storage: every RUNNING trial is a dead one's
                    stale = fail_trials(shared, trials_in(study, TrialState.RUNNING), retry=not exhaustive)
            lock.share()
            seconds, more = _work(shared, problem, encoder, mutex, StaleWatch(config.stale_after_s),
                                  exhaustive=exhaustive, seed=config.seed, n_trials=n_trials,
                                  study_name=study_name,
                                  storage=storage, progress=progress,
                                  poll=poll_interval(config.stale_after_s))
            stale += more
            if stale:
                notes.append(f"failed {stale} trial(s) left RUNNING by an interrupted search"
                             + ("" if exhaustive else " and queued them again"))
    finally:
        mutex.close()
    return study, seconds, notes


def _open_study(problem: Problem, config: SearchConfig, *, storage: OpenedStorage, study_name: str,
                n_trials: int, sampler_spec: Any, encoding: str, label: str):
    """Create or load the study (call under the study mutex); check and record its metadata."""
    import optuna

    try:
        old = existing_meta(storage.storage, study_name)
    except StitchnasError:
        raise
    except Exception as err:  # noqa: BLE001 - storage errors
        raise StorageError(f"cannot read Optuna storage {storage.label}: {error_line(err)}") from err
    population = None
    if sampler_spec == "nsga2":
        population = (old or {}).get("population_size") or _population(n_trials)
    meta = study_meta(problem, encoding, label, config.seed, population)
    notes = check_meta(old, meta, study_name, storage.label) if old is not None else []
    if sampler_spec == "exhaustive":  # every trial is queued with its candidate: nothing is sampled
        sampler = optuna.samplers.RandomSampler(seed=config.seed)
    else:
        sampler = make_sampler(sampler_spec, seed=config.seed, n_trials=n_trials, population_size=population)
    try:
        study = optuna.create_study(storage=storage.storage, sampler=sampler, study_name=study_name,
                                    directions=problem.directions, load_if_exists=True)
    except StitchnasError:
        raise
    except Exception as err:  # noqa: BLE001 - storage/driver errors
        raise StorageError(f"cannot create or load study {study_name!r} in {storage.label}: "
                           f"{error_line(err)}") from err
    if [d.name.lower() for d in study.directions] != problem.directions:
        raise StitchnasError(f"study {study_name!r} in {storage.label} optimises other directions: "
                             "give another --study-name")
    if study.metric_names != list(problem.objectives):
        set_metric_names(study, problem.objectives)
    if old is None:
        study.set_user_attr(META_KEY, meta)
    return study, notes


def _work(shared: SharedStudy, problem: Problem, encoder, mutex: StudyMutex, watch: StaleWatch, *,
          exhaustive: bool, seed: int, n_trials: int, study_name: str, storage: OpenedStorage,
          progress: bool | None, poll: float) -> tuple[float, int]:
    """The worker loop of :func:`run_study`. Returns (seconds, stale trials failed).

    ``exhaustive``: each admitted trial is the next candidate no trial holds (completed or
    running), in an order shuffled by ``seed``, queued with its parameters (``enqueue_trial``)
    and popped by ``ask``: every candidate once, whatever trials failed or were cut short."""
    from tqdm.auto import tqdm

    study = shared.study
    all_ids = set(problem.index)
    order = random.Random(seed).sample(sorted(all_ids), len(all_ids)) if exhaustive else []
    target_total = min(n_trials, len(all_ids)) if exhaustive else n_trials
    bar = tqdm(total=target_total, disable=not show_bars(progress), unit="trial",
               desc=f"search {problem.space.name} on {problem.target.name}")
    stale = 0
    worker = worker_name()
    start = time.perf_counter()
    trial = None
    try:
        while True:
            trial = None
            with mutex:
                running, complete = _running_and_complete(study)
                dead = watch.stale(running)
                if dead:
                    stale += fail_trials(shared, dead, retry=not exhaustive)
                    running, complete = _running_and_complete(study)
                if exhaustive:
                    done_ids = {t.user_attrs.get("id") for t in complete} & all_ids
                    seen = done_ids | ({t.user_attrs.get("id") for t in running} & all_ids)
                    done, finished = len(done_ids), len(done_ids) >= target_total
                    admit = not finished and len(seen) < target_total
                else:
                    done = len(complete)
                    finished = done >= target_total
                    admit = not finished and done + len(running) < target_total
                bar.update(min(done, target_total) - bar.n)
                if finished:
                    break
                if admit:
                    if exhaustive:
                        following = next(c for c in order if c not in seen)
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            study.enqueue_trial(encoder.params(following))
                    trial = study.ask()
                    cid = encoder.suggest(trial)
                    i = problem.index[cid]
                    trial.set_user_attr("id", cid)
                    trial.set_user_attr("route", str(problem.costs[i].route))
                    trial.set_user_attr("worker", worker)
                    for key, value in problem.constraints[i]:
                        trial.set_constraint(key, value)
            if trial is None:  # others' trials in flight: wait for them (or for them to go stale)
                time.sleep(poll)
                continue
            tell(study, trial, [float(v) for v in problem.values[i]])
            trial = None
    except (KeyboardInterrupt, StitchnasError):
        _fail_quietly(study, trial)
        raise
    except Exception as err:  # noqa: BLE001 - storage/sampler failures
        _fail_quietly(study, trial)
        raise StitchnasError(f"the search of study {study_name!r} in {storage.label} failed: "
                             f"{error_line(err)}") from err
    finally:
        bar.close()
    return time.perf_counter() - start, stale


def _running_and_complete(study) -> tuple[list, list]:
    """One read of the storage (finished trials come from Optuna's cache)."""
    from optuna.trial import TrialState

    trials = trials_in(study, TrialState.RUNNING, TrialState.COMPLETE)
    return ([t for t in trials if t.state == TrialState.RUNNING],
            [t for t in trials if t.state == TrialState.COMPLETE])


def _fail_quietly(study, trial) -> None:
    """Best effort: mark the trial this worker was on as failed (it would go stale otherwise)."""
    from optuna.trial import TrialState

    if trial is None:
        return
    try:
        tell(study, trial, None, state=TrialState.FAIL)
    except Exception:  # noqa: BLE001 - the storage may be what failed
        pass
