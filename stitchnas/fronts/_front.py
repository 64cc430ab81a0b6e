"""Saved Pareto fronts: what a search found for one space on one hardware target.

A :class:`Front` holds the space's name and content hash, the target and its budgets, the
objectives, the predictor, the measurements used, the study, and every front member
(:class:`FrontPoint`) with its route, id, objective values and where its accuracy comes from
(measured, predicted, or a prior from the anchors). Its files (``front.json``, ``front.csv``,
``front.png``) are written and read by :mod:`._files`, the plot drawn by :mod:`._plot`.

Querying a front (:meth:`Front.best`) picks the most accurate member within the given limits;
:func:`stitchnas.network.build_model` turns the chosen stitch into a ready ``nn.Module`` and
:func:`stitchnas.network.export_model` writes it as standalone files.

Querying never imports torch; building and exporting do.
"""

from __future__ import annotations

import collections
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import StitchnasError
from ..objectives import (BUDGET_KEYS, LIMIT_KEYS, OBJECTIVES, OBJECTIVES_BY_NAME, format_value,
                          is_upper_limit, objective_of)
from ..space import Route
from ..storage import mask_password
from ._checks import check_members

__all__ = [
    "ACC1_SOURCES",
    "FORMAT",
    "Front",
    "FrontPoint",
    "NothingFits",
]

FORMAT = "stitchnas-front/1"

#: where a member's top-1 comes from: measured, predicted by a predictor fitted on measured
#: stitches, or a prior read off the anchors' top-1 (nothing stitched measured yet)
ACC1_SOURCES = ("measured", "predicted", "prior")

_POINT_KEYS = ("id", "route", "acc1", "acc1_source", "acc1_std", "flops", "params", "latency_ms",
               "memory_mb", "is_anchor")
_FRONT_KEYS = ("format", "space", "space_hash", "target", "target_budgets", "objectives",
               "predictor", "measurements", "measured_ids", "study", "members", "created",
               "stitchnas_version")


class NothingFits(StitchnasError):
    """No member of a front satisfies the given limits (the CLI exits 1, not 2)."""


def _is_bool(v: Any) -> bool:
    """``True``/``False``, numpy's booleans included."""
    return isinstance(v, bool) or (type(v).__module__ == "numpy" and type(v).__name__ in ("bool", "bool_"))


