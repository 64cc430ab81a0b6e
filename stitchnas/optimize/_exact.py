"""The exact search: every candidate evaluated through an in-memory Optuna study, the front kept.

Objectives are table lookups computed before any study starts, so evaluating every candidate
costs less than a sampler's bookkeeping. Each candidate becomes one completed trial of an
in-memory study (Optuna's ``create_trial`` + ``add_trials``, its parameters in the exact tree
encoding); the front is every feasible candidate no other dominates, ties kept. The storage then
receives, under the study mutex, a study holding the front's trials and the metadata (with
``evaluated``: every candidate), so the same command finds it again and changed inputs get a new
study. This is the default (``sampler="auto"``) for spaces up to :data:`EXACT_LIMIT` candidates
when no trial budget is given; larger spaces, or an explicit ``n_trials``, use NSGA-II.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any

from ._encoding import make_encoding
from ._problem import Problem

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["EXACT_LIMIT", "resolve_sampler", "evaluate_all"]

#: The largest space the default search evaluates exhaustively (measured: see docs/search.md).
EXACT_LIMIT = 10_000


def resolve_sampler(spec: Any, candidates: int, n_trials: int | None) -> Any:
    """What ``auto`` means for this search: ``exact`` for a space of at most :data:`EXACT_LIMIT`
    candidates when no trial budget is given, else ``nsga2``; any other spec is kept."""
    if spec != "auto":
        return spec
    return "exact" if n_trials is None and candidates <= EXACT_LIMIT else "nsga2"


def evaluate_all(problem: Problem) -> tuple["optuna.Study", list[int], float]:
    """Every candidate as a completed trial of an in-memory study: ``(study, front ids, seconds)``;
    the front in candidate order, infeasible candidates never on it."""
    import optuna

    start = time.perf_counter()
    encoder = make_encoding(problem.space, "tree")
    dists = encoder.distributions()
    trials = []
    for i, cost in enumerate(problem.costs):
        params = encoder.params(cost.id)
        trials.append(optuna.trial.create_trial(
            params=params, distributions={k: dists[k] for k in params},
            values=[float(v) for v in problem.values[i]],
            user_attrs={"id": cost.id, "route": str(cost.route), "feasible": bool(problem.feasible[i])}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(directions=problem.directions)
    study.add_trials(trials)
    front = problem.front([c.id for c in problem.costs])
    return study, front, time.perf_counter() - start
