"""Multi-objective search with Optuna: the Pareto front of a space on each hardware target.

The decision is the stitch itself, written as Optuna parameters so that samplers can learn its
structure: ``shape`` (the anchor sequence of the route, e.g. ``"0>1>0"``) and, for each stitch,
where it cuts (``stitch1``, ``stitch2``: relative depth 0..1 at which the route leaves an
anchor). Every trial suggests the same parameters (a fixed search space: Optuna 5's NSGA-II and
GP samplers model only the parameters every trial shares and draw conditional ones at random),
and the point maps to the nearest valid candidate of that shape. The exhaustive sampler uses an exact define-by-run tree
instead (``shape``, then each stitch's junction among those legal after the previous choice),
whose leaves are the candidates one to one.

Objectives are table lookups computed once for the whole space before the study starts:
accuracy is measured where a measurements file has the stitch, else predicted by a predictor
fitted on the measured ones; costs come from :func:`stitchnas.latency.target_costs`. Target
budgets are Optuna constraints (``Trial.set_constraint``, ``<= 0`` feasible), and infeasible
stitches never reach the front.

Studies live in an Optuna storage (a SQLite file under ``results/`` by default; any RDB URL, e.g.
PostgreSQL, or a journal file) and resume: re-running the same search continues the study,
counting only completed trials. Several workers (processes or machines) may run the same search
on one storage at once: each admits a new trial only while the study's completed plus running
trials are fewer than ``n_trials`` (decided under the study mutex of :mod:`stitchnas.distributed`),
and runs until the study holds exactly ``n_trials`` completed trials, so every worker ends with
the same trials and the same front. Trials left RUNNING by a killed worker are failed and queued
again: at start-up at once for file storages (a lock file tells that no other process works on
the study), else once a live worker has seen the trial unchanged for ``stale_after_s`` seconds.
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import importlib
import json
import math
import os
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from ..storage import (StaleWatch, StudyMutex, fail_trials, pg_lock_key, poll_interval, study_lock, tell, trials_in, worker_name)
from ..errors import StitchnasError
from ..fileio import results_dir
from ..fronts import OBJECTIVES, Front, FrontPoint, save_front
from ..storage import mask_password

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..costs import TargetCost
    from ..space import Candidate
    from ..space import SearchSpace
    from ..costs import Target

__all__ = [
    "SAMPLERS",
    "SearchConfig",
    "SearchResult",
    "AccuracyTable",
    "accuracy_table",
    "default_objectives",
    "make_sampler",
    "nondominated",
    "open_storage",
    "search",
    "search_targets",
]

#: Built-in sampler names (any ``module:Class`` or Optuna sampler instance works too).
SAMPLERS = ("nsga2", "tpe", "gp", "random", "exhaustive")
ENCODINGS = ("auto", "relative", "tree")
MAX_DEFAULT_TRIALS = 300
META_KEY = "stitchnas"
_JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


# ---------------------------------------------------------------------------------------------
# configuration and results
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchConfig:
    """How to search.

    ``objectives``: ``acc1`` and at least one cost of ``flops``, ``params``, ``latency_ms``,
    ``memory_mb`` (None: ``acc1,latency_ms`` on latency targets, ``acc1,flops`` / ``acc1,params``
    on flops / params targets). ``sampler``: ``nsga2`` (default), ``tpe``, ``gp``, ``random``,
    ``exhaustive``, a ``module:Class`` path, or an Optuna sampler instance. ``n_trials``: completed
    trials the study should hold (None: every candidate for ``exhaustive``, else
    ``min(3 x candidates, 300)``). ``storage``: None (``sqlite:///RESULTS/<space>/search.db``), an
    Optuna storage URL, a path ending in ``.db`` (SQLite) or ``.log``/``.journal`` (journal file),
    ``"memory"``, or an Optuna storage object. ``study_name``: None derives one from the space,
    target, objectives, sampler, seed and a key of the inputs (measurements, predictor, costs),
    so the same command resumes its study and changed inputs start a new one. ``predictor``:
    name, dotted path, class or estimator (see :mod:`stitchnas.predictors`). ``measurements``:
    None reads ``RESULTS/<space>/measurements.jsonl``. ``out_dir``: the results root fronts go
    under (``<out_dir>/<space>/<target>/front.json``; None: ``$STITCHNAS_RESULTS`` or
    ``results``). ``encoding``: ``auto`` (``tree`` for exhaustive, ``relative`` otherwise).
    ``stale_after_s``: a RUNNING trial of another worker that shows no sign of life for this long
    is taken for a dead worker's, failed and queued again (see :mod:`stitchnas.distributed`).
    """

    objectives: tuple[str, ...] | None = None
    sampler: Any = "nsga2"
    n_trials: int | None = None
    seed: int = 0
    storage: Any = None
    study_name: str | None = None
    predictor: Any = "auto"
    measurements: str | os.PathLike | None = None
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
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise StitchnasError(f"seed must be an integer, got {self.seed!r}")
        if (isinstance(self.stale_after_s, bool) or not isinstance(self.stale_after_s, (int, float))
                or not math.isfinite(self.stale_after_s) or self.stale_after_s <= 0):
            raise StitchnasError(f"stale_after_s must be a positive number of seconds, got "
                                 f"{self.stale_after_s!r}")
        if self.encoding not in ENCODINGS:
            raise StitchnasError(f"unknown encoding {self.encoding!r}: choose {', '.join(ENCODINGS)}")
        if isinstance(self.sampler, str):
            _sampler_name(self.sampler)  # fail early on unknown names


@dataclass(frozen=True)
class SearchResult:
    """One target's search: the front (saved at ``path`` unless ``save=False``), every distinct
    candidate evaluated (``all_points``), the study, and ``trial_ids``: the candidate id of each
    completed trial in trial order. ``seconds`` is the study's optimisation time."""

    target: str
    front: Front
    study_name: str
    storage: str
    n_trials_done: int
    distinct_candidates: int
    seconds: float
    all_points: tuple[FrontPoint, ...]
    path: Path | None = None
    trial_ids: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# objectives
# ---------------------------------------------------------------------------------------------
def check_objectives(objectives: Sequence[str]) -> tuple[str, ...]:
    objs = tuple(objectives)
    unknown = [o for o in objs if o not in OBJECTIVES]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), list(OBJECTIVES), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise StitchnasError(f"unknown objective {unknown[0]!r}{hint}: choose from "
                             f"{', '.join(OBJECTIVES)}")
    if len(set(objs)) != len(objs):
        raise StitchnasError(f"objectives {','.join(objs)} name one objective twice")
    if "acc1" not in objs or len(objs) < 2:
        raise StitchnasError(f"objectives {','.join(objs) or '(none)'} need acc1 and at least one "
                             "cost (flops, params, latency_ms, memory_mb), e.g. acc1,latency_ms")
    return objs


