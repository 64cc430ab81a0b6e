"""The problem on one target: objective values and budget constraints of every candidate,
computed once before the study starts (objectives are table lookups)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import StitchnasError
from ..fronts import FrontPoint
from ..objectives import BUDGETS, OBJECTIVES, format_value
from ..pareto import nondominated
from ._accuracy import AccuracyTable, content_key

if TYPE_CHECKING:  # pragma: no cover
    from ..costs import Target, TargetCost
    from ..space import SearchSpace

__all__ = ["Problem", "build_problem", "nondominated", "check_counted_budgets"]

#: The costs a problem's key hashes, in this order (part of default study names: never change it).
_KEYED_COSTS = ("flops", "params", "latency_ms", "memory_mb")


@dataclass
class Problem:
    """Every candidate of ``space`` on ``target``: ``values`` (n x k, in the objectives' own
    directions), ``feasible`` (within every budget), ``constraints`` (Optuna's: ``<= 0``
    feasible), ``key`` (a hash of the inputs, part of default study names) and
    ``latency_error_pct`` and ``latency_machine`` (the latency table's median validation error
    and machine, None without them)."""

    space: "SearchSpace"
    target: "Target"
    objectives: tuple[str, ...]
    acc: AccuracyTable
    costs: list["TargetCost"]
    values: np.ndarray  # n x k, in the objectives' own directions
    feasible: np.ndarray
    constraints: list[list[tuple[str, float]]]
    key: str
    latency_error_pct: float | None = None
    latency_machine: dict | None = None

    def __post_init__(self) -> None:
        self.index = {c.id: i for i, c in enumerate(self.costs)}
        self.candidates = {c.id: c for c in self.space.candidates}
        self._full_front: list[int] | None = None
        self.full_front_s: float | None = None  # seconds the sweep took, once made

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

    def full_front(self) -> list[int]:
        """The exact front: :meth:`front` of every candidate, computed once (a vectorised sweep:
        0.7 s at 10^5 candidates) and kept, since the default search asks its size first."""
        if self._full_front is None:
            start = time.perf_counter()
            self._full_front = self.front([c.id for c in self.costs])
            self.full_front_s = time.perf_counter() - start
        return list(self._full_front)

    def front(self, ids: Sequence[int]) -> list[int]:
        """The feasible ids among ``ids`` that no other of them dominates, in the order given; a
        measured stitch is dominated only by measured ones (:mod:`stitchnas.pareto`)."""
        feasible = [cid for cid in ids if self.feasible[self.index[cid]]]
        if not feasible:
            return []
        rows = np.array([self.values[self.index[cid]] for cid in feasible])
        sure = [self.acc.source[self.index[cid]] == "measured" for cid in feasible]
        mask = nondominated(rows, self.directions, certain=sure)
        return [cid for cid, keep in zip(feasible, mask) if keep]


def _cost_value(c: "TargetCost", objective: str) -> float | None:
    v = getattr(c, objective)
    return None if v is None else float(v)


def build_problem(space: "SearchSpace", target: "Target", objectives: tuple[str, ...],
                  acc: AccuracyTable, *, memory: bool = True) -> Problem:
    """The :class:`Problem` of ``space`` on ``target``; a one-line error if no candidate fits the
    target's budgets. ``memory=False`` skips peak memory unless an objective or budget needs it."""
    from ..costs import load_latency_table, target_costs, validation_error

    budgets = target.budgets.active
    need_memory = memory or "memory_mb" in objectives or "max_memory_mb" in budgets
    table = load_latency_table(space, target, check_machine=False) if target.measurable else None
    error_pct = (validation_error(table.validation)["median_ape_pct"]
                 if table is not None and table.validation else None)
    costs = target_costs(space, target, table=table, memory=need_memory)
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
            v = _cost_value(c, BUDGETS[key])
            if v is not None:
                row.append((key, (v - float(limit)) / float(limit)))
        constraints.append(row)
    feasible = np.array([c.feasible for c in costs], dtype=bool)
    if not feasible.any():
        raise StitchnasError(_impossible(space, target, costs))
    key = content_key({"acc": acc.key, "target": target.to_json(), "objectives": list(objectives),
                       "costs": [[c.id] + [None if _cost_value(c, o) is None else float(f"{_cost_value(c, o):.6g}")
                                           for o in _KEYED_COSTS]
                                 for c in costs]})
    return Problem(space=space, target=target, objectives=objectives, acc=acc, costs=costs,
                   values=values, feasible=feasible, constraints=constraints, key=key,
                   latency_error_pct=error_pct,
                   latency_machine=dict(table.machine) if table is not None else None)


def check_counted_budgets(space: "SearchSpace", targets: Sequence["Target"]) -> None:
    """Fail before any work when a target that counts FLOPs or params (no device) has budgets no
    stitch of ``space`` meets: counts are cheap, so ``run`` learns this in a second instead of
    after training and measuring. Latency budgets need a table and are checked by the search."""
    from ..costs import target_costs

    for target in targets:
        if target.measurable or not target.budgets.active:
            continue
        costs = target_costs(space, target, memory="max_memory_mb" in target.budgets.active)
        if not any(c.feasible for c in costs):
            raise StitchnasError(_impossible(space, target, costs))


def _fmt(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:.4g}"


def _impossible(space: "SearchSpace", target: "Target", costs: Sequence["TargetCost"]) -> str:
    budgets = target.budgets.active
    parts, alone = [], []
    for key, limit in budgets.items():
        cost = BUDGETS[key]
        have = [c for c in costs if _cost_value(c, cost) is not None]
        if not have:
            continue
        best = min(have, key=lambda c: (_cost_value(c, cost), c.id))
        v = _cost_value(best, cost)
        text = f"{key}={_fmt(limit)}: the cheapest stitch needs {format_value(cost, v)} (id {best.id})"
        (alone if v <= limit else parts).append(text)
    head = f"no stitch of {space.name} fits the budgets of target {target.name!r}"
    if parts:
        return f"{head}: {'; '.join(parts)}; raise the budget or choose another target"
    return (f"{head} together: each alone is met ({'; '.join(alone)}), but no stitch meets all "
            "of them; relax one")
