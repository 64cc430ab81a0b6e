"""The exact search: every candidate evaluated, the front kept, recorded through Optuna.

Objectives are table lookups computed before any study starts (:class:`Problem`'s values), so
evaluating every candidate is one vectorised dominance sweep (:func:`exact_front`): the front is
every feasible candidate no other dominates, ties kept. Its members become finished Optuna trials
(``FrozenTrial``s as ``create_trial`` makes them, parameters in the exact tree encoding), and the storage receives, under the
study mutex, a study holding them and the metadata (with ``evaluated``: every candidate), so the
same command finds it again and changed inputs get a new study. (Until 2026-12-05 every candidate
first became a trial of an in-memory study, :func:`evaluate_all`, which is kept: 3 s of Optuna
bookkeeping at 2 x 10^4 candidates for the same front.) This is the default (``sampler="auto"``)
when no trial budget is given and the space, or else its front (one sweep tells), has at most
:data:`EXACT_LIMIT` members; a larger front, or an explicit ``n_trials``, uses NSGA-II (beyond the
limit in the ``path`` encoding, :func:`large_trials` trials by default, in memory: see
:func:`stitchnas.optimize._loop._memory_study`).
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any

from ._encoding import make_encoding
from ._problem import Problem

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["EXACT_LIMIT", "LARGE_SPACE", "LARGE_TRIALS", "default_encoding", "large_trials", "resolve_sampler",
           "resolve_for", "encoding_clash", "beyond_limit_note", "evaluate_all", "exact_front"]

#: The largest front the default search returns exactly: it evaluates every candidate (a sweep,
#: 1.9 s at 10^5 candidates) and records each member as a trial, so a front this size took 8.5 s
#: end to end (20,705 candidates, all on the front: priors alone). Every space up to this many
#: candidates is searched exactly; a larger one too while its front is no larger (docs/search.md).
EXACT_LIMIT = 20_000
#: Beyond this many candidates every sampler defaults to the ``path`` encoding, and ``auto`` runs
#: its NSGA-II in memory, recorded at the end (measured: docs/search.md).
LARGE_SPACE = 10_000
#: Beyond the limit the default runs this many NSGA-II trials: 5% of a 10^5-candidate space, less
#: beyond, a quarter of one just over the limit (measured: docs/search.md).
LARGE_TRIALS = 5_000


def large_trials(candidates: int) -> int:
    """The default trial budget beyond :data:`EXACT_LIMIT`: :data:`LARGE_TRIALS`, or every
    candidate's worth where the space is smaller (chosen on generated spaces of 2 x 10^4 to 10^5
    candidates, judged on others: docs/search.md)."""
    return int(max(1, min(LARGE_TRIALS, candidates)))


def default_encoding(sampler: Any, candidates: int) -> str:
    """What ``encoding="auto"`` means: ``tree`` for the finite modes (``exact``,
    ``exhaustive``), ``path`` beyond :data:`LARGE_SPACE` candidates, else ``relative``."""
    if sampler in ("exhaustive", "exact"):
        return "tree"
    return "path" if candidates > LARGE_SPACE else "relative"


def resolve_sampler(spec: Any, candidates: int, n_trials: int | None, front: int | None = None) -> Any:
    """What ``auto`` means for this search: with no trial budget, ``exact`` while the space
    (``candidates``) or its exact front (``front`` members, where known) is at most
    :data:`EXACT_LIMIT`, else ``nsga2``; any other spec is kept."""
    if spec != "auto":
        return spec
    small = candidates <= EXACT_LIMIT or (front is not None and front <= EXACT_LIMIT)
    return "exact" if n_trials is None and small else "nsga2"


def resolve_for(problem: Problem, spec: Any, n_trials: int | None) -> Any:
    """:func:`resolve_sampler` for ``problem``: beyond :data:`EXACT_LIMIT` candidates the default
    first sweeps every candidate (:meth:`Problem.full_front`, kept for the exact search) and
    searches exactly if the front is small enough to record."""
    n = len(problem.costs)
    front = len(problem.full_front()) if spec == "auto" and n_trials is None and n > EXACT_LIMIT else None
    return resolve_sampler(spec, n, n_trials, front)


def encoding_clash(given: Any, sampler: str, encoding: str) -> str:
    """The error for a finite ``sampler`` (``exact``, ``exhaustive``) asked to search in another
    ``encoding`` than the tree; ``given`` is the sampler as asked (``auto`` chose ``exact``)."""
    if given == "auto":
        return (f"the default search here is exact (every candidate evaluated), which needs the tree "
                f"encoding: drop --encoding {encoding}, or give --sampler nsga2 (or --trials N) to "
                "search in it")
    what = f"Optuna's {sampler}" if sampler.endswith("Sampler") else f"the {sampler} sampler"
    return f"{what} needs the tree encoding (finite choices): drop --encoding or use --encoding tree"


def beyond_limit_note(problem: Problem) -> str:
    """The default search's note when the front was too large to record exactly."""
    return (f"the exact front has {len(problem.full_front())} members, more than the {EXACT_LIMIT} the "
            f"default records: the search was NSGA-II over some of the {len(problem.costs)} candidates; "
            "--sampler exact returns every member (each is a trial to record and a row to write: "
            "about 30 s per 10^5)")