def default_objectives(target: "Target") -> tuple[str, ...]:
    """``acc1`` against the target's own cost: latency, FLOPs or parameters."""
    return ("acc1", {"latency": "latency_ms", "flops": "flops", "params": "params"}[target.cost_model])


def _resolve_objectives(config: SearchConfig, target: "Target") -> tuple[str, ...]:
    objs = check_objectives(config.objectives) if config.objectives else default_objectives(target)
    if "latency_ms" in objs and not target.measurable:
        raise StitchnasError(
            f"objective latency_ms needs a latency target, but target {target.name!r} counts "
            f"{target.cost_model} (no device): use --objectives acc1,{target.cost_model} or a latency "
            "target such as cpu (profile it with `stitchnas profile-latency SPACE --target cpu`)")
    return objs


# ---------------------------------------------------------------------------------------------
# accuracy: measured where measured, else predicted
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccuracyTable:
    """Top-1 of every candidate (id order of ``space.candidates``): measured or predicted."""

    ids: tuple[int, ...]
    acc1: np.ndarray = field(repr=False)
    std: tuple[float | None, ...] = field(repr=False)
    source: tuple[str, ...] = field(repr=False)
    predictor: str | None
    measurements: str | None
    measured_ids: int
    key: str

    def index(self) -> dict[int, int]:
        return {cid: i for i, cid in enumerate(self.ids)}


def _predictor_label(spec: Any) -> str:
    if spec is None:
        return "auto"
    if isinstance(spec, str):
        return spec
    if isinstance(spec, type):
        return f"{spec.__module__}:{spec.__qualname__}"
    return type(spec).__name__


def _predictor_key(spec: Any) -> str:
    if spec is None or isinstance(spec, (str, type)):
        return _predictor_label(spec)
    try:
        return f"{type(spec).__name__}{sorted(spec.get_params().items())!r}"
    except Exception:  # noqa: BLE001 - any estimator-like object
        return repr(spec)


def _default_measurements(space: "SearchSpace") -> Path:
    return results_dir() / space.name / "measurements.jsonl"


def accuracy_table(space: "SearchSpace", measurements: Any = None, predictor: Any = "auto", *,
                   random_state: int = 0) -> AccuracyTable:
    """Every candidate's top-1: measured where ``measurements`` (a path, or Measurement rows)
    has it, else the ``predictor``'s mean (fitted on the measured rows) with its std."""
    from ..predict import make_stitches
    from ..measure import read_measurements
    from ..predict import create_predictor, predict_with_std

    path: str | None = None
    if measurements is None or isinstance(measurements, (str, os.PathLike)):
        p = Path(measurements) if measurements is not None else _default_measurements(space)
        if measurements is None and not p.is_file():
            raise StitchnasError(
                f"no measurements for space {space.name!r} at {p}: the search learns accuracy from "
                f"measured stitches; measure some with `stitchnas evaluate {space.name} --sample 16` "
                "(or pass --measurements FILE)")
        rows = read_measurements(p, space)
        path = str(p)
    else:
        rows = sorted(measurements, key=lambda m: m.id)
    if not rows:
        raise StitchnasError(f"measurements {path or ''} hold no rows for space {space.name!r}: "
                             "measure some stitches first (stitchnas evaluate)")
    cands = space.candidates
    ids = tuple(c.id for c in cands)
    measured = {m.id: float(m.acc1) for m in rows}
    acc = np.empty(len(ids))
    std: list[float | None] = [None] * len(ids)
    source = ["measured"] * len(ids)
    label: str | None = None
    missing = [i for i, cid in enumerate(ids) if cid not in measured]
    if missing:
        if len(rows) < 2:
            raise StitchnasError(
                f"only {len(rows)} measured stitch(es) in {path or 'the measurements'}: a predictor "
                f"needs at least 2 to fill in the other {len(missing)}; measure more "
                f"(`stitchnas evaluate {space.name} --sample 16`)")
        stitches = make_stitches(space, rows)
        by_id = {s.id: s for s in stitches}
        train = [by_id[m.id] for m in rows]
        y = np.array([m.acc1 for m in rows], dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's convergence chatter
            try:
                model = create_predictor(predictor, random_state=random_state).fit(train, y)
                mean, sd = predict_with_std(model, [stitches[i] for i in missing])
            except StitchnasError:
                raise
            except Exception as err:  # noqa: BLE001 - a plug-in predictor may raise anything
                raise StitchnasError(
                    f"predictor {_predictor_label(predictor)!r} failed on {len(rows)} measured "
                    f"stitches: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                ) from err
        label = _predictor_label(predictor)
        chosen = getattr(model, "chosen_", None)
        if isinstance(chosen, str):
            label = f"{label} ({chosen})"
        for k, i in enumerate(missing):
            if not math.isfinite(float(mean[k])):
                raise StitchnasError(f"predictor {label!r} predicted {mean[k]} for id {ids[i]}: "
                                     "choose another predictor")
            acc[i] = float(mean[k])
            std[i] = None if sd is None or not math.isfinite(float(sd[k])) else max(float(sd[k]), 0.0)
            source[i] = "predicted"
    for i, cid in enumerate(ids):
        if cid in measured:
            acc[i] = measured[cid]
    key = _hash({"measured": sorted(measured.items()),
                 "predictor": _predictor_key(predictor) if missing else None,
                 "random_state": random_state if missing else None})
    return AccuracyTable(ids=ids, acc1=acc, std=tuple(std), source=tuple(source), predictor=label,
                         measurements=path, measured_ids=len(rows), key=key)


def _hash(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:10]


# ---------------------------------------------------------------------------------------------
# the problem: objective values and constraints of every candidate on one target
# ---------------------------------------------------------------------------------------------
@dataclass
class _Problem:
    space: "SearchSpace"
    target: "Target"
    objectives: tuple[str, ...]
    acc: AccuracyTable
    costs: list["TargetCost"]
    values: np.ndarray  # n x k, in the objectives' own directions
    feasible: np.ndarray
    constraints: list[list[tuple[str, float]]]
    key: str

    def __post_init__(self) -> None:
        self.index = {c.id: i for i, c in enumerate(self.costs)}
        self.candidates = {c.id: c for c in self.space.candidates}

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o] for o in self.objectives]

    def point(self, cid: int) -> FrontPoint:
        i = self.index[cid]
        c = self.costs[i]
        return FrontPoint(id=cid, route=c.route, acc1=float(self.acc.acc1[i]),
                          acc1_source=self.acc.source[i], acc1_std=self.acc.std[i], flops=c.flops,
                          params=c.params, latency_ms=c.latency_ms, memory_mb=c.memory_mb,
                          is_anchor=c.route.num_stitches == 0)


