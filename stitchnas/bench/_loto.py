"""``stitchnas bench predictor-loto``: the route model's ``shrink`` chosen leave-one-table-out.

Every table is split as ``predictor-cv`` splits it (``repeats`` random splits, ``train_fraction``
measured, the rest scored by Kendall's tau). On each split the FLOPs baseline and the route model
(``shrink=0``) are fitted once; ``RoutePredictor(shrink=k)`` predicts exactly
``n/(n+k)`` of the second plus the rest of the first, so every ``k`` of the grid is scored on the
same fits. The choice is then made as a user of a new family would meet it: for each space in
turn, ``k`` is chosen on the *other* spaces' two-way tables (largest mean tau margin over FLOPs)
and reported on the held-out one. One-way tables (every route climbs to larger anchors) are
scored but not used to choose: there ``auto`` keeps the FLOPs baseline.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..measure import Measurement
from ..space import SearchSpace

__all__ = ["bench_predictor_loto", "SHRINK_GRID"]

SHRINK_GRID = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 20.0, 40.0)


def _two_way(stitches) -> bool:
    """Whether some route steps down to a smaller anchor (SN-Netv2's two-way stitching)."""
    for s in stitches:
        sizes = [s.anchor_flops[a] for a in s.route.anchors]
        if any(b < a for a, b in zip(sizes, sizes[1:])):
            return True
    return False


def _table_taus(space: SearchSpace, rows: Sequence[Measurement], shrinks: Sequence[float],
                train_fraction: float, repeats: int, seed: int) -> tuple[dict[float, list[float]], list[float], bool]:
    from scipy.stats import kendalltau

    from ..predict import FlopsBaseline, RoutePredictor, make_stitches, split

    rows = list(rows)
    n = len(rows)
    k = int(round(train_fraction * n))
    cands = [space.candidate(m.id) for m in rows]
    y = np.array([m.acc1 for m in rows])
    taus: dict[float, list[float]] = {s: [] for s in shrinks}
    flops_taus: list[float] = []
    two_way = _two_way(make_stitches(space, candidates=cands))
    for r in range(repeats):
        tr, te = split(n, k, seed + r)
        st = make_stitches(space, [rows[i] for i in tr], candidates=cands)
        xtr, xte = [st[i] for i in tr], [st[i] for i in te]
        f = FlopsBaseline().fit(xtr, y[tr]).predict(xte)
        route = RoutePredictor(random_state=seed + r).fit(xtr, y[tr]).predict(xte)
        flops_taus.append(float(np.nan_to_num(kendalltau(f, y[te]).statistic)))
        for s in shrinks:
            w = len(tr) / (len(tr) + s)
            taus[s].append(float(np.nan_to_num(kendalltau(w * route + (1 - w) * f, y[te]).statistic)))
    return taus, flops_taus, two_way


def bench_predictor_loto(tables: Sequence[tuple[SearchSpace, Sequence[Measurement], str]],
                         shrinks: Sequence[float] = SHRINK_GRID, *, train_fraction: float = 0.2,
                         repeats: int = 20, seed: int = 0, progress: bool | None = None) -> dict[str, Any]:
    """Score every ``shrink`` on every table and choose it leave-one-space-out (module docstring)."""
    from tqdm.auto import tqdm

    from ..progress import show_bars

    out: dict[str, Any] = {"train_fraction": train_fraction, "repeats": repeats, "seed": seed,
                           "shrinks": list(shrinks), "tables": {}}
    for space, rows, label in tqdm(tables, desc="tables", disable=not show_bars(progress)):
        taus, flops_taus, two_way = _table_taus(space, rows, shrinks, train_fraction, repeats, seed)
        out["tables"][label] = {
            "space": space.name, "rows": len(rows), "two_way": two_way,
            "flops_tau": float(np.mean(flops_taus)),
            "tau": {str(s): float(np.mean(v)) for s, v in taus.items()},
        }
    t = out["tables"]

    def margin(label: str, s: float) -> float:
        return t[label]["tau"][str(s)] - t[label]["flops_tau"]

    def choose(labels: Sequence[str]) -> float | None:
        judged = [lb for lb in labels if t[lb]["two_way"]]
        if not judged:
            return None
        return max(shrinks, key=lambda s: (np.mean([margin(lb, s) for lb in judged]), -s))

    out["chosen_on_all"] = choose(list(t))
    out["held_out"] = {}
    for space_name in dict.fromkeys(v["space"] for v in t.values()):
        held = [lb for lb in t if t[lb]["space"] == space_name]
        s = choose([lb for lb in t if t[lb]["space"] != space_name])
        out["held_out"][space_name] = {
            "shrink": s, "tables": {lb: {"tau": t[lb]["tau"][str(s)] if s is not None else None,
                                         "flops_tau": t[lb]["flops_tau"],
                                         "margin": margin(lb, s) if s is not None else None}
                                    for lb in held}}
    return out