def exact_front(problem: Problem) -> tuple[list[int], list, float]:
    """The exact search's evaluation: every candidate's objectives at once (one vectorised
    dominance sweep over the table of values), then the front's members as finished Optuna trials,
    as :func:`evaluate_all` makes every candidate's: ``(front ids, their trials, seconds)``. The
    same front as :func:`evaluate_all`, without one in-memory trial per candidate (3.1 s of
    bookkeeping at 20,705 candidates, against 0.02 s for the sweep)."""
    front = problem.full_front()  # the sweep, made here or already by the default's choice
    start = time.perf_counter()
    make = _trial_maker(problem)
    trials = [make(problem.index[cid]) for cid in front]
    return front, trials, problem.full_front_s + time.perf_counter() - start


def evaluate_all(problem: Problem) -> tuple["optuna.Study", list[int], float]:
    """Every candidate as a completed trial of an in-memory study: ``(study, front ids, seconds)``;
    the front in candidate order, infeasible candidates never on it. (The search itself uses
    :func:`exact_front`, which records the same front without the other candidates' trials.)"""
    import optuna

    front = problem.full_front()  # made here or kept from before: its time counts either way
    start = time.perf_counter()
    make = _trial_maker(problem)
    trials = [make(i) for i in range(len(problem.costs))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(directions=problem.directions)
        study.set_metric_names(list(problem.objectives))
    study.add_trials(trials)
    return study, front, problem.full_front_s + time.perf_counter() - start


def _trial_maker(problem: Problem):
    """Candidate index -> a completed trial: its tree-encoded parameters, objective values and
    ``id``/``route``/``feasible`` attributes.

    The trial is what ``optuna.trial.create_trial`` returns for the same arguments (tested), built
    with ``FrozenTrial``'s constructor: ``create_trial`` compares each distribution with itself
    choice by choice (Optuna's conversion of deprecated distributions), 65 of 68 s for a front of
    10^5, where the encoder's parameters are valid by construction."""
    import datetime

    import optuna

    encoder = make_encoding(problem.space, "tree")
    dists = encoder.distributions()
    complete = optuna.trial.TrialState.COMPLETE

    def make(i: int) -> "optuna.trial.FrozenTrial":
        cost = problem.costs[i]
        params = encoder.params(cost.id)
        now = datetime.datetime.now()
        return optuna.trial.FrozenTrial(
            number=-1, trial_id=-1, state=complete, value=None, values=[float(v) for v in problem.values[i]],
            datetime_start=now, datetime_complete=now, params=params,
            distributions={k: dists[k] for k in params},
            user_attrs={"id": cost.id, "route": str(cost.route), "feasible": bool(problem.feasible[i])},
            system_attrs={}, intermediate_values={})

    return make