_BUDGET_COST = {"max_latency_ms": "latency_ms", "max_memory_mb": "memory_mb", "max_flops": "flops",
                "max_params": "params"}
_UNIT = {"latency_ms": "ms", "memory_mb": "MB", "flops": "flops", "params": "params"}


def _cost_value(c: "TargetCost", objective: str) -> float | None:
    v = getattr(c, objective)
    return None if v is None else float(v)


def _build_problem(space: "SearchSpace", target: "Target", objectives: tuple[str, ...],
                   acc: AccuracyTable, *, memory: bool = True) -> _Problem:
    from ..costs import target_costs

    budgets = target.budgets.active
    need_memory = memory or "memory_mb" in objectives or "max_memory_mb" in budgets
    costs = target_costs(space, target, memory=need_memory)
    if tuple(c.id for c in costs) != acc.ids:
        raise StitchnasError("internal: costs and accuracies list different candidates")
    values = np.empty((len(costs), len(objectives)))
    for j, o in enumerate(objectives):
        for i, c in enumerate(costs):
            v = float(acc.acc1[i]) if o == "acc1" else _cost_value(c, o)
            if v is None:
                raise StitchnasError(f"target {target.name!r} gives no {o} for stitch {c.id}: "
                                     f"choose other objectives")
            values[i, j] = v
    constraints: list[list[tuple[str, float]]] = []
    for c in costs:
        row = []
        for key, limit in budgets.items():
            v = _cost_value(c, _BUDGET_COST[key])
            if v is not None:
                row.append((key, (v - float(limit)) / float(limit)))
        constraints.append(row)
    feasible = np.array([c.feasible for c in costs], dtype=bool)
    if not feasible.any():
        raise StitchnasError(_impossible(space, target, costs))
    key = _hash({"acc": acc.key, "target": target.to_json(), "objectives": list(objectives),
                 "costs": [[c.id] + [None if _cost_value(c, o) is None else float(f"{_cost_value(c, o):.6g}")
                                     for o in ("flops", "params", "latency_ms", "memory_mb")]
                           for c in costs]})
    return _Problem(space=space, target=target, objectives=objectives, acc=acc, costs=costs,
                    values=values, feasible=feasible, constraints=constraints, key=key)


def _fmt(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:.4g}"


def _impossible(space: "SearchSpace", target: "Target", costs: Sequence["TargetCost"]) -> str:
    budgets = target.budgets.active
    parts, alone = [], []
    for key, limit in budgets.items():
        cost = _BUDGET_COST[key]
        have = [c for c in costs if _cost_value(c, cost) is not None]
        if not have:
            continue
        best = min(have, key=lambda c: (_cost_value(c, cost), c.id))
        v = _cost_value(best, cost)
        text = f"{key}={_fmt(limit)}: the cheapest stitch needs {_fmt(v)} {_UNIT[cost]} (id {best.id})"
        (alone if v <= limit else parts).append(text)
    head = f"no stitch of {space.name} fits the budgets of target {target.name!r}"
    if parts:
        return f"{head}: {'; '.join(parts)}; raise the budget or choose another target"
    return (f"{head} together: each alone is met ({'; '.join(alone)}), but no stitch meets all "
            "of them; relax one")


