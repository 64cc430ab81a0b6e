"""Pareto fronts and hypervolume.

One filter, :func:`nondominated`, for any number of objectives; :func:`pareto_mask` and
:func:`front_indices` are its two-objective form for accuracy (maximised) against a cost
(minimised). Ties are handled strictly: a point is dominated only by one at least as good in every
objective and better in one, so points with equal values all stay on the front.

A front mixes measured and predicted accuracies. ``certain`` marks the measured rows: a
prediction may add a stitch to the front but never pushes out a measured one (a measured row is
dominated only by measured rows), because a predicted accuracy is an estimate and the measured
stitch it claims to beat is a fact. With every row measured this is the plain front.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["nondominated", "pareto_mask", "hypervolume", "front_indices"]


def nondominated(values: np.ndarray, directions: Sequence[str],
                 certain: Sequence[bool] | None = None) -> np.ndarray:
    """Mask of the rows no other row dominates (any number of objectives; ``directions`` are
    ``maximize``/``minimize``). Domination is strict: equal rows both stay. ``certain``: rows
    (measured ones) that only other certain rows can dominate (see the module docstring)."""
    if certain is not None:
        sure = np.asarray(certain, dtype=bool).reshape(-1)
        v = np.asarray(values, dtype=float)
        if len(sure) != len(v):
            raise ValueError("certain must have one entry per row")
        mask = nondominated(v, directions)
        if sure.any() and not sure.all():
            among = np.flatnonzero(sure)
            mask[among] = nondominated(v[among], directions)
        return mask
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] != len(directions):
        raise ValueError("values must be n x len(directions)")
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    m = v * sign  # all minimised
    n = len(m)
    mask = np.ones(n, dtype=bool)
    if m.shape[1] == 2:  # a sweep in O(n log n): by the second objective, then the first
        best = np.inf
        best_second = None
        for i in np.lexsort((m[:, 0], m[:, 1])):
            if m[i, 0] < best:
                best, best_second = m[i, 0], m[i, 1]
            elif m[i, 0] == best and m[i, 1] == best_second:
                pass  # an exact tie with the current best stays on the front
            else:
                mask[i] = False
        return mask
    for i in range(n):
        le = np.all(m <= m[i], axis=1)
        lt = np.any(m < m[i], axis=1)
        if np.any(le & lt):
            mask[i] = False
    return mask


def pareto_mask(acc: Sequence[float], cost: Sequence[float]) -> np.ndarray:
    """Boolean mask of the points no other point dominates (higher acc, lower cost)."""
    acc = np.asarray(acc, dtype=float).reshape(-1)
    cost = np.asarray(cost, dtype=float).reshape(-1)
    return nondominated(np.stack([acc, cost], axis=1), ("maximize", "minimize"))


def front_indices(acc: Sequence[float], cost: Sequence[float]) -> list[int]:
    """Indices of the front, by cost ascending."""
    mask = pareto_mask(acc, cost)
    idx = np.flatnonzero(mask)
    return [int(i) for i in idx[np.argsort(np.asarray(cost, dtype=float)[idx], kind="stable")]]


def hypervolume(acc: Sequence[float], cost: Sequence[float], ref_acc: float, ref_cost: float) -> float:
    """Area dominated by the points and bounded by (ref_acc, ref_cost).

    Accuracy is maximised, cost minimised; points worse than the reference add nothing. Use
    the same reference to compare fronts of one space.
    """
    acc = np.asarray(acc, dtype=float)
    cost = np.asarray(cost, dtype=float)
    if acc.shape != cost.shape or acc.ndim != 1:
        raise ValueError(f"hypervolume needs one cost per accuracy, got {acc.shape} accuracies and "
                         f"{cost.shape} costs")
    keep = (acc > ref_acc) & (cost < ref_cost)
    acc, cost = acc[keep], cost[keep]
    if len(acc) == 0:
        return 0.0
    idx = front_indices(acc, cost)
    total, best = 0.0, ref_acc
    costs = [cost[i] for i in idx] + [ref_cost]
    for k, i in enumerate(idx):
        best = max(best, acc[i])
        total += (best - ref_acc) * (costs[k + 1] - costs[k])
    return float(total)
