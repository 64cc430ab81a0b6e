"""Multi-objective search with Optuna: the Pareto front of a space on each hardware target.

The decision is the stitch itself, written as Optuna parameters (see :mod:`._encoding`).
Objectives are table lookups computed once for the whole space before the study starts:
accuracy is measured where a measurements file has the stitch, else predicted by a predictor
fitted on the measured ones; costs come from :func:`stitchnas.costs.target_costs`. Target
budgets are Optuna constraints (``Trial.set_constraint``, ``<= 0`` feasible), and infeasible
stitches never reach the front.

Studies live in an Optuna storage (a SQLite file under ``results/`` by default; any RDB URL, e.g.
PostgreSQL, or a journal file; see :func:`stitchnas.storage.open_storage`) and resume: re-running
the same search continues the study, counting only completed trials. Several workers (processes
or machines) may run the same search on one storage at once: each admits a new trial only while
the study's completed plus running trials are fewer than ``n_trials`` (decided under the study
mutex of :mod:`stitchnas.storage`), and runs until the study holds exactly ``n_trials`` completed
trials, so every worker ends with the same trials and the same front. Trials left RUNNING by a
killed worker are failed and queued again: at start-up at once for file storages (a lock file
tells that no other process works on the study), else once a live worker has seen the trial
unchanged for ``stale_after_s`` seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..costs import DEFAULT_TARGET
from ..errors import StitchnasError, StorageError
from ..fronts import Front, front_accuracy_note, front_path, save_front
from ..progress import show_bars
from ..storage import (META_KEY, OpenedStorage, StudyMutex, close_storage, error_line, open_storage, quiet_optuna,
                       record_trials, set_metric_names)
from ._accuracy import accuracy_table
from ._config import MAX_DEFAULT_TRIALS, SearchConfig, SearchResult, resolve_objectives
from ._encoding import make_encoding
from ._exact import (LARGE_SPACE, beyond_limit_note, default_encoding, encoding_clash, exact_front,
                     large_trials, resolve_for)
from ._problem import Problem, build_problem
from ._samplers import _population, check_sampler, is_brute_force, make_sampler, sampler_label
from ._study import check_meta, complete_trials, existing_meta, run_study, study_meta

if TYPE_CHECKING:  # pragma: no cover
    from ..costs import Target
    from ..space import SearchSpace

__all__ = ["search", "search_targets", "search_problem", "default_study_name", "META_KEY", "open_storage",
           "SearchInterrupted", "check_distinct_targets"]


def _default_trials(space: "SearchSpace", finite: bool, large: bool = False) -> int:
    if finite:  # exhaustive, exact, Optuna's brute force: each candidate once
        return len(space)
    if large:
        return large_trials(len(space))
    return int(min(3 * len(space), MAX_DEFAULT_TRIALS))


def default_study_name(problem: Problem, sampler: str, seed: int, encoding: str) -> str:
    enc = "" if encoding == default_encoding(sampler, len(problem.space)) else f"-{encoding}"
    return (f"{problem.space.name}-{problem.space.content_hash[:8]}-{problem.target.name}-"
            f"{'+'.join(problem.objectives)}-{sampler}{enc}-seed{seed}-{problem.key[:8]}")


def _front_from_study(problem: Problem, trial_ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """(distinct evaluated ids in first-visit order, front ids)."""
    distinct = list(dict.fromkeys(int(i) for i in trial_ids))
    return distinct, problem.front(distinct)


@contextlib.contextmanager
def _recording(storage: OpenedStorage, study_name: str, what: str):
    """The study's mutex (closed on the way out); a storage or driver error inside becomes one
    line: "cannot record WHAT as study NAME in STORAGE: ..."."""
    mutex = StudyMutex(storage, study_name)
    try:
        yield mutex
    except StitchnasError:
        raise
    except Exception as err:  # noqa: BLE001 - storage/driver errors
        raise StorageError(f"cannot record {what} as study {study_name!r} in {storage.label}: "
                           f"{error_line(err)}") from err
    finally:
        mutex.close()


#: Recording trials that takes longer than this (seconds) gets a note naming the faster storage.
SLOW_RECORD_S = 5.0


def _add_trials(study, trials: list, storage: OpenedStorage, notes: list[str]) -> None:
    """Record finished ``trials`` in ``study`` (:func:`stitchnas.storage.record_trials`: one
    transaction in SQLite or PostgreSQL, about 0.1 ms a trial), with a note when the storage took
    them one by one (MySQL, a journal file: Optuna's own path) and that was slow."""
    start = time.perf_counter()
    at_once = record_trials(study, trials, storage.storage)
    took = time.perf_counter() - start
    if took > SLOW_RECORD_S and not at_once:
        notes.append(f"recording {len(trials)} trials in {storage.label} took {took:.0f} s (Optuna "
                     "writes them one by one there); a SQLite file (--storage PATH.db) or PostgreSQL "
                     "takes them in one transaction")


@quiet_optuna()  # Optuna's verbosity restored after
def _exact_study(problem: Problem, config: SearchConfig, storage: OpenedStorage,
                 study_name: str) -> tuple[list[int], list[int], float, list[str]]:
    """Evaluate every candidate (:func:`exact_front`), then record the front's trials and the
    metadata in the storage, unless a finished exact study of the same inputs is already there.
    Returns (every candidate id, front ids, seconds, notes)."""
    import optuna

    front_ids, front_trials, seconds = exact_front(problem)
    ids = [c.id for c in problem.costs]
    meta = {**study_meta(problem, "tree", "exact", config.seed, None), "evaluated": len(ids)}
    notes: list[str] = []
    with _recording(storage, study_name, "the exact search") as mutex:
        with mutex, warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            old = existing_meta(storage.storage, study_name)
            if old is not None:
                notes = check_meta(old, meta, study_name, storage.label)
                if old.get("sampler") == "exact" and old.get("evaluated") == len(ids) and not notes:
                    return ids, front_ids, seconds, notes  # the same exact search is stored
                if old.get("sampler") == "exact":  # other inputs under this name: replace it
                    optuna.delete_study(study_name=study_name, storage=storage.storage)
                else:
                    raise StitchnasError(
                        f"study {study_name!r} in {storage.label} holds a {old.get('sampler')} search: "
                        "give another --study-name for the exact search")
            study = optuna.create_study(storage=storage.storage, study_name=study_name,
                                        directions=problem.directions, load_if_exists=True)
            set_metric_names(study, problem.objectives)
            _add_trials(study, front_trials, storage, notes)
            study.set_user_attr(META_KEY, meta)  # last: a study with metadata is complete
    return ids, front_ids, seconds, notes


@quiet_optuna()  # Optuna's verbosity restored after
def _memory_study(problem: Problem, config: SearchConfig, storage: OpenedStorage, study_name: str,
                  n_trials: int, encoding: str, progress: bool | None) -> tuple[list, float, list[str]]:
    """The default search beyond the exact limit: NSGA-II in an in-memory study, recorded in the
    storage at the end in one transaction (trial by trial through Optuna took 40 s for 5,000).

    Resumes honestly: the completed trials the storage already holds under ``study_name`` are
    loaded first and the search continues from them to ``n_trials``; the new trials are added
    under the study mutex (the metadata first, so a study cut short while being written resumes
    from what it got). Not for several workers on one study: each would search alone (give
    ``--sampler nsga2`` for the trial-by-trial search they share). Returns (completed trials in
    order, seconds, notes)."""
    import optuna
    from tqdm.auto import tqdm

    encoder = make_encoding(problem.space, encoding)
    with _recording(storage, study_name, "the search") as mutex:
        with mutex:
            old = existing_meta(storage.storage, study_name)
            stored = [] if old is None else complete_trials(optuna.load_study(study_name=study_name,
                                                                        storage=storage.storage))
        population = (old or {}).get("population_size") or _population(n_trials)
        meta = study_meta(problem, encoding, "nsga2", config.seed, population)
        notes = check_meta(old, meta, study_name, storage.label) if old is not None else []
        stored = sorted(stored, key=lambda t: t.number)
        if len(stored) >= n_trials:
            return stored, 0.0, notes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = make_sampler("nsga2", seed=config.seed, n_trials=n_trials, population_size=population)
            memory = optuna.create_study(directions=problem.directions, sampler=sampler)
            set_metric_names(memory, problem.objectives)
            memory.add_trials(stored)
        start = time.perf_counter()
        with tqdm(total=n_trials, initial=len(stored), disable=not show_bars(progress), unit="trial",
                  desc=f"search {problem.space.name} on {problem.target.name}") as bar:
            for _ in range(n_trials - len(stored)):
                trial = memory.ask()
                cid = encoder.suggest(trial)
                i = problem.index[cid]
                trial.set_user_attr("id", cid)
                trial.set_user_attr("route", str(problem.costs[i].route))
                for key, value in problem.constraints[i]:
                    trial.set_constraint(key, value)
                memory.tell(trial, [float(v) for v in problem.values[i]])
                bar.update()
        seconds = time.perf_counter() - start
        new = complete_trials(memory)[len(stored):]
        with mutex, warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fresh = existing_meta(storage.storage, study_name) is None
            study = optuna.create_study(storage=storage.storage, study_name=study_name,
                                        directions=problem.directions, load_if_exists=True)
            if study.metric_names != list(problem.objectives):
                set_metric_names(study, problem.objectives)
            if fresh:
                study.set_user_attr(META_KEY, meta)
            now = len(complete_trials(study))
            if now != len(stored):  # another worker recorded trials meanwhile: top up to n_trials
                notes.append(f"study {study_name!r} gained {now - len(stored)} trial(s) from another "
                             "worker while this one searched in memory")
            added = new[: max(0, n_trials - now)]
            _add_trials(study, added, storage, notes)
            # alone on the study, what it now holds is what was loaded and searched: not read back
            trials = stored + added if now == len(stored) else sorted(complete_trials(study), key=lambda t: t.number)
    return trials, seconds, notes


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search; the message says what the storage kept and how to resume."""


@contextlib.contextmanager
def _interrupted(storage: OpenedStorage, study_name: str, recorded: bool):
    """Turn Ctrl-C into :class:`SearchInterrupted`, also where a sampler's C code reported it as
    another error: ``recorded``, each trial was stored as it finished (the same command resumes
    from them); else the search ran in memory and kept none."""
    import optuna

    from .._util import sigint_watch

    try:
        with sigint_watch() as sigint:
            yield
    except SearchInterrupted:
        raise
    except (KeyboardInterrupt, Exception) as err:
        if not isinstance(err, KeyboardInterrupt) and not sigint[0]:
            raise  # a real failure, not Ctrl-C turned into another error on its way out
        if not recorded:
            why = (f"the search ran in memory, recording its trials in study {study_name!r} of "
                   f"{storage.label} only at the end: the same command starts again from what the study holds")
        elif isinstance(storage.storage, optuna.storages.InMemoryStorage):
            why = "the study was in memory: nothing was kept"
        else:
            why = (f"the trials finished so far are kept in study {study_name!r} of {storage.label}: "
                   "the same command resumes from them")
        raise SearchInterrupted(why) from err


def search_problem(problem: Problem, config: SearchConfig, progress: bool | None = None) -> SearchResult:
    """Run (or resume) the study of one :class:`Problem` and return its front (saved unless
    ``config.save`` is False); :func:`search_targets` without the loading and checking."""
    space, target = problem.space, problem.target
    sampler_spec = config.sampler
    # the default's NSGA-II on a large space (a front beyond the exact limit, or given n_trials
    # beyond LARGE_SPACE): searched in memory (see _memory_study)
    large = sampler_spec == "auto" and len(space) > LARGE_SPACE
    if isinstance(sampler_spec, str):
        sampler_spec = resolve_for(problem, check_sampler(sampler_spec), config.n_trials)
    label = sampler_label(sampler_spec)
    encoding = config.encoding
    finite = sampler_spec in ("exhaustive", "exact") or is_brute_force(sampler_spec)
    if encoding == "auto":
        encoding = "tree" if finite else default_encoding(sampler_spec, len(space))
    if finite and encoding != "tree":
        raise StitchnasError(encoding_clash(config.sampler, label, encoding))
    n_trials = config.n_trials or _default_trials(space, finite, large)
    if config.save:  # an unwritable front folder is one line before the search, not after
        from ..fileio import check_writable

        check_writable(front_path(space.name, target.name, config.out_dir), "front")
    storage = open_storage(config.storage, space, config.out_dir)
    try:
        return _search_in(problem, config, storage, sampler_spec=sampler_spec, label=label,
                          encoding=encoding, n_trials=n_trials, large=large, progress=progress)
    finally:
        close_storage(storage)  # no -wal/-shm left beside a SQLite file


def _search_in(problem: Problem, config: SearchConfig, storage: OpenedStorage, *, sampler_spec: Any,
               label: str, encoding: str, n_trials: int, large: bool,
               progress: bool | None) -> SearchResult:
    """:func:`search_problem` once the storage is open."""
    space, target = problem.space, problem.target
    study_name = config.study_name or default_study_name(problem, label, config.seed, encoding)
    if sampler_spec == "exact":
        trial_ids, front_ids, seconds, notes = _exact_study(problem, config, storage, study_name)
        distinct, n_done = trial_ids, len(trial_ids)
    else:
        if large:
            with _interrupted(storage, study_name, recorded=False):
                trials, seconds, notes = _memory_study(problem, config, storage, study_name, n_trials,
                                                       encoding, progress)
            if config.n_trials is None:  # the default beyond the exact limit
                notes = [*notes, beyond_limit_note(problem)]
        else:
            with _interrupted(storage, study_name, recorded=True):
                study, seconds, notes = run_study(problem, config, storage=storage, study_name=study_name,
                                                   n_trials=n_trials, sampler_spec=sampler_spec,
                                                   encoding=encoding, progress=progress)
            trials = sorted(complete_trials(study), key=lambda t: t.number)
        bad = [t.number for t in trials if t.user_attrs.get("id") not in problem.index]
        if bad:
            raise StitchnasError(f"study {study_name!r} holds trials (e.g. #{bad[0]}) of stitches "
                                 "this space does not have: give another --study-name")
        trial_ids = [int(t.user_attrs["id"]) for t in trials]
        distinct, front_ids = _front_from_study(problem, trial_ids)
        n_done = len(trials)
    all_points = tuple(problem.point(cid) for cid in distinct)
    acc = problem.acc
    front = Front(
        space=space.name, space_hash=space.content_hash, target=target.name,
        target_budgets=target.budgets.to_json(), objectives=problem.objectives,
        predictor=acc.predictor, measurements=acc.measurements, measured_ids=acc.measured_ids,
        measurements_sha256=acc.measurements_sha256,
        latency_error_pct=problem.latency_error_pct, latency_machine=problem.latency_machine,
        study={"storage": storage.label, "study_name": study_name, "n_trials": n_done,
               "trials_requested": n_trials, "sampler": label, "seed": config.seed,
               "encoding": encoding, "distinct_candidates": len(distinct),
               "candidates": len(space), "seconds": round(seconds, 3)},
        members=tuple(problem.point(cid) for cid in front_ids),
    )
    path, noise = None, front_accuracy_note(front, acc.rows)
    notes = [*notes, *([noise] if noise else [])]
    if config.save:
        doc = front_path(space.name, target.name, config.out_dir)
        replaced = _replaced_exact_note(doc, front)
        path = save_front(front, doc.parent, all_points=all_points, space=space)
        notes = [*notes, *([replaced] if replaced else [])]
    return SearchResult(target=target.name, front=front, study_name=study_name,
                        storage=storage.label, n_trials_done=n_done,
                        distinct_candidates=len(distinct), seconds=seconds, all_points=all_points,
                        path=path, trial_ids=tuple(trial_ids), notes=tuple(notes), rows=acc.rows)


def _replaced_exact_note(doc: Any, front: Front) -> str | None:
    """A note when saving ``front`` (from some of the candidates) over ``doc``, a front.json that
    came from every candidate of the same space and target: a sampler comparison must not leave
    ``query`` and ``export`` answering from the worse front without a word."""
    import json

    if front.coverage is None:
        return None
    try:
        old = Front.from_json(json.loads(doc.read_text()), doc)
    except (OSError, ValueError, StitchnasError):
        return None  # no earlier front, or one that does not load: nothing to compare
    total = front.study["candidates"]
    if (old.coverage is not None or old.space_hash != front.space_hash or old.target != front.target
            or old.study.get("candidates") != total):
        return None
    return (f"{doc} held a front from all {total} candidates (sampler {old.study.get('sampler')}); "
            f"it is replaced by this one from {front.study['distinct_candidates']}: search again "
            "without --sampler (exact where the space allows) to restore it, or give --out-dir to "
            "keep both")


# ---------------------------------------------------------------------------------------------
# public entry points
# ---------------------------------------------------------------------------------------------
def search(space: "SearchSpace | str", target: "Target | str" = DEFAULT_TARGET,
           config: SearchConfig | None = None, progress: bool | None = None, **options: Any) -> SearchResult:
    """Search one target: the Pareto front of the space over ``config.objectives``, saved to
    ``<results>/<space>/<target>/front.json`` (+ CSV, PNG). ``options``: :class:`SearchConfig`
    fields as keywords (``predictor=Ridge()``, ``measurements="m.jsonl"``), over ``config``'s."""
    return search_targets(space, [target], config, progress=progress, **options)[0]


def _with_options(config: SearchConfig | None, options: dict[str, Any]) -> SearchConfig:
    config = config or SearchConfig()
    fields = [f.name for f in dataclasses.fields(SearchConfig)]
    unknown = sorted(set(options) - set(fields))
    if unknown:
        from .._util import did_you_mean

        raise StitchnasError(f"unknown search option {unknown[0]!r}{did_you_mean(unknown[0], fields)} "
                             f"SearchConfig takes {', '.join(fields)}")
    return dataclasses.replace(config, **options) if options else config


def check_distinct_targets(targets: Sequence["Target"]) -> None:
    """Refuse a target named twice (each target gets one front, in one folder), before any work."""
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise StitchnasError(f"target {min(n for n in names if names.count(n) > 1)!r} is given "
                             "twice: each target gets one front; name it once")


def search_targets(space: "SearchSpace | str", targets: Sequence["Target | str"],
                   config: SearchConfig | None = None, progress: bool | None = None,
                   on_result: Callable[[SearchResult], None] | None = None,
                   **options: Any) -> list[SearchResult]:
    """Search each target in turn (accuracies are computed once; every target's objectives and
    costs are checked before the first study starts). With several targets an explicit
    ``study_name`` gets ``-<target>`` appended. ``options``: :class:`SearchConfig` fields."""
    from ..costs import load_target
    from ..space import load_space

    space = load_space(space)
    config = _with_options(config, options)
    tgts = [load_target(t) for t in targets]
    if not tgts:
        raise StitchnasError("search needs at least one --target (stitchnas targets lists them)")
    check_distinct_targets(tgts)
    objectives = [resolve_objectives(config, t) for t in tgts]
    if isinstance(config.sampler, str):
        check_sampler(config.sampler)
    acc = accuracy_table(space, config.measurements, config.predictor, proxies=config.proxies)
    problems = [build_problem(space, t, objs, acc) for t, objs in zip(tgts, objectives)]
    results = []
    for problem in problems:
        cfg = config
        if config.study_name and len(problems) > 1:
            cfg = dataclasses.replace(config, study_name=f"{config.study_name}-{problem.target.name}")
        result = search_problem(problem, cfg, progress=progress)
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results