def nondominated(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Mask of the rows no other row dominates (any number of objectives; ``directions`` are
    ``maximize``/``minimize``). Domination is strict: equal rows both stay."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] != len(directions):
        raise ValueError("values must be n x len(directions)")
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    m = v * sign  # all minimised
    n = len(m)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        le = np.all(m <= m[i], axis=1)
        lt = np.any(m < m[i], axis=1)
        if np.any(le & lt):
            mask[i] = False
    return mask


# ---------------------------------------------------------------------------------------------
# encodings: Optuna parameters <-> candidates
# ---------------------------------------------------------------------------------------------
def _shape(cand: "Candidate") -> str:
    return ">".join(str(a) for a in cand.route.anchors)


class _RelativeEncoding:
    """``shape`` + one float per stitch slot (relative depth of the cut); nearest candidate."""

    name = "relative"

    def __init__(self, space: "SearchSpace") -> None:
        depths = space.depths
        self.slots = max((c.route.num_stitches for c in space.candidates), default=0)
        groups: dict[str, list[tuple[int, tuple[float, ...], tuple[float, ...]]]] = {}
        for c in space.candidates:
            cuts = tuple(j.src_end / depths[j.src] for j in c.route.junctions)
            resumes = tuple(j.dst_start / depths[j.dst] for j in c.route.junctions)
            groups.setdefault(_shape(c), []).append((c.id, cuts, resumes))
        # a second float per slot only where cuts alone do not tell candidates apart (window > 1)
        self.resume = any(len({g[1] for g in grp}) < len(grp) for grp in groups.values())
        self.shapes = sorted(groups, key=lambda s: (s.count(">"), s))
        self._ids = {s: np.array([g[0] for g in grp]) for s, grp in groups.items()}
        self._pos = {s: np.array([g[1] + (g[2] if self.resume else ()) for g in grp], dtype=float)
                     for s, grp in groups.items()}
        self._of = {g[0]: (s, g[1], g[2]) for s, grp in groups.items() for g in grp}

    def suggest(self, trial: "optuna.Trial") -> int:
        shape = trial.suggest_categorical("shape", self.shapes)
        cuts = [trial.suggest_float(f"stitch{k}", 0.0, 1.0) for k in range(1, self.slots + 1)]
        resumes = ([trial.suggest_float(f"resume{k}", 0.0, 1.0) for k in range(1, self.slots + 1)]
                   if self.resume else [])
        return self.nearest(shape, cuts, resumes)

    def nearest(self, shape: str, cuts: Sequence[float], resumes: Sequence[float] = ()) -> int:
        n = shape.count(">")
        ids, pos = self._ids[shape], self._pos[shape]
        if n == 0:
            return int(ids[0])
        x = list(cuts[:n]) + (list(resumes[:n]) if self.resume else [])
        d = np.sum((pos - np.asarray(x, dtype=float)) ** 2, axis=1)
        return int(ids[int(np.argmin(d))])  # ties: the first, ids ascending

    def params(self, cid: int) -> dict[str, Any]:
        shape, cuts, resumes = self._of[cid]
        out: dict[str, Any] = {"shape": shape}
        for k in range(1, self.slots + 1):
            out[f"stitch{k}"] = float(cuts[k - 1]) if k <= len(cuts) else 0.0
            if self.resume:
                out[f"resume{k}"] = float(resumes[k - 1]) if k <= len(resumes) else 0.0
        return out


class _TreeEncoding:
    """Exact define-by-run tree: ``shape``, then each junction (``src_end>dst_start``) among
    those legal after the previous ones; leaves are the candidates one to one."""

    name = "tree"

    def __init__(self, space: "SearchSpace") -> None:
        self.tree: dict[str, Any] = {}
        self._params: dict[int, dict[str, Any]] = {}
        for c in space.candidates:
            shape = _shape(c)
            junctions = [f"{j.src_end}>{j.dst_start}" for j in c.route.junctions]
            params: dict[str, Any] = {"shape": shape}
            if not junctions:
                self.tree[shape] = c.id
                self._params[c.id] = params
                continue
            node = self.tree.setdefault(shape, {})
            name = shape
            for k, label in enumerate(junctions, 1):
                params[f"{name}|j{k}"] = label
                if k == len(junctions):
                    node[label] = c.id
                else:
                    node = node.setdefault(label, {})
                    name = f"{name}|{label}"
            self._params[c.id] = params
        self.shapes = sorted(self.tree, key=lambda s: (s.count(">"), s))

    @staticmethod
    def _order(label: str) -> tuple[int, ...]:
        return tuple(int(v) for v in label.split(">"))

    def suggest(self, trial: "optuna.Trial") -> int:
        shape = trial.suggest_categorical("shape", self.shapes)
        node, name, k = self.tree[shape], shape, 1
        while isinstance(node, dict):
            label = trial.suggest_categorical(f"{name}|j{k}", sorted(node, key=self._order))
            node, name, k = node[label], f"{name}|{label}", k + 1
        return int(node)

    def params(self, cid: int) -> dict[str, Any]:
        return dict(self._params[cid])


def _encoding(space: "SearchSpace", name: str):
    return _TreeEncoding(space) if name == "tree" else _RelativeEncoding(space)


# ---------------------------------------------------------------------------------------------
# samplers
# ---------------------------------------------------------------------------------------------
def _sampler_name(spec: str) -> str:
    if spec in SAMPLERS or ":" in spec:
        return spec
    close = difflib.get_close_matches(spec, SAMPLERS, n=1, cutoff=0.4)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise StitchnasError(f"unknown sampler {spec!r}{hint}: choose {', '.join(SAMPLERS)}, or give "
                         "an Optuna sampler class as module:Class (e.g. optuna.samplers:QMCSampler)")


def _population(n_trials: int) -> int:
    """NSGA-II's population: at least five generations in the trial budget, at most Optuna's
    default of 50, at least 10."""
    return int(min(50, max(10, n_trials // 5)))


def _exhaustive_sampler_class():
    from optuna.samplers import BruteForceSampler
    from optuna.trial import TrialState

    class ExhaustiveSampler(BruteForceSampler):
        """Optuna's BruteForceSampler, blind to failed trials: Optuna 5 counts a failed trial as
        visited, and one that failed part-way through its suggestions (a killed or interrupted
        search) makes it raise "param_name mismatch" on the next run."""

        @staticmethod
        def _populate_tree(tree, trials, params):  # noqa: ANN001 - Optuna's private signature
            # RUNNING trials without a candidate id stopped half-way through their suggestions
            # (a worker killed while sampling): the same, until they are failed as stale
            kept = [t for t in trials if t.state != TrialState.FAIL
                    and not (t.state == TrialState.RUNNING and "id" not in t.user_attrs)]
            BruteForceSampler._populate_tree(tree, kept, params)

    if not hasattr(BruteForceSampler, "_populate_tree"):  # a future Optuna: plain brute force
        return BruteForceSampler
    return ExhaustiveSampler


def make_sampler(spec: Any = "nsga2", seed: int = 0, n_trials: int = 100,
                 population_size: int | None = None) -> "optuna.samplers.BaseSampler":
    """An Optuna sampler from a name (``nsga2``, ``tpe``, ``gp``, ``random``, ``exhaustive``), a
    ``module:Class`` path (given ``seed=`` if it takes one), or an instance (returned as is)."""
    import optuna

    if isinstance(spec, optuna.samplers.BaseSampler):
        return spec
    if not isinstance(spec, str):
        raise StitchnasError(f"a sampler must be a name or an Optuna sampler, not {type(spec).__name__}")
    name = _sampler_name(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(
                seed=seed, population_size=population_size or _population(n_trials))
        if name == "tpe":
            # Optuna 5's default for several objectives: independent TPE. (Multivariate TPE
            # settled on ~25 of 83 stitches in `bench search` and found less of the front.)
            return optuna.samplers.TPESampler(seed=seed)
        if name == "gp":
            try:
                return optuna.samplers.GPSampler(seed=seed)
            except ImportError as err:
                raise StitchnasError(f"the GP sampler needs torch and scipy: {err}") from err
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "exhaustive":
            return _exhaustive_sampler_class()(seed=seed)
        module, _, attr = name.partition(":")
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except ImportError as err:
            raise StitchnasError(f"cannot import {module!r} for sampler {name!r}: {err}") from err
        except AttributeError:
            raise StitchnasError(f"module {module!r} has no {attr!r} (sampler {name!r})") from None
        if not (isinstance(obj, type) and issubclass(obj, optuna.samplers.BaseSampler)):
            raise StitchnasError(f"{name!r} is not an Optuna sampler class (a subclass of "
                                 "optuna.samplers.BaseSampler)")
        import inspect

        try:
            takes_seed = "seed" in inspect.signature(obj).parameters
        except (TypeError, ValueError):
            takes_seed = False
        try:
            return obj(seed=seed) if takes_seed else obj()
        except Exception as err:  # noqa: BLE001 - a user's class
            raise StitchnasError(f"cannot create sampler {name!r}: {type(err).__name__}: {err}") from err


def _sampler_label(spec: Any) -> str:
    if isinstance(spec, str):
        return spec.rsplit(":", 1)[-1].rsplit(".", 1)[-1] if ":" in spec else spec
    return type(spec).__name__


# ---------------------------------------------------------------------------------------------
# storage
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Storage:
    storage: Any
    label: str  # URL or path, password masked
    file: Path | None  # the local file (SQLite or journal) if any: lock files go beside it


def _sqlite_file(url: str) -> Path | None:
    rest = url.split("://", 1)[1] if "://" in url else ""
    if not rest.startswith("/"):
        return None
    path = rest[1:].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def _error_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0].rstrip('.') if text else ''}".rstrip(": ")


class _DropChatter:
    """Logging filter: Optuna's per-run notes that say nothing about the search (the GP sampler
    falling back to sequential L-BFGS-B when greenlet is missing)."""

    def filter(self, record) -> bool:  # noqa: ANN001
        return "greenlet" not in record.getMessage()


def _quiet_optuna() -> None:
    import logging

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no per-trial INFO lines
    for handler in logging.getLogger("optuna").handlers:
        if not any(isinstance(f, _DropChatter) for f in handler.filters):
            handler.addFilter(_DropChatter())


def open_storage(spec: Any, space: "SearchSpace | None" = None,
                 out_dir: str | os.PathLike | None = None) -> _Storage:
    """An Optuna storage from None (``sqlite:///<out_dir>/<space>/search.db``), a URL, a path
    ending in ``.db``/``.sqlite`` (SQLite) or ``.log``/``.journal``/``.jsonl`` (journal file),
    ``"memory"``, or a storage object."""
    import optuna

    if isinstance(spec, optuna.storages.BaseStorage):
        return _Storage(spec, type(spec).__name__, None)
    if spec is None:
        if space is None:
            raise StitchnasError("open_storage(None) needs the space (for results/<space>/search.db)")
        root = Path(out_dir) if out_dir is not None else results_dir()
        spec = f"sqlite:///{(root / space.name / 'search.db').resolve()}"
    if not isinstance(spec, (str, os.PathLike)):
        raise StitchnasError(f"storage must be a URL, a path or an Optuna storage, not {type(spec).__name__}")
    text = str(spec)
    if text in ("memory", ":memory:"):
        return _Storage(optuna.storages.InMemoryStorage(), "memory", None)
    masked = mask_password(text) or text
    if "://" not in text:
        path = Path(text).expanduser()
        if path.suffix in _SQLITE_SUFFIXES:
            text = f"sqlite:///{path.resolve()}"
        elif path.suffix in _JOURNAL_SUFFIXES:
            return _journal(path)
        else:
            raise StitchnasError(
                f"storage {text!r} is neither a URL nor a path ending in .db (SQLite) or .log "
                "(journal file): write e.g. results/search.db, search.log, sqlite:///search.db or "
                "postgresql://user:password@host/db")
    scheme = text.split("://", 1)[0].lower()
    if scheme in ("journal", "file"):
        return _journal(Path(text.split("://", 1)[1]))
    if scheme in ("postgresql", "postgres"):  # no driver named: the one installed
        text = f"postgresql+{_postgres_driver()}://{text.split('://', 1)[1]}"
        scheme = text.split("://", 1)[0]
    local = _sqlite_file(text) if scheme.startswith("sqlite") else None
    if local is not None:
        local = local.resolve()
        try:
            local.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            blocker = next((p for p in local.parents if p.is_file()), None)
            why = (f"{blocker} is a file, not a folder; put the database elsewhere"
                   if blocker is not None else f"{err.strerror}; choose a writable folder")
            raise StitchnasError(f"cannot create the folder of storage {masked}: {why}") from err
    engine_kwargs = ({"connect_args": {"timeout": 60}} if scheme.startswith("sqlite")
                     else {"pool_pre_ping": True})  # a server restart costs no worker
    try:
        with warnings.catch_warnings(), _schema_lock(text):
            warnings.simplefilter("ignore")
            storage = optuna.storages.RDBStorage(text, engine_kwargs=engine_kwargs)
    except Exception as err:  # noqa: BLE001 - SQLAlchemy/driver errors of every kind
        raise StitchnasError(
            f"cannot open Optuna storage {masked}: {_error_line(err)}; check the URL, that the "
            "server is reachable and its driver installed (e.g. psycopg2 for postgresql://), or "
            "use a local file such as results/search.db") from err
    if local is not None:
        _fast_sqlite(storage)
    return _Storage(storage, masked if local is None else f"sqlite:///{local}", local)


def _postgres_driver() -> str:
    """``psycopg`` (3) or ``psycopg2``, whichever is installed: SQLAlchemy 2.1 takes a bare
    ``postgresql://`` for psycopg 3 only, while most installs (and Optuna's docs) have psycopg2."""
    from importlib.util import find_spec

    for module, driver in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if find_spec(module) is not None:
            return driver
    raise StitchnasError("postgresql:// storage needs a PostgreSQL driver: pip install "
                         "psycopg2-binary (or psycopg[binary])")


@contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """On PostgreSQL, let one worker at a time open the storage: Optuna creates its tables on the
    first open, and workers starting together on an empty database would collide doing so."""
    if not url.startswith("postgresql"):
        yield
        return
    import sqlalchemy

    engine = None
    try:
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except Exception:  # noqa: BLE001 - RDBStorage reports the connection error itself
        if engine is not None:
            engine.dispose()
        yield
        return
    try:
        conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": pg_lock_key("optuna-schema")})
        yield
    finally:
        conn.close()  # closing the session releases the lock
        engine.dispose()


def _fast_sqlite(storage: Any) -> None:
    """WAL journal and ``synchronous=NORMAL`` on every connection: a commit no longer waits for
    the disk (Optuna commits a dozen times per trial: 230 ms per trial became a few ms here),
    and a killed process still loses nothing that was committed (only a power cut can)."""
    import sqlalchemy

    engine = getattr(storage, "engine", None)
    if engine is None:
        return

    def pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        cur = dbapi_connection.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        finally:
            cur.close()

    engine.dispose()  # connections opened while creating the tables go; new ones get the pragmas
    sqlalchemy.event.listen(engine, "connect", pragmas)


def _journal(path: Path) -> _Storage:
    import optuna

    path = path.expanduser().resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = optuna.storages.JournalStorage(_journal_backend(path))
    except Exception as err:  # noqa: BLE001
        raise StitchnasError(f"cannot open journal storage {path}: {_error_line(err)}") from err
    return _Storage(storage, str(path), path)


def _journal_backend(path: Path):
    """Optuna's journal file, made safe for workers that get killed (one machine):

    * the writers' lock is an ``flock`` on ``PATH.flock``, which the kernel releases when its
      holder dies (Optuna's default, a symlink, stays behind and stalls every other worker for
      its 30 s grace period, then is broken even if its holder is merely slow);
    * before appending, a last line cut short by a writer killed mid-write is cut off (it was
      never a whole record, so no reader has applied it); appended to, it would corrupt the
      journal for good ("Invalid log format").
    """
    from optuna.storages.journal import JournalFileBackend
    from optuna.storages.journal._file import BaseJournalFileLock

    class FlockLock(BaseJournalFileLock):
        def __init__(self, target: Path) -> None:
            self._path = target.with_name(target.name + ".flock")
            self._fd: int | None = None

        def acquire(self) -> bool:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return True

        def release(self) -> None:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)  # closing releases the lock

    class Backend(JournalFileBackend):
        def append_logs(self, logs: list) -> None:  # Optuna's, plus the repair
            data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode()
            lock.acquire()
            try:
                _cut_torn_tail(path)
                with open(path, "ab") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            finally:
                lock.release()

    lock = FlockLock(path)
    return Backend(str(path), lock_obj=lock)


def _cut_torn_tail(path: Path) -> None:
    """Truncate a file after its last newline (a record cut short by a killed writer)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        pos = size
        while pos > 0:  # find the last newline, reading backwards in blocks
            step = min(1 << 16, pos)
            fh.seek(pos - step)
            block = fh.read(step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                fh.truncate(pos - step + nl + 1)
                return
            pos -= step
        fh.truncate(0)


# ---------------------------------------------------------------------------------------------
# the study
# ---------------------------------------------------------------------------------------------
def _default_trials(space: "SearchSpace", sampler: Any) -> int:
    if sampler == "exhaustive":
        return len(space)
    return int(min(3 * len(space), MAX_DEFAULT_TRIALS))


def default_study_name(problem: _Problem, sampler: str, seed: int, encoding: str) -> str:
    enc = "" if encoding == ("tree" if sampler == "exhaustive" else "relative") else f"-{encoding}"
    return (f"{problem.space.name}-{problem.space.content_hash[:8]}-{problem.target.name}-"
            f"{'+'.join(problem.objectives)}-{sampler}{enc}-seed{seed}-{problem.key[:8]}")


def _meta(problem: _Problem, encoding: str, sampler: str, seed: int, population: int | None) -> dict:
    return {"space": problem.space.name, "space_hash": problem.space.content_hash,
            "target": problem.target.name, "objectives": list(problem.objectives),
            "encoding": encoding, "sampler": sampler, "seed": seed,
            "population_size": population, "inputs_key": problem.key,
            "candidates": len(problem.space)}


def _existing_meta(storage: Any, name: str) -> dict | None:
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


def _check_meta(old: dict, new: dict, name: str, where: str) -> list[str]:
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


def _complete(study: "optuna.Study") -> list:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _show(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else bool(progress)


def _run_study(problem: _Problem, config: SearchConfig, *, storage: _Storage, study_name: str,
               n_trials: int, sampler_spec: Any, encoding: str, progress: bool | None = None):
    """Create or resume the study and run it until it holds ``n_trials`` completed trials (or,
    exhaustive, that many distinct candidates). Any number of workers may do so at once on one
    storage: under the study mutex a worker admits a new trial only while completed plus running
    trials are fewer than asked for (and samples it there, so samplers see every trial admitted
    before), then waits for the others' trials in flight, failing and queueing again those whose
    workers died. Returns (study, seconds, notes)."""
    import optuna
    from optuna.trial import TrialState

    _quiet_optuna()
    encoder = _encoding(problem.space, encoding)
    exhaustive = sampler_spec == "exhaustive"
    label = _sampler_label(sampler_spec)
    mutex = StudyMutex(storage, study_name)
    try:
        with study_lock(storage.file, study_name) as lock, warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            with mutex:  # one worker at a time creates the study and its metadata
                study, notes = _open_study(problem, config, storage=storage, study_name=study_name,
                                           n_trials=n_trials, sampler_spec=sampler_spec,
                                           encoding=encoding, label=label)
                stale = 0
                if lock.exclusive:  # alone on a file storage: every RUNNING trial is a dead one's
                    stale = fail_trials(study, trials_in(study, TrialState.RUNNING), retry=not exhaustive)
            lock.share()
            seconds, more = _work(study, problem, encoder, mutex, StaleWatch(config.stale_after_s),
                                  exhaustive=exhaustive, n_trials=n_trials, study_name=study_name,
                                  storage=storage, progress=progress,
                                  poll=poll_interval(config.stale_after_s))
            stale += more
            if stale:
                notes.append(f"failed {stale} trial(s) left RUNNING by an interrupted search"
                             + ("" if exhaustive else " and queued them again"))
    finally:
        mutex.close()
    return study, seconds, notes


def _open_study(problem: _Problem, config: SearchConfig, *, storage: _Storage, study_name: str,
                n_trials: int, sampler_spec: Any, encoding: str, label: str):
    """Create or load the study (call under the study mutex); check and record its metadata."""
    import optuna

    try:
        old = _existing_meta(storage.storage, study_name)
    except StitchnasError:
        raise
    except Exception as err:  # noqa: BLE001 - storage errors
        raise StitchnasError(f"cannot read Optuna storage {storage.label}: {_error_line(err)}") from err
    population = None
    if sampler_spec == "nsga2":
        population = (old or {}).get("population_size") or _population(n_trials)
    meta = _meta(problem, encoding, label, config.seed, population)
    notes = _check_meta(old, meta, study_name, storage.label) if old is not None else []
    sampler = make_sampler(sampler_spec, seed=config.seed, n_trials=n_trials, population_size=population)
    try:
        study = optuna.create_study(storage=storage.storage, sampler=sampler, study_name=study_name,
                                    directions=problem.directions, load_if_exists=True)
    except StitchnasError:
        raise
    except Exception as err:  # noqa: BLE001 - storage/driver errors
        raise StitchnasError(f"cannot create or load study {study_name!r} in {storage.label}: "
                             f"{_error_line(err)}") from err
    if [d.name.lower() for d in study.directions] != problem.directions:
        raise StitchnasError(f"study {study_name!r} in {storage.label} optimises other directions: "
                             "give another --study-name")
    if old is None:
        study.set_user_attr(META_KEY, meta)
    return study, notes


def _work(study, problem: _Problem, encoder, mutex: StudyMutex, watch: StaleWatch, *,
          exhaustive: bool, n_trials: int, study_name: str, storage: _Storage,
          progress: bool | None, poll: float) -> tuple[float, int]:
    """The worker loop of :func:`_run_study`. Returns (seconds, stale trials failed)."""
    from tqdm.auto import tqdm

    all_ids = set(problem.index)
    target_total = min(n_trials, len(all_ids)) if exhaustive else n_trials
    bar = tqdm(total=target_total, disable=not _show(progress), unit="trial",
               desc=f"search {problem.space.name} on {problem.target.name}")
    stale = 0
    top_up = False  # exhaustive: the sampler repeated a candidate, queue a missing one instead
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
                    stale += fail_trials(study, dead, retry=not exhaustive)
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
                    if top_up:
                        left = sorted(all_ids - seen)
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            study.enqueue_trial(encoder.params(left[0]), user_attrs={"top_up": True})
                    trial = study.ask()
                    cid = encoder.suggest(trial)
                    i = problem.index[cid]
                    trial.set_user_attr("id", cid)
                    trial.set_user_attr("route", str(problem.costs[i].route))
                    trial.set_user_attr("worker", worker)
                    for key, value in problem.constraints[i]:
                        trial.set_constraint(key, value)
                    top_up = exhaustive and cid in seen
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
                             f"{_error_line(err)}") from err
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


def _front_from_study(problem: _Problem, trial_ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """(distinct evaluated ids in first-visit order, front ids)."""
    distinct = list(dict.fromkeys(int(i) for i in trial_ids))
    feasible = [cid for cid in distinct if problem.feasible[problem.index[cid]]]
    if not feasible:
        return distinct, []
    rows = np.array([problem.values[problem.index[cid]] for cid in feasible])
    mask = nondominated(rows, problem.directions)
    return distinct, [cid for cid, keep in zip(feasible, mask) if keep]


def _search_problem(problem: _Problem, config: SearchConfig, progress: bool | None = None) -> SearchResult:
    space, target = problem.space, problem.target
    sampler_spec = config.sampler
    if isinstance(sampler_spec, str):
        sampler_spec = _sampler_name(sampler_spec)
    label = _sampler_label(sampler_spec)
    encoding = config.encoding
    if encoding == "auto":
        encoding = "tree" if sampler_spec == "exhaustive" else "relative"
    if sampler_spec == "exhaustive" and encoding != "tree":
        raise StitchnasError("the exhaustive sampler needs the tree encoding (finite choices): drop "
                             "--encoding or use --encoding tree")
    n_trials = config.n_trials or _default_trials(space, sampler_spec)
    storage = open_storage(config.storage, space, config.out_dir)
    study_name = config.study_name or default_study_name(problem, label, config.seed, encoding)
    study, seconds, notes = _run_study(problem, config, storage=storage, study_name=study_name,
                                       n_trials=n_trials, sampler_spec=sampler_spec,
                                       encoding=encoding, progress=progress)
    trials = sorted(_complete(study), key=lambda t: t.number)
    bad = [t.number for t in trials if t.user_attrs.get("id") not in problem.index]
    if bad:
        raise StitchnasError(f"study {study_name!r} holds trials (e.g. #{bad[0]}) of stitches this "
                             "space does not have: give another --study-name")
    trial_ids = [int(t.user_attrs["id"]) for t in trials]
    distinct, front_ids = _front_from_study(problem, trial_ids)
    all_points = tuple(problem.point(cid) for cid in distinct)
    acc = problem.acc
    front = Front(
        space=space.name, space_hash=space.content_hash, target=target.name,
        target_budgets=target.budgets.to_json(), objectives=problem.objectives,
        predictor=acc.predictor, measurements=acc.measurements, measured_ids=acc.measured_ids,
        study={"storage": storage.label, "study_name": study_name, "n_trials": len(trials),
               "trials_requested": n_trials, "sampler": label, "seed": config.seed,
               "encoding": encoding, "distinct_candidates": len(distinct),
               "candidates": len(space), "seconds": round(seconds, 3)},
        members=tuple(problem.point(cid) for cid in front_ids),
    )
    path = None
    if config.save:
        from ..fronts import front_path

        out = front_path(space.name, target.name, config.out_dir).parent
        path = save_front(front, out, all_points=all_points, space=space)
    return SearchResult(target=target.name, front=front, study_name=study_name,
                        storage=storage.label, n_trials_done=len(trials),
                        distinct_candidates=len(distinct), seconds=seconds, all_points=all_points,
                        path=path, trial_ids=tuple(trial_ids), notes=tuple(notes))


# ---------------------------------------------------------------------------------------------
# public entry points
# ---------------------------------------------------------------------------------------------
def search(space: "SearchSpace | str", target: "Target | str", config: SearchConfig | None = None,
           progress: bool | None = None) -> SearchResult:
    """Search one target: the Pareto front of the space over ``config.objectives``, saved to
    ``<results>/<space>/<target>/front.json`` (+ CSV, PNG)."""
    return search_targets(space, [target], config, progress=progress)[0]


def search_targets(space: "SearchSpace | str", targets: Sequence["Target | str"],
                   config: SearchConfig | None = None, progress: bool | None = None,
                   on_result: Callable[[SearchResult], None] | None = None) -> list[SearchResult]:
    """Search each target in turn (accuracies are computed once; every target's objectives and
    costs are checked before the first study starts). With several targets an explicit
    ``study_name`` gets ``-<target>`` appended."""
    import dataclasses

    from ..space import load_space
    from ..costs import load_target

    space = load_space(space)
    config = config or SearchConfig()
    tgts = [load_target(t) for t in targets]
    if not tgts:
        raise StitchnasError("search needs at least one --target (stitchnas targets lists them)")
    names = [t.name for t in tgts]
    if len(set(names)) != len(names):
        raise StitchnasError(f"target {min(n for n in names if names.count(n) > 1)!r} is given "
                             "twice: each target gets one front")
    objectives = [_resolve_objectives(config, t) for t in tgts]
    if isinstance(config.sampler, str):
        _sampler_name(config.sampler)
    acc = accuracy_table(space, config.measurements, config.predictor)
    problems = [_build_problem(space, t, objs, acc) for t, objs in zip(tgts, objectives)]
    results = []
    for problem in problems:
        cfg = config
        if config.study_name and len(problems) > 1:
            cfg = dataclasses.replace(config, study_name=f"{config.study_name}-{problem.target.name}")
        result = _search_problem(problem, cfg, progress=progress)
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results


class _CallableModule(type(sys)):
    """``stitchnas.search`` names both this module and its main function: once the module is
    imported (``from stitchnas.search import ...``) the package attribute is the module, so the
    module calls through to :func:`search` and ``stitchnas.search(space, target)`` always works."""

    def __call__(self, *args: Any, **kwargs: Any) -> SearchResult:
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
