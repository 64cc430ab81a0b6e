"""Which stitches to measure next: those most likely to be on the true front.

Measuring a stitch costs a validation pass, so the predictor should spend measurements where
they decide the front. :func:`suggest` fits the predictor on what is measured and, by default
(``acquisition="pareto"``), ranks each unmeasured stitch by its *probability of Pareto
optimality*: it draws ``samples`` joint samples of all accuracies from the predictor's
posterior (a GP's joint normal, a forest's trees, else independent normals of mean and std),
keeps measured stitches at their measured accuracy, forms each sample's front (accuracy against
cost) and counts how often each stitch is on it. A batch is the ``k`` most frequent (ties:
cheaper, then lower id). This is Thompson-style: it spends measurements on stitches that could
decide the front, wherever they are, and does not depend on how cost is scaled. ``kappa``
widens (>1) or narrows (<1) the posterior spread; 0 ranks the predicted mean's front first.
Seeded: the same inputs and ``seed`` give the same picks.

``acquisition="optimistic"`` is the earlier rule: the largest optimistic hypervolume gain (mean
plus ``kappa`` std, accuracy against log-cost), each pick joining the front at its predicted
mean (the "kriging believer"). Unmeasured anchors come first under both: they anchor the
predictor's accuracy features.

:func:`active_curve` compares this with measuring random stitches on a fully measured table:
the true hypervolume of the predicted front as measurements grow.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import StitchnasError
from ._features import Stitch, make_stitches
from ..measure import Measurement
from ..pareto import front_indices, hypervolume, pareto_mask
from ._predictors import create_predictor, predict_with_std
from ..space import SearchSpace

__all__ = ["Suggestion", "suggest", "ACQUISITIONS", "predicted_front", "active_curve", "CurvePoint",
           "nadir_reference"]


@dataclass(frozen=True)
class Suggestion:
    """A stitch worth measuring: its predicted top-1 (mean, std, percent), cost (``flops`` by
    default) and the score that ranked it (0 for unmeasured anchors): its probability of being
    on the front (``acquisition="pareto"``) or its optimistic hypervolume gain."""

    id: int
    route: str
    acc1_pred: float
    acc1_std: float
    cost: float
    gain: float
    reason: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _cost(stitches: Sequence[Stitch], cost: str) -> np.ndarray:
    if cost not in ("flops", "params"):
        raise StitchnasError(f"suggest ranks by cost 'flops' or 'params', not {cost!r}")
    return np.array([getattr(s, cost) for s in stitches], dtype=float)


def _measured(space: SearchSpace, rows: Sequence[Measurement]):
    """Every candidate as a stitch, the indices of the measured ones and their top-1."""
    rows = list(rows)
    if len(rows) < 2:
        raise StitchnasError(f"{len(rows)} measured stitch(es): measure at least the anchors "
                             "(`stitchnas evaluate SPACE --ids 0,1,...`) before asking for suggestions")
    stitches = make_stitches(space, rows)
    by_id = {s.id: i for i, s in enumerate(stitches)}
    return stitches, [by_id[m.id] for m in rows], np.array([m.acc1 for m in rows], dtype=float)


def _mean_std(model: Any, stitches, train, y, seed: int):
    """The fitted predictor's mean and std; a GP supplies the std for a predictor without one."""
    mean, std = predict_with_std(model, stitches)
    if std is None:
        _, std = predict_with_std(create_predictor("gp", random_state=seed).fit(train, y), stitches)
    return np.asarray(mean, dtype=float), np.maximum(np.asarray(std, dtype=float), 0.0)


def _fit(space: SearchSpace, rows: Sequence[Measurement], predictor: Any, seed: int):
    stitches, measured, y = _measured(space, rows)
    train = [stitches[i] for i in measured]
    model = create_predictor(predictor, random_state=seed).fit(train, y)
    mean, std = _mean_std(model, stitches, train, y, seed)
    acc = mean.copy()
    acc[measured] = y
    return stitches, measured, mean, std, acc


