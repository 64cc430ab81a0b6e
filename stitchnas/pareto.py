"""Pareto fronts and hypervolume for accuracy (maximised) against a cost (minimised).

Ties are handled strictly: a point is dominated only by one at least as good in both and
better in one, so points with equal cost and accuracy both stay on the front.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["pareto_mask", "hypervolume", "front_indices"]


def pareto_mask(acc: Sequence[float], cost: Sequence[float]) -> np.ndarray:
    """Boolean mask of the points no other point dominates (higher acc, lower cost)."""
    acc = np.asarray(acc, dtype=float)
    cost = np.asarray(cost, dtype=float)
    n = len(acc)
    mask = np.ones(n, dtype=bool)
    order = np.lexsort((-acc, cost))  # by cost ascending, then accuracy descending
    best = -np.inf
    best_cost = None
    for i in order:
        if acc[i] > best:
            best, best_cost = acc[i], cost[i]
        elif acc[i] == best and cost[i] == best_cost:
            pass  # an exact tie with the current best stays on the front
        else:
            mask[i] = False
    return mask


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
