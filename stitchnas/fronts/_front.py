"""Saved Pareto fronts: what a search found for one space on one hardware target.

A finished search writes ``results/<space>/<target>/front.json`` (the space's name and content
hash, the target and its budgets, the objectives, the predictor, the measurements used, the
study, and every front member with its route, id, objective values and whether its accuracy was
measured or predicted), ``front.csv`` beside it (one row per member) and ``front.png`` (every
candidate the search saw, the front, anchors marked). All three are written atomically.

Querying a front (:meth:`Front.best`) picks the most accurate member within the given limits;
:func:`build_model` turns the chosen stitch into a ready ``nn.Module`` and :func:`export_model`
writes it as a standalone TorchScript (and ONNX, where the exporter is installed) file.

Querying never imports torch; building and exporting do.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StitchnasError
from ..storage import mask_password
from ..fileio import atomic_write, results_dir, write_text
from ..space import Candidate, Route

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from ..space import SearchSpace

__all__ = [
    "BUDGET_KEYS",
    "FORMAT",
    "OBJECTIVES",
    "Front",
    "FrontPoint",
    "NothingFits",
    "build_model",
    "export_model",
    "front_path",
    "load_front",
    "resolve_candidate",
    "save_front",
]

FORMAT = "stitchnas-front/1"

#: Every objective a front can hold, and its direction.
OBJECTIVES = {"acc1": "maximize", "flops": "minimize", "params": "minimize",
              "latency_ms": "minimize", "memory_mb": "minimize"}

#: A target's budgets (limits the search kept to); ``None`` where unset.
BUDGET_KEYS = ("max_latency_ms", "max_memory_mb", "max_flops", "max_params")

ACC1_SOURCES = ("measured", "predicted")

# query limit -> (objective, True if the value must be <= the limit, False if >=)
_LIMITS = {"max_latency_ms": ("latency_ms", True), "max_flops": ("flops", True),
           "max_params": ("params", True), "max_memory_mb": ("memory_mb", True),
           "min_acc1": ("acc1", False)}

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
    """One stitch on a front. ``acc1`` top-1 in percent, ``acc1_source`` ``"measured"`` or
    ``"predicted"`` (``acc1_std`` the predictor's standard deviation, if any), ``flops``
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
        for key in ("flops", "params"):
            if not _is_int(row[key]):
                raise StitchnasError(f"member {row['id']!r}: {key!r} must be an integer, got {row[key]!r}")
        if row["acc1"] is None:
            raise StitchnasError(f"member {row['id']!r}: 'acc1' must be a number, got null")
        return cls(id=row["id"], route=Route.of(row["route"]), acc1=row["acc1"],
                   acc1_source=row["acc1_source"], acc1_std=row["acc1_std"], flops=row["flops"],
                   params=row["params"], latency_ms=row["latency_ms"], memory_mb=row["memory_mb"],
                   is_anchor=row["is_anchor"])


# ---------------------------------------------------------------------------------------------
# fronts
# ---------------------------------------------------------------------------------------------
def _fmt_value(objective: str, v: float) -> str:
    if objective == "acc1":
        return f"{v:.2f}%"
    if objective == "flops":
        return f"{int(v):,} flops"
    if objective == "params":
        return f"{int(v):,} params"
    if objective == "latency_ms":
        return f"{v:.4g} ms"
    return f"{v:.4g} MB"


def _fmt_limit(v: float) -> str:
    return str(v) if _is_int(v) else f"{v:g}"


_TIGHTEST = {"latency_ms": "the fastest member takes", "memory_mb": "the leanest member needs",
             "flops": "the cheapest member needs", "params": "the smallest member has",
             "acc1": "the most accurate member reaches"}


@dataclass(frozen=True)
class Front:
    """The Pareto front a search found for one space on one hardware target.

    ``members`` are kept sorted by the first cost objective ascending (then accuracy descending,
    then id). ``target_budgets`` holds the limits the search kept to (``max_latency_ms``,
    ``max_memory_mb``, ``max_flops``, ``max_params``; ``None`` where unset). ``study`` describes
    the Optuna study (``storage`` with any password masked, ``study_name``, ``n_trials``,
    ``sampler``, ``seed``). ``measurements`` is the measurements file the search learned from and
    ``measured_ids`` how many ids it held.
    """

    space: str
    space_hash: str
    target: str
    target_budgets: dict[str, Any] = field(default_factory=dict, hash=False)
    objectives: tuple[str, ...] = ("acc1", "flops")
    predictor: str | None = None
    measurements: str | None = None
    measured_ids: int = 0
    study: dict[str, Any] = field(default_factory=dict, hash=False)
    members: tuple[FrontPoint, ...] = ()
    created: str = field(default_factory=_now)
    version: str = field(default_factory=_version)
    path: str | None = field(default=None, compare=False, hash=False, repr=False)

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
            if value is not None and not _finite(value):
                raise StitchnasError(f"front: budget {key} must be a number or None, got {value!r}")
        object.__setattr__(self, "target_budgets", {k: _plain(budgets.get(k)) for k in BUDGET_KEYS})
        for key in ("predictor", "measurements"):
            if getattr(self, key) is not None and not isinstance(getattr(self, key), str):
                raise StitchnasError(f"front: {key!r} must be a string or None")
        if not _is_int(self.measured_ids) or self.measured_ids < 0:
            raise StitchnasError(f"front: 'measured_ids' must be an integer >= 0, got {self.measured_ids!r}")
        object.__setattr__(self, "measured_ids", int(self.measured_ids))
        if not isinstance(self.study, Mapping):
            raise StitchnasError("front: 'study' must be a mapping")
        study = dict(self.study)
        if isinstance(study.get("storage"), str):
            study["storage"] = mask_password(study["storage"])
        object.__setattr__(self, "study", study)
        members = tuple(self.members)
        if not all(isinstance(m, FrontPoint) for m in members):
            raise StitchnasError("front: members must be FrontPoint objects")
        ids = [m.id for m in members]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise StitchnasError(f"front: id(s) {dup} appear more than once among the members")
        cost = self.cost_objectives[0]

        def order(m: FrontPoint):
            v = m.value(cost)
            return (math.inf if v is None else v, -m.acc1, m.id)

        object.__setattr__(self, "members", tuple(sorted(members, key=order)))

    # ---- views --------------------------------------------------------------------------
    @property
    def cost_objectives(self) -> tuple[str, ...]:
        """The objectives other than accuracy, in the front's order."""
        return tuple(o for o in self.objectives if o != "acc1")

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
        given = {"max_latency_ms": max_latency_ms, "max_flops": max_flops, "max_params": max_params,
                 "max_memory_mb": max_memory_mb, "min_acc1": min_acc1}
        limits = {}
        for name, value in given.items():
            if value is None:
                continue
            if not _is_number(value) or math.isnan(value):
                raise StitchnasError(f"{name} must be a number, got {value!r}")
            objective = _LIMITS[name][0]
            if objective in ("latency_ms", "memory_mb") and not self.has(objective):
                what = "latency" if objective == "latency_ms" else "memory"
                raise StitchnasError(
                    f"{self._where()} has no {what} values ({name} needs them): it was searched on "
                    f"{', '.join(self.cost_objectives)} only; use a latency target (measure one with "
                    f"`stitchnas profile-latency`, then `stitchnas search {self.space} --target T`) or "
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
        """The most accurate member within every given limit (see :meth:`fits`).

        Ties on ``acc1`` go to the lower ``latency_ms`` (members without one count as slowest),
        then the lower ``flops``, then the lower ``params``, then the lower id.
        Raises :class:`NothingFits` (naming the tightest member) when no member fits, and
        :class:`StitchnasError` for a latency or memory limit on a front without such values.
        """
        limits = self._limits(max_latency_ms, max_flops, max_params, max_memory_mb, min_acc1)
        fitting = [m for m in self.members if _fits(m, limits)]
        if not fitting:
            raise NothingFits(self._nothing_fits(limits))
        return min(fitting, key=_rank)

    def _nothing_fits(self, limits: dict[str, float]) -> str:
        asked = ", ".join(f"{k}={_fmt_limit(v)}" for k, v in limits.items())
        head = f"nothing on {self._where()} fits {asked}"
        if not self.members:
            return f"{head}: the front has no members"
        alone, failing = [], []
        for name, value in limits.items():
            objective, upper = _LIMITS[name]
            have = [m for m in self.members if m.value(objective) is not None]
            pick = (min if upper else max)(have, key=lambda m: (m.value(objective), m.id) if upper
                                           else (m.value(objective), -m.id))
            phrase = f"{_TIGHTEST[objective]} {_fmt_value(objective, pick.value(objective))} (id {pick.id})"
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
            "study": dict(self.study), "created": self.created, "stitchnas_version": self.version,
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
            return cls(
                space=doc["space"], space_hash=doc["space_hash"], target=doc["target"],
                members=tuple(members), objectives=tuple(doc["objectives"]),
                target_budgets=doc["target_budgets"], predictor=doc["predictor"],
                measurements=doc["measurements"], measured_ids=doc["measured_ids"],
                study=doc["study"], created=doc["created"], version=doc["stitchnas_version"],
                path=str(path) if path else None,
            )
        except (StitchnasError, TypeError, ValueError, KeyError, AttributeError, OverflowError) as err:
            raise StitchnasError(f"{where} is broken: {err}; {_remake_hint(doc)}") from None


def _fits(m: FrontPoint, limits: dict[str, float]) -> bool:
    for name, limit in limits.items():
        objective, upper = _LIMITS[name]
        v = m.value(objective)
        if v is None or (v > limit if upper else v < limit):
            return False
    return True


def _rank(m: FrontPoint):
    lat = math.inf if m.latency_ms is None else m.latency_ms
    return (-m.acc1, lat, m.flops, m.params, m.id)


def _remake_hint(doc: Any = None, space: str | None = None, target: str | None = None) -> str:
    if isinstance(doc, dict):
        space = space or (doc.get("space") if isinstance(doc.get("space"), str) else None)
        target = target or (doc.get("target") if isinstance(doc.get("target"), str) else None)
    space, target = space or "SPACE", target or "TARGET"
    return f"re-run `stitchnas search {space} --target {target}` (or `stitchnas run {space}`) to rewrite it"


# ---------------------------------------------------------------------------------------------
# saving and loading
# ---------------------------------------------------------------------------------------------
def _check_target_name(target: str) -> None:
    if not target or target in (".", "..") or "/" in target or os.sep in target:
        raise StitchnasError(f"target name {target!r} cannot be a folder name: use a plain name "
                             "like cpu or cuda")


def front_path(space: str, target: str, results: str | os.PathLike | None = None) -> Path:
    """``results/<space>/<target>/front.json`` (``results`` defaults to :func:`results_dir`)."""
    _check_target_name(target)
    return Path(results if results is not None else results_dir()) / space / target / "front.json"


CSV_FIELDS = ("id", "route", "acc1", "acc1_source", "acc1_std", "flops", "params", "latency_ms",
              "memory_mb", "is_anchor")


def front_csv(front: Front) -> str:
    """The members as CSV, one row each, the route in string form (``0[0:4]>1[4:12]``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for m in front.members:
        row = m.to_json()
        row["route"] = row.pop("route_str")
        writer.writerow(["" if row[k] is None else row[k] for k in CSV_FIELDS])
    return buf.getvalue()


def save_front(front: Front, out_dir: str | os.PathLike | None = None,
               all_points: Sequence[FrontPoint] = (), *, space: SearchSpace | None = None) -> Path:
    """Write ``front.json``, ``front.csv`` and ``front.png`` into ``out_dir`` (default
    ``results/<space>/<target>``); returns the path of ``front.json``.

    ``all_points`` are every candidate the search evaluated (grey dots on the plot). ``space``
    (optional) names the anchors on the plot; without it the bundled space of that name is used
    if its hash matches. Everything is rendered in memory first and each file replaced
    atomically, ``front.json`` last: a failure leaves the previous files untouched.
    """
    _check_target_name(front.target)
    out = Path(out_dir) if out_dir is not None else front_path(front.space, front.target).parent
    doc_text = json.dumps(front.to_json(), indent=1, sort_keys=True) + "\n"
    csv_text = front_csv(front)
    png = render_front_png(front, all_points, anchor_names=_anchor_names(front, space))
    with atomic_write(out / "front.png", "wb") as fh:
        fh.write(png)
    write_text(out / "front.csv", csv_text)
    write_text(out / "front.json", doc_text)
    return out / "front.json"


def _anchor_names(front: Front, space: SearchSpace | None) -> list[str] | None:
    if space is None:
        try:
            from ..space import load_space

            space = load_space(front.space)
        except Exception:  # a space file elsewhere: label anchors by number
            return None
    try:
        if space.content_hash != front.space_hash:
            return None
        return [a.name for a in space.anchors]
    except Exception:
        return None


def _space_arg(space: Any) -> tuple[str, SearchSpace | None]:
    """(name, loaded space or None) for a SearchSpace, a bundled name or a YAML path."""
    from ..space import SearchSpace, load_space

    if isinstance(space, SearchSpace):
        return space.name, space
    text = str(space)
    try:
        loaded = load_space(text)
    except StitchnasError:
        if text.endswith((".yaml", ".yml")) or os.sep in text:
            raise  # a space file that does not load is an error, not a name
        return text, None  # a name without a bundled space: use it as the folder name
    return loaded.name, loaded


def load_front(space: SearchSpace | str | os.PathLike | None = None, target: str = "cpu",
               path: str | os.PathLike | None = None,
               results: str | os.PathLike | None = None) -> Front:
    """Read ``results/<space>/<target>/front.json`` (or ``path``).

    ``space`` is a SearchSpace, a bundled name or a YAML path (the default space when neither it
    nor ``path`` is given). When the space can be loaded, the front must have been searched on
    the same content hash. ``results`` overrides the results folder.
    """
    name, loaded = None, None
    if space is None and path is None:
        from ..space import DEFAULT_SPACE

        space = DEFAULT_SPACE
    if space is not None:
        name, loaded = _space_arg(space)
    if path is None:
        path = front_path(name, target, results)
    path = Path(path)
    if not path.is_file():
        sname = name or "SPACE"
        raise StitchnasError(
            f"no front at {path}: make it with `stitchnas search {sname} --target {target}` "
            f"(or `stitchnas run {sname}`)"
        )
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise StitchnasError(f"cannot read front file {path} ({type(err).__name__}); "
                             f"{_remake_hint(None, name, target)}") from err
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise StitchnasError(
            f"front file {path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            f"it is truncated or garbled: {_remake_hint(None, name, target)}"
        ) from None
    except (ValueError, RecursionError) as err:  # huge integers, nesting too deep to parse
        raise StitchnasError(
            f"front file {path} is not valid JSON ({type(err).__name__}); it is garbled: "
            f"{_remake_hint(None, name, target)}"
        ) from None
    front = Front.from_json(doc, path)
    if loaded is not None and front.space_hash != loaded.content_hash:
        raise StitchnasError(
            f"{path} was searched on another version of the space {loaded.name!r} (hash "
            f"{front.space_hash} != {loaded.content_hash}): re-run `stitchnas search {loaded.name} "
            f"--target {front.target}`"
        )
    return front


# ---------------------------------------------------------------------------------------------
# the plot
# ---------------------------------------------------------------------------------------------
_AXIS = {"flops": "FLOPs", "params": "parameters", "latency_ms": "latency (ms)",
         "memory_mb": "memory (MB)"}


def _scale(objective: str, values: Iterable[float]) -> tuple[float, str]:
    values = [v for v in values if v is not None]
    top = max(values, default=0)
    if objective == "flops":
        return (1e9, "GFLOPs") if top >= 1e9 else (1e6, "MFLOPs")
    if objective == "params":
        return 1e6, "parameters (M)"
    return 1.0, _AXIS[objective]


def render_front_png(front: Front, all_points: Sequence[FrontPoint] = (),
                     anchor_names: Sequence[str] | None = None) -> bytes:
    """The front plot as PNG bytes: one panel per cost objective against top-1 accuracy.

    Grey dots: every candidate the search saw; line with markers: the front (filled markers:
    measured accuracy, hollow: predicted); stars: anchors, labelled by name; members labelled
    by id.
    """
    from ..plots import _pyplot

    plt = _pyplot()
    costs = [o for o in front.cost_objectives if front.has(o) or any(
        p.value(o) is not None for p in all_points)] or list(front.cost_objectives[:1])
    fig, axes = plt.subplots(1, len(costs), figsize=(6.5 * len(costs), 4.6), dpi=110, squeeze=False)
    try:
        for ax, objective in zip(axes[0], costs):
            _panel(ax, front, all_points, objective, anchor_names)
        budgets = ", ".join(f"{k}={_fmt_limit(v)}" for k, v in front.target_budgets.items()
                            if v is not None) or "no budgets"
        n_pred = sum(m.acc1_source == "predicted" for m in front.members)
        fig.suptitle(f"{front.space} on target {front.target} ({budgets}): front of "
                     f"{len(front.members)}, {n_pred} predicted", fontsize=10)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def _panel(ax, front: Front, all_points: Sequence[FrontPoint], objective: str,
           anchor_names: Sequence[str] | None) -> None:
    scale, label = _scale(objective, [p.value(objective) for p in (*all_points, *front.members)])
    pts = [p for p in all_points if p.value(objective) is not None]
    if pts:
        ax.scatter([p.value(objective) / scale for p in pts], [p.acc1 for p in pts], s=12,
                   color="0.7", zorder=1, label=f"all candidates ({len(pts)})")
    members = sorted((m for m in front.members if m.value(objective) is not None),
                     key=lambda m: (m.value(objective), -m.acc1))
    xs = [m.value(objective) / scale for m in members]
    ys = [m.acc1 for m in members]
    ax.plot(xs, ys, color="tab:blue", linewidth=1.2, zorder=2, label=f"front ({len(members)})")
    for source, face in (("measured", "tab:blue"), ("predicted", "white")):
        sel = [m for m in members if not m.is_anchor and m.acc1_source == source]
        if sel:
            ax.scatter([m.value(objective) / scale for m in sel], [m.acc1 for m in sel], s=36,
                       facecolors=face, edgecolors="tab:blue", zorder=3, label=f"{source} accuracy")
    for source, face in (("measured", "tab:red"), ("predicted", "white")):
        sel = [m for m in members if m.is_anchor and m.acc1_source == source]
        if sel:
            ax.scatter([m.value(objective) / scale for m in sel], [m.acc1 for m in sel], s=140,
                       marker="*", facecolors=face, edgecolors="tab:red", zorder=4,
                       label=f"anchors ({source})")
    for m, x, y in zip(members, xs, ys):
        if m.is_anchor:
            a = m.route.first_anchor
            name = anchor_names[a] if anchor_names and a < len(anchor_names) else f"anchor {a}"
            text = f"{name} ({m.id})"
        else:
            text = str(m.id)
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel(label)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"accuracy vs {_AXIS[objective]}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


# ---------------------------------------------------------------------------------------------
# building and exporting the chosen stitch
# ---------------------------------------------------------------------------------------------
def resolve_candidate(space: SearchSpace, stitch: Any) -> Candidate:
    """The candidate of ``space`` named by an id, a Route, a route string or JSON list, a
    Candidate or a FrontPoint (whose route must match the space's route for that id)."""
    if isinstance(stitch, bool):
        raise StitchnasError(f"cannot pick a stitch from {stitch!r}: give an id or a route")
    if isinstance(stitch, int):
        return space.candidate(stitch)
    if isinstance(stitch, (FrontPoint, Candidate)):
        cand = space.candidate(stitch.id)
        if cand.route != stitch.route:
            raise StitchnasError(
                f"id {stitch.id} is {stitch.route} on the front but {cand.route} in space "
                f"{space.name!r}: the front comes from another enumeration; re-run the search"
            )
        return cand
    if isinstance(stitch, (Route, str, list, tuple)):
        return space.find(stitch)
    raise StitchnasError(f"cannot pick a stitch from {type(stitch).__name__}: give an id, a route "
                         "(e.g. '0[0:2]>1[2:4]'), a Candidate or a front member")


def build_model(space: SearchSpace | str | os.PathLike, stitch: Any,
                checkpoint: str | os.PathLike | None = None, switchable: bool = False,
                device: str = "cpu") -> nn.Module:
    """A ready ``nn.Module`` (eval mode) for one stitch of ``space``.

    ``stitch`` is an id, a Route, a route string, a Candidate or a FrontPoint. The stitched
    network is loaded with :func:`stitchnas.checkpoints.load_network` (the anchors' weights plus
    ``checkpoint``'s stitching layers; without a checkpoint the stitching layers are untrained,
    which only suits anchors). Returns the standalone :class:`~stitchnas.model.RouteModule`, or
    with ``switchable=True`` the whole :class:`~stitchnas.model.StitchedNetwork` switched to it.
    """
    from ..network import load_network
    from ..space import load_space

    space = load_space(space)
    cand = resolve_candidate(space, stitch)
    if checkpoint is None and not cand.is_anchor:
        warnings.warn(f"building stitch {cand.id} ({cand.route}) of {space.name} without a "
                      "checkpoint: its stitching layers are untrained", stacklevel=2)
    net = load_network(space, checkpoint).to(device)
    if switchable:
        net.reset_stitch_id(cand.id)
        return net.eval()
    return net.route_module(cand).eval()


def _onnx_exporter() -> tuple[bool | None, str | None]:
    """(use the dynamo exporter?, why ONNX is unavailable): onnxscript -> dynamo, onnx -> legacy."""
    from importlib.util import find_spec

    if find_spec("onnxscript") is not None and find_spec("onnx") is not None:
        return True, None
    if find_spec("onnx") is not None:
        return False, None
    return None, ("ONNX export needs the 'onnx' package (and 'onnxscript' for torch's default "
                  "exporter), which is not installed: `pip install onnx onnxscript`")


def export_model(module: nn.Module, path: str | os.PathLike, input_size: Sequence[int],
                 batch_size: int = 1, formats: Sequence[str] = ("torchscript", "onnx")) -> list[Path]:
    """Write ``module`` as standalone files: ``<path>.pt`` (TorchScript, traced) and
    ``<path>.onnx``; returns the paths written.

    The traced module is saved, loaded back and checked against ``module`` on a fresh random
    input (atol 1e-5) before it replaces any file. ONNX is skipped with a warning when its
    exporter is not installed (an error if it is the only format asked for). Inputs have a fixed
    shape ``[batch_size, *input_size]``. Each file is written to a temporary name, then renamed.
    """
    import torch

    formats = [f.strip().lower() for f in formats]
    bad = [f for f in formats if f not in ("torchscript", "onnx")]
    if bad or not formats:
        raise StitchnasError(f"unknown export format(s) {bad or formats}: use torchscript and/or onnx")
    base = Path(path)
    if base.suffix in (".pt", ".onnx", ".ts"):
        base = base.with_suffix("")
    module = module.eval()
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    shape = (batch_size, *(int(v) for v in input_size))
    gen = torch.Generator().manual_seed(0)
    example = torch.randn(shape, generator=gen).to(device)
    check = torch.randn(shape, generator=gen).to(device)
    written: list[Path] = []
    skip_onnx = None
    dynamo, why = _onnx_exporter()
    if "onnx" in formats and dynamo is None:
        if formats == ["onnx"]:
            raise StitchnasError(why)
        skip_onnx = why
    with torch.no_grad():
        expected = module(check)
        if "torchscript" in formats:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer and deprecation chatter
                traced = torch.jit.trace(module, (example,), check_trace=False)
                buf = io.BytesIO()
                torch.jit.save(traced, buf)
                reloaded = torch.jit.load(io.BytesIO(buf.getvalue()), map_location=device)
            got = reloaded(check)
            if got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-5):
                diff = (got - expected).abs().max().item() if got.shape == expected.shape else "shape"
                raise StitchnasError(f"the traced TorchScript module differs from the model "
                                     f"(max abs difference {diff}); not writing {base}.pt")
            out = base.with_name(base.name + ".pt")
            with atomic_write(out, "wb") as fh:
                fh.write(buf.getvalue())
            written.append(out)
        if "onnx" in formats and skip_onnx is None:
            out = base.with_name(base.name + ".onnx")
            written.append(_export_onnx(module, example, out, dynamo))
    if skip_onnx:
        warnings.warn(f"skipped ONNX: {skip_onnx}", stacklevel=2)
    return written


def _export_onnx(module: nn.Module, example, out: Path, dynamo: bool) -> Path:
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp.onnx", dir=out.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kwargs = {"external_data": False} if dynamo else {}
            torch.onnx.export(module, (example,), tmp, input_names=["input"], verbose=False,
                              output_names=["logits"], dynamo=dynamo, **kwargs)
        _check_onnx(tmp, module, example)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException as err:
        for leftover in (tmp, tmp + ".data"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass
        if isinstance(err, Exception) and not isinstance(err, StitchnasError):
            raise StitchnasError(f"ONNX export to {out} failed: {type(err).__name__}: "
                                 f"{str(err).splitlines()[0] if str(err) else ''}; export "
                                 "--format torchscript instead") from err
        raise
    return out


def _check_onnx(path: str, module: nn.Module, example) -> None:
    """Where onnxruntime is installed, check the ONNX file against the module (atol 1e-4)."""
    from importlib.util import find_spec

    if find_spec("onnxruntime") is None:
        return
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: example.detach().cpu().numpy()})[0]
    expected = module(example).detach().cpu().numpy()
    if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-4, rtol=1e-4):
        raise StitchnasError(f"the ONNX export differs from the model (max abs difference "
                             f"{np.abs(got - expected).max() if got.shape == expected.shape else 'shape'})")