ACQUISITIONS = ("pareto", "optimistic")
_MAX_JOINT = 2000  # above this many candidates, sample accuracies independently (no n x n covariance)


def _posterior_draws(space: SearchSpace, rows: Sequence[Measurement], predictor: Any, seed: int,
                     n: int, kappa: float):
    """``n`` samples of every candidate's accuracy from the predictor fitted on ``rows`` (measured
    stitches held at their measured accuracy); also the stitches, the measured indices, the mean
    and std. A GP (also inside ``auto``) gives joint samples, a tree ensemble its trees' predictions,
    any other predictor independent normals of its mean and std (a GP's std where it has none).
    ``kappa`` scales each sample's spread about the mean."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.pipeline import Pipeline

    from ._predictors import AutoPredictor, ForestPredictor

    stitches, measured, y = _measured(space, rows)
    train = [stitches[i] for i in measured]
    model = create_predictor(predictor, random_state=seed).fit(train, y)
    est = model.model_ if isinstance(model, AutoPredictor) else model
    rng = np.random.default_rng(seed)
    gp = est.steps[-1][1] if isinstance(est, Pipeline) else est
    if isinstance(gp, GaussianProcessRegressor) and len(stitches) <= _MAX_JOINT:
        F = est[:-1].transform(stitches) if isinstance(est, Pipeline) else stitches
        mean, cov = gp.predict(F, return_cov=True)
        w, V = np.linalg.eigh((cov + cov.T) / 2)
        root = V * np.sqrt(np.clip(w, 0.0, None))
        dev = rng.standard_normal((n, len(mean))) @ root.T
        std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    elif isinstance(est, ForestPredictor):
        per_tree = np.stack([t.predict(est.features_.transform(stitches)) for t in est.forest_.estimators_])
        mean, std = per_tree.mean(axis=0), per_tree.std(axis=0)
        dev = per_tree[rng.integers(0, len(per_tree), n)] - mean
    else:
        mean, std = _mean_std(model, stitches, train, y, seed)
        dev = rng.standard_normal((n, len(mean))) * std
    mean = np.asarray(mean, dtype=float)
    draws = mean + kappa * dev
    draws[:, measured] = y
    return stitches, measured, mean, np.maximum(np.asarray(std, dtype=float), 0.0), draws


def suggest(space: SearchSpace, rows: Sequence[Measurement], k: int = 8, predictor: Any = None,
            cost: str = "flops", kappa: float = 1.0, seed: int = 0, acquisition: str = "pareto",
            samples: int = 1024) -> list[Suggestion]:
    """Up to ``k`` unmeasured stitches to measure next, best first (see the module docstring)."""
    if k < 1:
        raise StitchnasError(f"--k must be a positive number of stitches, got {k}")
    if acquisition not in ACQUISITIONS:
        raise StitchnasError(f"acquisition must be one of {', '.join(ACQUISITIONS)}, not {acquisition!r}")
    if acquisition == "optimistic":
        return _suggest_optimistic(space, rows, k, predictor, cost, kappa, seed)
    if not (np.isfinite(kappa) and kappa >= 0):
        raise StitchnasError(f"--kappa must be a number >= 0 (the posterior's spread), got {kappa}")
    if samples < 1:
        raise StitchnasError(f"samples must be a positive number, got {samples}")
    stitches, measured, mean, std, draws = _posterior_draws(space, rows, predictor, seed, samples, kappa)
    c = _cost(stitches, cost)
    measured_set = set(measured)
    out = _unmeasured_anchors(space, stitches, measured_set, mean, std, c, k)
    freq = np.zeros(len(stitches))
    for d in draws:
        freq[pareto_mask(d, c)] += 1
    freq /= len(draws)
    pool = [i for i in range(len(stitches)) if i not in measured_set]
    ids = np.array([s.id for s in stitches])
    for i in sorted(pool, key=lambda i: (-freq[i], c[i], ids[i]))[: k - len(out)]:
        s = stitches[i]
        out.append(Suggestion(s.id, space.describe(s.route), float(mean[i]), float(std[i]),
                              float(c[i]), float(freq[i]), "probability on the front"))
    return out


def _unmeasured_anchors(space, stitches, measured_set, mean, std, cost, k) -> list[Suggestion]:
    out: list[Suggestion] = []
    for i, s in enumerate(stitches):
        if s.is_anchor and i not in measured_set and len(out) < k:
            out.append(Suggestion(s.id, space.describe(s.route), float(mean[i]), float(std[i]),
                                  float(cost[i]), 0.0, "unmeasured anchor"))
            measured_set.add(i)
    return out


def _suggest_optimistic(space: SearchSpace, rows: Sequence[Measurement], k: int, predictor: Any,
                        cost: str, kappa: float, seed: int) -> list[Suggestion]:
    """The optimistic hypervolume gain with the kriging believer (``acquisition="optimistic"``)."""
    stitches, measured, mean, std, _ = _fit(space, rows, predictor, seed)
    c = np.log(_cost(stitches, cost))
    measured_set = set(measured)
    out = _unmeasured_anchors(space, stitches, measured_set, mean, std, np.exp(c), k)
    front_acc = [float(m.acc1) for m in rows]
    front_cost = [float(c[i]) for i in measured]
    ref_acc = float(min(mean.min(), min(front_acc))) - 1.0
    ref_cost = float(c.max()) + 0.1
    base = hypervolume(front_acc, front_cost, ref_acc, ref_cost)
    pool = [i for i in range(len(stitches)) if i not in measured_set]
    while len(out) < k and pool:
        gains = np.array([
            hypervolume(front_acc + [mean[i] + kappa * std[i]], front_cost + [c[i]], ref_acc, ref_cost) - base
            for i in pool])
        order = np.lexsort((np.array([stitches[i].id for i in pool]), c[pool], -gains))
        best = pool[order[0]]
        s = stitches[best]
        out.append(Suggestion(s.id, space.describe(s.route), float(mean[best]), float(std[best]),
                              float(np.exp(c[best])), float(gains[order[0]]),
                              "optimistic hypervolume gain"))
        front_acc.append(float(mean[best]))
        front_cost.append(float(c[best]))
        base = hypervolume(front_acc, front_cost, ref_acc, ref_cost)
        pool.remove(best)
    return out


def predicted_front(stitches: Sequence[Stitch], acc: np.ndarray, cost: str = "flops") -> list[int]:
    """Indices of the front of predicted (or measured) accuracy against cost."""
    return front_indices(acc, _cost(stitches, cost))


def nadir_reference(acc: np.ndarray, cost: np.ndarray, pad: float = 0.1) -> tuple[float, float]:
    """Hypervolume reference just beyond a front's worst corner (``pad`` of each range), so the
    hypervolume measures the front itself rather than the empty space below it."""
    span_a = float(acc.max() - acc.min()) or 1.0
    span_c = float(cost.max() - cost.min()) or 1.0
    return float(acc.min()) - pad * span_a, float(cost.max()) + pad * span_c


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
    measurements at a time up to ``stop``. At each size the predictor is fitted on what is
    measured, the predicted front is formed (measured accuracy where measured, predicted
    elsewhere) and scored with the true accuracies: its hypervolume over the true front's, both
    against log-cost from the true front's nadir (:func:`nadir_reference`).
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
    costs = np.log(_cost(all_stitches, cost))
    true_front = front_indices(true_acc, costs)
    ref_acc, ref_cost = nadir_reference(true_acc[true_front], costs[true_front])
    hv_true = hypervolume(true_acc[true_front], costs[true_front], ref_acc, ref_cost)
    anchors = [m for m in truth if m.route.num_stitches == 0]
    others = [m for m in truth if m.route.num_stitches > 0]
    sizes = list(range(start, stop + 1, step))
    show = sys.stderr.isatty() if progress is None else progress
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
                _, _, _, _, acc = _fit(space, rows, predictor, seed)
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
        title=f"{space.name}: choosing what to measure ({predictor}, mean of {len(list(seeds))} seeds)",
    )
    return report
