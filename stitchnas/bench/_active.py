"""``stitchnas bench active``: choosing what to measure with :func:`~stitchnas.predict.suggest`
against choosing at random, on a fully measured table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .._util import counted
from ..errors import StitchnasError
from ..measure import Measurement
from ..pareto import front_indices, hypervolume
from ..predict import cost_of, fitted_accuracy, make_stitches, nadir_reference, suggest
from ..space import SearchSpace

__all__ = ["CurvePoint", "active_curve", "bench_active"]


@dataclass(frozen=True)
class CurvePoint:
    strategy: str
    measured: int
    seed: int
    hv_ratio: float


def active_curve(space: SearchSpace, truth: Sequence[Measurement], *, predictor: Any = "gp",
                 start: int = 6, stop: int = 40, step: int = 4, seeds: Sequence[int] = range(5),
                 cost: str = "flops", progress: bool | None = None) -> list[CurvePoint]:
    """Active (:func:`suggest`) against random measurement on a fully measured table.

    Both start from the anchors plus random stitches (``start`` in all, seeded) and add ``step``
    measurements at a time up to ``stop`` (or every candidate, if fewer). At each size the
    predictor is fitted on what is measured, the predicted front is formed (measured accuracy
    where measured, predicted elsewhere) and scored with the true accuracies: its hypervolume
    over the true front's, both against log-cost from the true front's nadir
    (:func:`nadir_reference`).
    """
    from tqdm.auto import tqdm

    truth = list(truth)
    by_id = {m.id: m for m in truth}
    missing = [c.id for c in space.candidates if c.id not in by_id]
    if missing:
        raise StitchnasError(f"the active-learning curve needs every candidate measured; {len(missing)} "
                             f"are not (e.g. id {missing[0]}): measure them with `stitchnas evaluate`")
    all_stitches = make_stitches(space, truth)
    true_acc = np.array([by_id[s.id].acc1 for s in all_stitches])
    costs = np.log(cost_of(all_stitches, cost))
    true_front = front_indices(true_acc, costs)
    ref_acc, ref_cost = nadir_reference(true_acc[true_front], costs[true_front])
    hv_true = hypervolume(true_acc[true_front], costs[true_front], ref_acc, ref_cost)
    anchors = [m for m in truth if m.route.num_stitches == 0]
    others = [m for m in truth if m.route.num_stitches > 0]
    if start >= len(truth):
        raise StitchnasError(
            f"{space.given_as} has {len(truth)} candidates and the curve starts from {start} measured "
            f"(--start), leaving none to choose: lower --start below {len(truth)}")
    sizes = [n for n in range(start, stop + 1, step) if n <= len(truth)]  # none past every candidate
    from ..progress import show_bars

    show = show_bars(progress)
    bar = tqdm(total=len(list(seeds)) * len(sizes) * 2, desc="active vs random", disable=not show)
    points = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        first = anchors + [others[i] for i in rng.permutation(len(others))[: max(0, start - len(anchors))]]
        for strategy in ("active", "random"):
            rows = list(first)
            rng_s = np.random.default_rng(seed + 1000)
            for size in sizes:
                while len(rows) < size:
                    need = size - len(rows)
                    have = {m.id for m in rows}
                    if strategy == "active":
                        picks = [s.id for s in suggest(space, rows, need, predictor, cost, seed=seed)]
                    else:
                        pool = [m.id for m in truth if m.id not in have]
                        picks = [pool[i] for i in rng_s.permutation(len(pool))[:need]]
                    rows += [by_id[i] for i in picks]
                _, _, _, _, acc = fitted_accuracy(space, rows, predictor, seed)
                front = front_indices(acc, costs)
                hv = hypervolume(true_acc[front], costs[front], ref_acc, ref_cost)
                points.append(CurvePoint(strategy, len(rows), int(seed), hv / hv_true))
                bar.update()
    bar.close()
    return points


def bench_active(space: SearchSpace, truth: Sequence[Measurement], out_dir, *, predictor: Any = "gp",
                 start: int = 4, stop: int = 32, step: int = 4, seeds: Sequence[int] = range(10),
                 cost: str = "flops", progress: bool | None = None) -> dict[str, Any]:
    """:func:`active_curve`, summarised (mean per size and strategy), saved as JSON and PNG."""
    import time
    from pathlib import Path

    from ..fileio import write_json
    from ..plots import plot_curves

    t0 = time.perf_counter()
    points = active_curve(space, truth, predictor=predictor, start=start, stop=stop, step=step,
                          seeds=seeds, cost=cost, progress=progress)
    sizes = sorted({p.measured for p in points})
    mean = {s: {st: float(np.mean([p.hv_ratio for p in points if p.strategy == st and p.measured == s]))
                for st in ("active", "random")} for s in sizes}
    report = {
        "space": space.name, "candidates": len(space), "predictor": str(predictor), "cost": cost,
        "seeds": list(seeds), "sizes": sizes,
        "hv_ratio_active": [round(mean[s]["active"], 4) for s in sizes],
        "hv_ratio_random": [round(mean[s]["random"], 4) for s in sizes],
        "area_active": round(float(np.mean([mean[s]["active"] for s in sizes])), 4),
        "area_random": round(float(np.mean([mean[s]["random"] for s in sizes])), 4),
        "sizes_active_ahead": sum(mean[s]["active"] > mean[s]["random"] for s in sizes),
        "sizes_random_ahead": sum(mean[s]["active"] < mean[s]["random"] for s in sizes),
        "seconds": round(time.perf_counter() - t0, 1),
        "points": [p.__dict__ for p in points],
    }
    out_dir = Path(out_dir)
    write_json(out_dir / f"active_{space.name}.json", report)
    plot_curves(
        out_dir / f"active_{space.name}.png",
        {"suggest (active)": (sizes, report["hv_ratio_active"]),
         "random": (sizes, report["hv_ratio_random"])},
        xlabel="stitches measured", ylabel="true hypervolume of the predicted front / true front's",
        title=(f"{space.name}: choosing what to measure ({predictor}, "
               f"mean of {counted(len(list(seeds)), 'seed')})"),
    )
    return report