def _is_real(v: Any) -> bool:
    """A real number, numpy scalars included, bools excluded."""
    return isinstance(v, numbers.Real) and not _is_bool(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and _is_real(v)


_is_number = _is_real


def _finite(v: Any) -> bool:
    return _is_real(v) and math.isfinite(v)


def _finite_float(v: Any) -> bool:
    """A real number that is finite as a float (an integer beyond any float is not)."""
    try:
        return _is_real(v) and math.isfinite(float(v))
    except OverflowError:
        return False


def _plain(v: Any) -> Any:
    """A numpy scalar as a plain int/float (None and plain values unchanged)."""
    if v is None or type(v) in (int, float):
        return v
    return int(v) if isinstance(v, numbers.Integral) else float(v)


def _version() -> str:
    from .. import __version__

    return __version__


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# front members
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrontPoint:
    """One stitch on a front. ``acc1`` top-1 in percent, ``acc1_source`` ``"measured"``,
    ``"predicted"`` or ``"prior"`` (read off the anchors' top-1 alone; ``acc1_std`` the
    predictor's or prior's standard deviation, if any), ``flops``
    multiply-adds at batch 1, ``params`` a count, ``latency_ms``/``memory_mb`` on the front's
    target (``None`` where the target has no latency table)."""

    id: int
    route: Route
    acc1: float
    acc1_source: str
    acc1_std: float | None = None
    flops: int = 0
    params: int = 0
    latency_ms: float | None = None
    memory_mb: float | None = None
    is_anchor: bool = False

    def __post_init__(self) -> None:
        # Normalise numpy scalars and the like to plain Python values (JSON round trips exactly).
        put = object.__setattr__
        if not _is_real(self.id) or not float(self.id).is_integer() or self.id < 0:
            raise StitchnasError(f"front point: 'id' must be an integer >= 0, got {self.id!r}")
        put(self, "id", int(self.id))
        if isinstance(self.route, str):
            put(self, "route", Route.parse(self.route))
        elif isinstance(self.route, (list, tuple)):
            put(self, "route", Route.of(self.route))
        elif not isinstance(self.route, Route):
            raise StitchnasError(f"front point {self.id}: 'route' must be a Route, got {self.route!r}")
        if self.acc1_source not in ACC1_SOURCES:
            raise StitchnasError(f"front point {self.id}: 'acc1_source' must be one of "
                                 f"{list(ACC1_SOURCES)}, got {self.acc1_source!r}")
        if not (_is_real(self.acc1) and math.isfinite(self.acc1)):
            raise StitchnasError(f"front point {self.id}: 'acc1' must be a finite number, got {self.acc1!r}")
        put(self, "acc1", float(self.acc1))
        for key in ("acc1_std", "latency_ms", "memory_mb"):
            value = getattr(self, key)
            if value is None:
                continue
            if not (_is_real(value) and math.isfinite(value) and value >= 0):
                raise StitchnasError(f"front point {self.id}: {key!r} must be a number >= 0 or "
                                     f"None, got {value!r}")
            put(self, key, float(value))
        for key in ("flops", "params"):
            value = getattr(self, key)
            if not (_is_real(value) and math.isfinite(value) and value >= 0
                    and float(value).is_integer()):
                raise StitchnasError(f"front point {self.id}: {key!r} must be an integer >= 0, "
                                     f"got {value!r}")
            put(self, key, int(value))
        if not _is_bool(self.is_anchor):
            raise StitchnasError(f"front point {self.id}: 'is_anchor' must be true or false")
        put(self, "is_anchor", bool(self.is_anchor))

    def value(self, objective: str) -> float | int | None:
        """The value of an objective (``acc1``, ``flops``, ``params``, ``latency_ms``, ``memory_mb``)."""
        if objective not in OBJECTIVES:
            raise StitchnasError(f"unknown objective {objective!r}; known: {list(OBJECTIVES)}")
        return getattr(self, objective)

    def to_json(self) -> dict[str, Any]:
        def num(v):
            return None if v is None else float(v)

        return {
            "id": int(self.id), "route": self.route.to_json(), "route_str": str(self.route),
            "acc1": float(self.acc1), "acc1_source": self.acc1_source, "acc1_std": num(self.acc1_std),
            "flops": int(self.flops), "params": int(self.params),
            "latency_ms": num(self.latency_ms), "memory_mb": num(self.memory_mb),
            "is_anchor": bool(self.is_anchor),
        }

    @classmethod
    def from_json(cls, row: Any) -> FrontPoint:
        """Build from a parsed member (``route_str`` is informative and ignored)."""
        if not isinstance(row, dict):
            raise StitchnasError(f"a member must be a JSON object with keys {list(_POINT_KEYS)}, "
                                 f"got {type(row).__name__}")
        missing = [k for k in _POINT_KEYS if k not in row]
        if missing:
            raise StitchnasError(f"member {row.get('id', '?')} lacks key(s) {missing}")
        if not isinstance(row["route"], list):
            raise StitchnasError(f"member {row['id']!r}: 'route' must be [[anchor, start, end], ...]")
        for key in ("acc1", "acc1_std", "latency_ms", "memory_mb"):
            if row[key] is not None and not _is_number(row[key]):
                raise StitchnasError(f"member {row['id']!r}: {key!r} must be a number, got {row[key]!r}")
            if _is_int(row[key]) and not _finite_float(row[key]):  # beyond any float
                raise StitchnasError(f"member {row['id']!r}: {key!r} must be a finite number, got "
                                     f"a {len(str(abs(row[key])))}-digit integer")
        for key in ("flops", "params"):
            if not _is_int(row[key]):
                raise StitchnasError(f"member {row['id']!r}: {key!r} must be an integer, got {row[key]!r}")
        if row["acc1"] is None:
            raise StitchnasError(f"member {row['id']!r}: 'acc1' must be a number, got null")
        if _finite_float(row["acc1"]) and not 0.0 <= float(row["acc1"]) <= 100.0:
            raise StitchnasError(f"member {row['id']!r}: 'acc1' is {row['acc1']!r}, outside 0..100 "
                                 "(top-1 is a percentage)")
        return cls(id=row["id"], route=Route.of(row["route"]), acc1=row["acc1"],
                   acc1_source=row["acc1_source"], acc1_std=row["acc1_std"], flops=row["flops"],
                   params=row["params"], latency_ms=row["latency_ms"], memory_mb=row["memory_mb"],
                   is_anchor=row["is_anchor"])


# ---------------------------------------------------------------------------------------------
# fronts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Front:
    """The Pareto front a search found for one space on one hardware target.

    ``members`` are kept sorted by the first cost objective ascending (then accuracy descending,
    then id). ``target_budgets`` holds the limits the search kept to (``max_latency_ms``,
    ``max_memory_mb``, ``max_flops``, ``max_params``; ``None`` where unset). ``study`` describes
    the Optuna study (``storage`` with any password masked, ``study_name``, ``n_trials``,
    ``sampler``, ``seed``). ``measurements`` is the measurements file the search learned from,
    ``measured_ids`` how many ids it held and ``measurements_sha256`` its digest as read (so a
    later change shows). ``latency_error_pct`` is the median end-to-end error (%) of the latency
    table the members' latencies were composed from, as its validation measured it (None
    without a validated table): latencies closer than that are not told apart;
    ``latency_machine`` is that table's machine (``cpu``, ``arch``, ``gpu``, ``cuda``, ``torch``,
    ``threads``): tables travel, so a front's latencies may be another machine's.
    """

    space: str
    space_hash: str
    target: str
    target_budgets: dict[str, Any] = field(default_factory=dict, hash=False)
    objectives: tuple[str, ...] = ("acc1", "flops")
    predictor: str | None = None
    measurements: str | None = None
    measured_ids: int = 0
    measurements_sha256: str | None = None
    latency_error_pct: float | None = None
    latency_machine: dict[str, Any] | None = field(default=None, hash=False)
    study: dict[str, Any] = field(default_factory=dict, hash=False)
    members: tuple[FrontPoint, ...] = ()
    created: str = field(default_factory=_now)
    version: str = field(default_factory=_version)
    path: str | None = field(default=None, compare=False, hash=False, repr=False)
    #: the space as the user named it when loading (a YAML path), for the commands hints suggest
    given_as: str | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        for key in ("space", "space_hash", "target", "created", "version"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise StitchnasError(f"front: {key!r} must be a non-empty string, "
                                     f"got {getattr(self, key)!r}")
        objectives = tuple(self.objectives)
        unknown = [o for o in objectives if not isinstance(o, str) or o not in OBJECTIVES]
        if unknown or len(set(objectives)) != len(objectives):
            raise StitchnasError(f"front objectives {list(objectives)} must be distinct names of "
                                 f"{list(OBJECTIVES)}")
        if "acc1" not in objectives or len(objectives) < 2:
            raise StitchnasError(f"front objectives {list(objectives)} need acc1 and at least one "
                                 "cost (flops, params, latency_ms, memory_mb)")
        object.__setattr__(self, "objectives", objectives)
        budgets = dict(self.target_budgets or {})
        bad = sorted(set(budgets) - set(BUDGET_KEYS))
        if bad:
            raise StitchnasError(f"front: unknown target budget(s) {bad}; known: {list(BUDGET_KEYS)}")
        for key, value in budgets.items():
            if value is not None and not (_finite_float(value) and value > 0):
                raise StitchnasError(f"front: budget {key} must be a positive number or None, "
                                     f"got {value!r}")
        object.__setattr__(self, "target_budgets", {k: _plain(budgets.get(k)) for k in BUDGET_KEYS})
        for key in ("predictor", "measurements"):
            if getattr(self, key) is not None and not isinstance(getattr(self, key), str):
                raise StitchnasError(f"front: {key!r} must be a string or None")
        if not _is_int(self.measured_ids) or self.measured_ids < 0:
            raise StitchnasError(f"front: 'measured_ids' must be an integer >= 0, got {self.measured_ids!r}")
        object.__setattr__(self, "measured_ids", int(self.measured_ids))
        digest = self.measurements_sha256
        if digest is not None and not (isinstance(digest, str) and len(digest) == 64
                                       and all(c in "0123456789abcdef" for c in digest)):
            raise StitchnasError(f"front: 'measurements_sha256' must be 64 hex digits or None, got {digest!r}")
        err = self.latency_error_pct
        if err is not None and not (_finite_float(err) and err >= 0):
            raise StitchnasError(f"front: 'latency_error_pct' must be a number >= 0 or None, got {err!r}")
        object.__setattr__(self, "latency_error_pct", None if err is None else float(err))
        machine = self.latency_machine
        if machine is not None:
            if not isinstance(machine, Mapping) or not all(
                    isinstance(k, str) and (v is None or isinstance(v, str) or _is_int(v))
                    for k, v in machine.items()):
                raise StitchnasError("front: 'latency_machine' must be an object of names, "
                                     f"numbers or nulls (cpu, gpu, threads, ...) or None, got {machine!r}")
            object.__setattr__(self, "latency_machine", dict(machine))
        if not isinstance(self.study, Mapping):
            raise StitchnasError("front: 'study' must be a mapping")
        study = dict(self.study)
        study.pop("coverage", None)  # derived from the counts: see coverage
        if isinstance(study.get("storage"), str):
            study["storage"] = mask_password(study["storage"])
        object.__setattr__(self, "study", study)
        members = tuple(self.members)
        if not all(isinstance(m, FrontPoint) for m in members):
            raise StitchnasError("front: members must be FrontPoint objects")
        dup = sorted(i for i, n in collections.Counter(m.id for m in members).items() if n > 1)
        if dup:
            raise StitchnasError(f"front: id(s) {dup} appear more than once among the members")
        cost = self.cost_objectives[0]

        def order(m: FrontPoint):
            v = m.value(cost)
            return (math.inf if v is None else v, -m.acc1, m.id)

        object.__setattr__(self, "members", tuple(sorted(members, key=order)))

    def __repr__(self) -> str:
        """One line: what the front is of and how many members, not every field of every member."""
        ids = [m.id for m in self.members]
        shown = ", ".join(map(str, ids[:12])) + (", ..." if len(ids) > 12 else "")
        coverage = self.coverage
        part = f", {coverage}" if coverage else ""
        return (f"Front({self.space!r}, target={self.target!r}, objectives={self.objectives!r}, "
                f"{len(ids)} members: ids [{shown}]{part})")

    # ---- views --------------------------------------------------------------------------
    @property
    def cost_objectives(self) -> tuple[str, ...]:
        """The objectives other than accuracy, in the front's order."""
        return tuple(o for o in self.objectives if o != "acc1")

    @property
    def coverage(self) -> str | None:
        """``"evaluated X of N candidates; the front may be incomplete"`` when the search that made
        this front evaluated fewer candidates than its space has (from ``study``), else None."""
        seen, total = self.study.get("distinct_candidates"), self.study.get("candidates")
        if isinstance(seen, int) and isinstance(total, int) and 0 <= seen < total:
            return f"evaluated {seen} of {total} candidates; the front may be incomplete"
        return None

    @property
    def timed_on(self) -> str | None:
        """The machine the members' latencies were timed on, in words (None if unknown)."""
        m = self.latency_machine
        if not m:
            return None
        if m.get("gpu"):
            return f"{m['gpu']}" + (f" (CUDA {m['cuda']})" if m.get("cuda") else "")
        threads = m.get("threads")
        return f"{m.get('cpu') or 'an unknown cpu'}" + (f", {threads} thread{'s' * (threads != 1)}"
                                                         if _is_int(threads) else "")

    def count(self, source: str) -> int:
        """How many members' accuracy comes from ``source`` (one of :data:`ACC1_SOURCES`)."""
        return sum(m.acc1_source == source for m in self.members)

    def prior_note(self, space: str | None = None) -> str | None:
        """A line saying how many accuracies are only priors from the anchors (None if none);
        ``space``: the space as the user names it (default: the front's space name)."""
        n = self.count("prior")
        if not n:
            return None
        return (f"{n} of {len(self.members)} accuracies are priors from the anchors' acc1 "
                "(interpolated in log-FLOPs, wide std): measure stitches to replace them "
                f"(`stitchnas evaluate {space or self.given_as or self.space} --sample 16`, then search again)")

    def has(self, objective: str) -> bool:
        """Whether any member has a value for ``objective`` (latency/memory may be missing)."""
        return any(m.value(objective) is not None for m in self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self):
        return iter(self.members)

    def member(self, cid: int) -> FrontPoint:
        for m in self.members:
            if m.id == cid:
                return m
        raise StitchnasError(f"id {cid} is not on the front of {self.space} for target "
                             f"{self.target!r} (members: {[m.id for m in self.members]})")

    def _where(self) -> str:
        return f"the front of {self.space} for target {self.target!r}"

    # ---- queries ------------------------------------------------------------------------
    def _limits(self, max_latency_ms, max_flops, max_params, max_memory_mb, min_acc1) -> dict[str, float]:
        given = dict(zip(LIMIT_KEYS, (max_latency_ms, max_flops, max_params, max_memory_mb, min_acc1)))
        limits = {}
        for name, value in given.items():
            if value is None:
                continue
            if not _is_number(value) or math.isnan(value):
                raise StitchnasError(f"{name} must be a number, got {value!r}")
            objective = objective_of(name)
            if objective in ("latency_ms", "memory_mb") and not self.has(objective):
                what = "latency" if objective == "latency_ms" else "memory"
                raise StitchnasError(
                    f"{self._where()} has no {what} values ({name} needs them): it was searched on "
                    f"{', '.join(self.cost_objectives)} only; use a latency target (measure one with "
                    f"`stitchnas profile-latency`, then `stitchnas search {self.given_as or self.space} --target T`) or "
                    "limit --max-flops/--max-params instead"
                )
            limits[name] = value
        return limits

    def fits(self, max_latency_ms: float | None = None, max_flops: float | None = None,
             max_params: float | None = None, max_memory_mb: float | None = None,
             min_acc1: float | None = None) -> list[FrontPoint]:
        """Members within every given limit (inclusive: ``value <= max_*``, ``acc1 >= min_acc1``),
        in the front's order. Members without a latency (memory) value never fit a latency
        (memory) limit."""
        limits = self._limits(max_latency_ms, max_flops, max_params, max_memory_mb, min_acc1)
        return [m for m in self.members if _fits(m, limits)]

    def best(self, max_latency_ms: float | None = None, max_flops: float | None = None,
             max_params: float | None = None, max_memory_mb: float | None = None,
             min_acc1: float | None = None) -> FrontPoint:
        """The most accurate member within every given limit (see :meth:`fits`); with
        ``min_acc1`` and no upper limit, the cheapest member that reaches it (the least of the
        front's first cost objective, then the others), since "at least 80%" asks what it costs.

        Ties on ``acc1`` go to the lower ``latency_ms`` (members without one count as slowest),
        then the lower ``flops``, then the lower ``params``, then the lower id.
        Raises :class:`NothingFits` (naming the tightest member) when no member fits, and
        :class:`StitchnasError` for a latency or memory limit on a front without such values.
        """
        limits = self._limits(max_latency_ms, max_flops, max_params, max_memory_mb, min_acc1)
        fitting = [m for m in self.members if _fits(m, limits)]
        if not fitting:
            raise NothingFits(self._nothing_fits(limits))
        return min(fitting, key=self._preference(cheapest_first(limits)))

    def preference(self, cheapest: bool = False) -> list[int]:
        """Member indices in the order :meth:`best` prefers them: the most accurate first, or
        with ``cheapest`` (an accuracy floor alone) the cheapest first. Exported front models
        that cannot call :meth:`best` (TorchScript) walk this order."""
        key = self._preference(cheapest)
        return sorted(range(len(self.members)), key=lambda i: key(self.members[i]))

    def _preference(self, cheapest: bool):
        if cheapest:
            return lambda m: _cost_rank(m, self.cost_objectives)
        return _rank

    def _nothing_fits(self, limits: dict[str, float]) -> str:
        asked = ", ".join(f"{k}={format_value(objective_of(k), v)}" for k, v in limits.items())
        head = f"nothing on {self._where()} fits {asked}"
        if not self.members:
            return f"{head}: the front has no members"
        alone, failing = [], []
        for name, value in limits.items():
            objective, upper = objective_of(name), is_upper_limit(name)
            have = [m for m in self.members if m.value(objective) is not None]
            pick = (min if upper else max)(have, key=lambda m: (m.value(objective), m.id) if upper
                                           else (m.value(objective), -m.id))
            phrase = (f"{OBJECTIVES_BY_NAME[objective].tightest} "
                      f"{format_value(objective, pick.value(objective))} (id {pick.id})")
            (alone if _fits(pick, {name: value}) else failing).append(phrase)
        if failing:
            return f"{head}: {'; '.join(failing)}"
        return (f"{head} together: each limit alone is met ({'; '.join(alone)}), but no member "
                "meets all of them; relax one")

    # ---- files --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "space": self.space, "space_hash": self.space_hash,
            "target": self.target, "target_budgets": dict(self.target_budgets),
            "objectives": list(self.objectives), "predictor": self.predictor,
            "measurements": self.measurements, "measured_ids": self.measured_ids,
            "measurements_sha256": self.measurements_sha256,
            "latency_error_pct": self.latency_error_pct, "latency_machine": self.latency_machine,
            "study": {**self.study, **({"coverage": self.coverage} if self.coverage else {})},
            "created": self.created, "stitchnas_version": self.version,
            "members": [m.to_json() for m in self.members],
        }

    @classmethod
    def from_json(cls, doc: Any, path: str | os.PathLike | None = None) -> Front:
        """Build from a parsed front.json; any problem is one StitchnasError naming ``path``."""
        where = f"front file {path}" if path else "front"
        try:
            if not isinstance(doc, dict):
                raise StitchnasError(f"expected a JSON object, got {type(doc).__name__}")
            if doc.get("format") != FORMAT:
                raise StitchnasError(f"format is {doc.get('format')!r}, not {FORMAT!r}")
            missing = [k for k in _FRONT_KEYS if k not in doc]
            if missing:
                raise StitchnasError(f"missing key(s) {missing}")
            for key in ("objectives", "members"):
                if not isinstance(doc[key], list):
                    raise StitchnasError(f"{key!r} must be a list")
            for key in ("target_budgets", "study"):
                if not isinstance(doc[key], dict):
                    raise StitchnasError(f"{key!r} must be an object")
            members = []
            for i, row in enumerate(doc["members"]):
                try:
                    members.append(FrontPoint.from_json(row))
                except StitchnasError as err:
                    raise StitchnasError(f"member #{i}: {err}") from None
            front = cls(
                space=doc["space"], space_hash=doc["space_hash"], target=doc["target"],
                members=tuple(members), objectives=tuple(doc["objectives"]),
                target_budgets=doc["target_budgets"], predictor=doc["predictor"],
                measurements=doc["measurements"], measured_ids=doc["measured_ids"],
                measurements_sha256=doc.get("measurements_sha256"),  # older fronts lack these three
                latency_error_pct=doc.get("latency_error_pct"),
                latency_machine=doc.get("latency_machine"),
                study=doc["study"], created=doc["created"], version=doc["stitchnas_version"],
                path=str(path) if path else None,
            )
            check_members(front)  # values for every objective, none dominated
            return front
        except (StitchnasError, TypeError, ValueError, KeyError, AttributeError, OverflowError) as err:
            raise StitchnasError(f"{where} is broken: {err}; {_remake_hint(doc)}") from None


def _fits(m: FrontPoint, limits: dict[str, float]) -> bool:
    for name, limit in limits.items():
        objective, upper = objective_of(name), is_upper_limit(name)
        v = m.value(objective)
        if v is None or (v > limit if upper else v < limit):
            return False
    return True


def _rank(m: FrontPoint):
    lat = math.inf if m.latency_ms is None else m.latency_ms
    return (-m.acc1, lat, m.flops, m.params, m.id)


def cheapest_first(limits: Mapping[str, Any]) -> bool:
    """Whether a query with these limits asks for the cheapest member: an accuracy floor and no
    upper limit (with a budget, the most accurate member within it is the answer)."""
    given = {k for k, v in limits.items() if v is not None}
    return bool(given) and not any(is_upper_limit(k) for k in given)


def _cost_rank(m: FrontPoint, costs: tuple[str, ...]):
    values = tuple(math.inf if m.value(c) is None else m.value(c) for c in costs)
    return (*values, -m.acc1, m.id)


def _remake_hint(doc: Any = None, space: str | None = None, target: str | None = None) -> str:
    if isinstance(doc, dict):
        space = space or (doc.get("space") if isinstance(doc.get("space"), str) else None)
        target = target or (doc.get("target") if isinstance(doc.get("target"), str) else None)
    space, target = space or "SPACE", target or "TARGET"
    return f"re-run `stitchnas search {space} --target {target}` (or `stitchnas run {space}`) to rewrite it"
