"""How to search (:class:`SearchConfig`), what a search returns (:class:`SearchResult`), and the
objectives a search may take."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import StitchnasError
from ..fronts import Front, FrontPoint
from ..objectives import OBJECTIVES
from .._util import close_matches
from ._samplers import check_sampler

if TYPE_CHECKING:  # pragma: no cover
    from ..costs import Target

__all__ = ["ENCODINGS", "MAX_DEFAULT_TRIALS", "SearchConfig", "SearchResult", "check_objectives",
           "default_objectives"]

ENCODINGS = ("auto", "relative", "tree", "path")
MAX_DEFAULT_TRIALS = 300


@dataclass(frozen=True)
class SearchConfig:
    """How to search.

    ``objectives``: ``acc1`` and at least one cost of ``flops``, ``params``, ``latency_ms``,
    ``memory_mb`` (None: ``acc1,latency_ms`` on latency targets, ``acc1,flops`` / ``acc1,params``
    on flops / params targets). ``sampler``: ``auto`` (default: ``exact``, every candidate
    evaluated, when ``n_trials`` is None and the space or its exact front has at most 2 x 10^4
    members, else ``nsga2``;
    NSGA-II beyond 10^4 candidates searched in memory and recorded in the storage at the end),
    ``exact``, ``nsga2``, ``tpe``, ``gp``, ``random``, ``exhaustive`` (Optuna's brute force, trial
    by trial; or any name in :data:`SAMPLERS`), a ``module:Class`` path, or an Optuna sampler
    instance. ``n_trials``: completed trials the study should hold (None: every candidate for
    ``exact`` and ``exhaustive``; ``auto`` beyond the exact limit: 5,000; else
    ``min(3 x candidates, 300)``). ``storage``: None
    (``sqlite:///RESULTS/<space>/search.db``), an Optuna storage URL, a path ending in ``.db``
    (SQLite) or ``.log``/``.journal`` (journal file), ``"memory"``, or an Optuna storage object.
    ``study_name``: None derives one from the space, target, objectives, sampler, seed and a key of
    the inputs (measurements, predictor, costs), so the same command resumes its study and changed
    inputs start a new one. ``predictor``: name, dotted path, class or estimator (see
    :mod:`stitchnas.predict`). ``measurements``: None reads ``RESULTS/<space>/measurements.jsonl``
    (else the last run's).
    ``proxies``: a file of every candidate's proxy scores (``stitchnas proxy``) that the
    predictor reads; None: with ``measurements`` None, those beside the measurements read
    (``RESULTS/<space>/proxies.jsonl`` when of the measured checkpoint, or the run's), else none.
    ``out_dir``: the results root fronts go under (``<out_dir>/<space>/<target>/front.json``;
    None: ``$STITCHNAS_RESULTS`` or ``results``). ``encoding``: ``auto`` (``tree`` for exhaustive,
    ``path`` beyond 10^4 candidates, ``relative`` otherwise), ``relative``, ``path`` or ``tree``. ``stale_after_s``: a RUNNING trial of another worker that shows no
    sign of life for this long is taken for a dead worker's, failed and queued again (see
    :mod:`stitchnas.storage`).
    """

    objectives: tuple[str, ...] | None = None
    sampler: Any = "auto"
    n_trials: int | None = None
    seed: int = 0
    storage: Any = None
    study_name: str | None = None
    predictor: Any = "auto"
    measurements: str | os.PathLike | None = None
    proxies: str | os.PathLike | None = None
    out_dir: str | os.PathLike | None = None
    encoding: str = "auto"
    stale_after_s: float = 60.0
    save: bool = True

    def __post_init__(self) -> None:
        if self.objectives is not None:
            objs = self.objectives
            if isinstance(objs, str):
                objs = tuple(o.strip() for o in objs.split(",") if o.strip())
            object.__setattr__(self, "objectives", tuple(objs))
            check_objectives(self.objectives)
        if self.n_trials is not None and (isinstance(self.n_trials, bool) or not isinstance(self.n_trials, int)
                                          or self.n_trials < 1):
            raise StitchnasError(f"n_trials must be a positive integer, got {self.n_trials!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 32:
            raise StitchnasError(f"seed must be an integer 0..4294967295 (what NumPy and Optuna's samplers "
                                 f"take), got {self.seed!r}")
        if (isinstance(self.stale_after_s, bool) or not isinstance(self.stale_after_s, (int, float))
                or not math.isfinite(self.stale_after_s) or self.stale_after_s <= 0):
            raise StitchnasError(f"stale_after_s must be a positive number of seconds, got "
                                 f"{self.stale_after_s!r}")
        if self.encoding not in ENCODINGS:
            raise StitchnasError(f"unknown encoding {self.encoding!r}: choose {', '.join(ENCODINGS)}")
        if isinstance(self.sampler, str):
            check_sampler(self.sampler)  # fail early on unknown names


@dataclass(frozen=True)
class SearchResult:
    """One target's search: the front (saved at ``path`` unless ``save=False``), every distinct
    candidate evaluated (``all_points``), the study, and ``trial_ids``: the candidate id of each
    completed trial in trial order. ``seconds`` is the study's optimisation time; ``rows`` the
    measured rows the accuracies came from."""

    target: str
    front: Front
    study_name: str
    storage: str
    n_trials_done: int
    distinct_candidates: int
    seconds: float
    all_points: tuple[FrontPoint, ...] = field(repr=False)
    path: Path | None = None
    trial_ids: tuple[int, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()
    rows: tuple = field(default=(), repr=False, compare=False)


def check_objectives(objectives: Sequence[str]) -> tuple[str, ...]:
    """``objectives`` as a tuple, if they are known, distinct, and ``acc1`` plus a cost."""
    objs = tuple(objectives)
    unknown = [o for o in objs if o not in OBJECTIVES]
    if unknown:
        close = close_matches(unknown[0], OBJECTIVES, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise StitchnasError(f"unknown objective {unknown[0]!r}{hint}: choose from "
                             f"{', '.join(OBJECTIVES)}")
    if len(set(objs)) != len(objs):
        raise StitchnasError(f"objectives {','.join(objs)} name one objective twice")
    if "acc1" not in objs or len(objs) < 2:
        costs = ", ".join(o for o in OBJECTIVES if o != "acc1")
        raise StitchnasError(f"objectives {','.join(objs) or '(none)'} need acc1 and at least one "
                             f"cost ({costs}), e.g. acc1,latency_ms")
    return objs


def default_objectives(target: "Target") -> tuple[str, ...]:
    """``acc1`` against the target's own cost: latency, FLOPs or parameters."""
    return ("acc1", {"latency": "latency_ms", "flops": "flops", "params": "params"}[target.cost_model])


def resolve_objectives(config: SearchConfig, target: "Target") -> tuple[str, ...]:
    """The config's objectives (default: the target's own), checked against the target."""
    objs = check_objectives(config.objectives) if config.objectives else default_objectives(target)
    if "latency_ms" in objs and not target.measurable:
        raise StitchnasError(
            f"objective latency_ms needs a latency target, but target {target.name!r} counts "
            f"{target.cost_model} (no device): use --objectives acc1,{target.cost_model} or a latency "
            "target such as cpu (profile it with `stitchnas profile-latency SPACE --target cpu`)")
    return objs
