"""Which stitches to measure next: those most likely to be on the true front.

Measuring a stitch costs a validation pass, so the predictor should spend measurements where
they decide the front. :func:`suggest` fits the predictor on what is measured and, by default
(``acquisition="pareto"``), ranks each unmeasured stitch by its *probability of Pareto
optimality*: it draws ``samples`` joint samples of all accuracies from the predictor's
posterior (a GP's joint normal, a forest's trees, else independent normals of mean and std),
keeps measured stitches at their measured accuracy, forms each sample's front (accuracy against
cost) and counts how often each stitch is on it. Each draw also lifts or lowers every route of
one anchor sequence together (``shape_spread``: a shape nobody measured is uncertain as a whole,
which the predictor's own spread, learnt from other shapes, does not say). A batch is the ``k``
most frequent (ties: cheaper, then lower id). This is Thompson-style: it spends measurements on
stitches that could decide the front, wherever they are, and does not depend on how cost is
scaled. ``kappa`` widens (>1) or narrows (<1) the posterior spread; 0 ranks the predicted mean's
front first.
Seeded: the same inputs and ``seed`` give the same picks.

``acquisition="optimistic"`` is the earlier rule: the largest optimistic hypervolume gain (mean
plus ``kappa`` std, accuracy against log-cost), each pick joining the front at its predicted
mean (the "kriging believer"). Unmeasured anchors come first under both: they anchor the
predictor's accuracy features.

:func:`active_curve` compares this with measuring random stitches on a fully measured table:
the true hypervolume of the predicted front as measurements grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from ..errors import StitchnasError
from ._features import Stitch
from ._fit import FittedPredictor, fit_on_measured
from ..measure import Measurement
from ..pareto import front_indices, hypervolume, pareto_mask
from ._predictors import FlopsBaseline, _tree_predictions, create_predictor, predict_with_std
from ..space import Candidate, SearchSpace, load_space

Signals = Optional[Mapping[int, Mapping[str, float]]]  # proxy scores by candidate id

__all__ = ["Suggestion", "suggest", "measurement_plan", "ACQUISITIONS", "predicted_front", "nadir_reference",
           "cost_of", "fitted_accuracy", "SHAPE_SPREAD"]


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


def cost_of(stitches: Sequence[Stitch], cost: str) -> np.ndarray:
    """Each stitch's ``flops`` or ``params``, the costs suggest ranks by."""
    if cost not in ("flops", "params"):
        raise StitchnasError(f"suggest ranks by cost 'flops' or 'params', not {cost!r}")
    return np.array([getattr(s, cost) for s in stitches], dtype=float)


def _fitted(space: SearchSpace, rows: Sequence[Measurement], predictor: Any, seed: int,
            signals: Signals = None) -> FittedPredictor:
    """The predictor fitted on ``rows`` (at least two: the anchors, say)."""
    rows = list(rows)
    if len(rows) < 2:
        anchors = ",".join(str(c.id) for c in space.candidates if c.is_anchor)
        raise StitchnasError(f"{len(rows)} measured stitch(es): measure at least the anchors "
                             f"(`stitchnas evaluate {space.given_as} --ids {anchors}`) before asking for "
                             "suggestions")
    return fit_on_measured(space, rows, predictor, random_state=seed, signals=signals)


def _mean_std(fit: FittedPredictor, seed: int):
    """The fitted predictor's mean and std; a GP supplies the std for a predictor without one."""
    mean, std = fit.predict()
    if std is None:
        gp = create_predictor("gp", random_state=seed).fit(fit.train, fit.y)
        _, std = predict_with_std(gp, fit.stitches)
    return np.asarray(mean, dtype=float), np.maximum(np.asarray(std, dtype=float), 0.0)


def fitted_accuracy(space: SearchSpace, rows: Sequence[Measurement], predictor: Any, seed: int,
                    signals: Signals = None):
    """``(stitches, measured positions, mean, std, accuracy)``: the predictor fitted on ``rows``,
    its mean and std on every candidate, and the accuracy (measured where measured)."""
    fit = _fitted(space, rows, predictor, seed, signals)
    mean, std = _mean_std(fit, seed)
    return fit.stitches, fit.measured, mean, std, fit.accuracy(mean)


ACQUISITIONS = ("pareto", "optimistic")
SHAPE_SPREAD = 0.5  # the best of a grid on five measured tables (docs/search.md)
_MAX_JOINT = 2000  # above this many candidates, sample accuracies independently (no n x n covariance)


def _posterior_draws(space: SearchSpace, rows: Sequence[Measurement], predictor: Any, seed: int,
                     n: int, kappa: float, shape_spread: float = 0.0, signals: Signals = None):
    """``n`` samples of every candidate's accuracy from the predictor fitted on ``rows`` (measured
    stitches held at their measured accuracy); also the stitches, the measured indices, the mean
    and std. A GP gives joint samples, a tree ensemble (also the route
    model inside ``auto``) its trees' predictions,
    any other predictor independent normals of its mean and std (a GP's std where it has none).
    ``kappa`` scales each sample's spread about the mean; ``shape_spread`` adds one offset per
    route shape and draw (:func:`_add_shape_offsets`)."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.pipeline import Pipeline

    from ._predictors import AutoPredictor, ForestPredictor, RoutePredictor

    fit = _fitted(space, rows, predictor, seed, signals)
    stitches, measured, y, model = fit.stitches, fit.measured, fit.y, fit.model
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
        per_tree = _tree_predictions(est.forest_, est.features_.transform(stitches))
        mean, std = per_tree.mean(axis=0), per_tree.std(axis=0)
        dev = per_tree[rng.integers(0, len(per_tree), n)] - mean
    elif isinstance(est, RoutePredictor):  # its trees, each averaged with the ridge line
        per_tree, _ = est.per_tree(stitches)
        mean, std = est.predict(stitches, return_std=True)
        dev = per_tree[rng.integers(0, len(per_tree), n)] - per_tree.mean(axis=0)
    else:
        mean, std = _mean_std(fit, seed)
        dev = rng.standard_normal((n, len(mean))) * std
    mean = np.asarray(mean, dtype=float)
    draws = mean + kappa * dev
    _add_shape_offsets(draws, stitches, measured, y, rng, kappa * shape_spread)
    draws[:, measured] = y
    return stitches, measured, mean, np.maximum(np.asarray(std, dtype=float), 0.0), draws


def _add_shape_offsets(draws: np.ndarray, stitches: Sequence[Stitch], measured: Sequence[int],
                       y: np.ndarray, rng: np.random.Generator, spread: float) -> None:
    """Add to each draw one offset per *shape* (a route's anchor sequence), shared by every
    route of it: normal, with ``spread`` times the measured top-1's spread about the FLOPs trend
    as its std, the variance divided by ``1 + m`` for a shape with ``m`` measured routes. Routes
    of one shape rise or fall together, so a shape nobody measured yet is uncertain as a whole,
    which trees fitted on other shapes do not say; the draws then spend a measurement on it
    where a lift would put it on the front."""
    if spread <= 0 or len(measured) < 2:
        return
    sigma = spread * FlopsBaseline().fit([stitches[i] for i in measured], y).resid_std_
    members: dict[tuple[int, ...], list[int]] = {}
    for i, s in enumerate(stitches):
        members.setdefault(s.route.anchors, []).append(i)
    seen = {shape: 0 for shape in members}
    for i in measured:
        seen[stitches[i].route.anchors] += 1
    for shape in sorted(members):
        cols = members[shape]
        draws[:, cols] += rng.standard_normal((len(draws), 1)) * (sigma / np.sqrt(1 + seen[shape]))


def suggest(space: SearchSpace | str, rows: Sequence[Measurement], k: int = 8, predictor: Any = None,
            cost: str = "flops", kappa: float = 1.0, seed: int = 0, acquisition: str = "pareto",
            samples: int = 1024, shape_spread: float = SHAPE_SPREAD,
            signals: Signals = None) -> list[Suggestion]:
    """Up to ``k`` unmeasured stitches to measure next, best first (see the module docstring);
    ``signals``: every candidate's proxy scores by id, for the predictor. ``space``: a
    :class:`SearchSpace`, a bundled name or a YAML path."""
    space = load_space(space)
    if k < 1:
        raise StitchnasError(f"--k must be a positive number of stitches, got {k}")
    if acquisition not in ACQUISITIONS:
        raise StitchnasError(f"acquisition must be one of {', '.join(ACQUISITIONS)}, not {acquisition!r}")
    if acquisition == "optimistic":
        return _suggest_optimistic(space, rows, k, predictor, cost, kappa, seed, signals)
    if not (np.isfinite(kappa) and kappa >= 0):
        raise StitchnasError(f"--kappa must be a number >= 0 (the posterior's spread), got {kappa}")
    if samples < 1:
        raise StitchnasError(f"samples must be a positive number, got {samples}")
    if not (np.isfinite(shape_spread) and shape_spread >= 0):
        raise StitchnasError(f"--shape-spread must be a number >= 0 (0: no per-shape offsets), "
                             f"got {shape_spread}")
    stitches, measured, mean, std, draws = _posterior_draws(space, rows, predictor, seed, samples, kappa,
                                                            shape_spread, signals)
    c = cost_of(stitches, cost)
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


def measurement_plan(space: SearchSpace, measure: Callable[[Sequence[int]], Sequence[Measurement]],
                     total: int | None = None, *, initial: int = 4, per_round: int = 1,
                     rounds: int | None = None, predictor: Any = None, cost: str = "flops",
                     seed: int = 0, shape_spread: float = SHAPE_SPREAD,
                     signals: Signals = None) -> list[Measurement]:
    """What `stitchnas run` measures, and `stitchnas bench search --choose suggest` replays: the
    anchors and random stitches (drawn with ``seed``, one per route shape while shapes are left)
    up to ``initial``, then rounds of ``per_round`` stitches from :func:`suggest`, each round
    seeing the last, until ``total`` are measured, or for ``rounds`` rounds (give one of the two).
    ``measure(ids)`` measures those ids and returns every row measured so far (rows it already had
    count towards ``total``); ``signals``: proxy scores by id, for the predictor."""
    if initial < 0 or per_round < 1 or (rounds is not None and rounds < 0):
        raise StitchnasError(f"initial and rounds must be >= 0 and per_round >= 1, got {initial}, "
                             f"{rounds} and {per_round}")
    if (total is None) == (rounds is None):
        raise StitchnasError("give measurement_plan either total or rounds, not both or neither")
    anchors = [c.id for c in space.candidates if c.is_anchor]
    others = [c for c in space.candidates if not c.is_anchor]
    first = max(len(anchors), initial)
    total = min(first + rounds * per_round if total is None else total, len(space))
    drawn = _one_per_shape(others, max(0, min(first, total) - len(anchors)), seed)
    rows = list(measure(anchors + drawn))
    while len(rows) < total:
        picks = suggest(space, rows, k=min(per_round, total - len(rows)), predictor=predictor,
                        cost=cost, seed=seed, shape_spread=shape_spread, signals=signals)
        if not picks:
            break
        rows = list(measure([p.id for p in picks]))
    return rows


def _one_per_shape(candidates: Sequence[Candidate], n: int, seed: int) -> list[int]:
    """The ids of ``n`` of ``candidates`` in a random order (``seed``), each from a route shape
    (anchor sequence) not drawn yet while one is left: a few random stitches that cover the shapes
    tell the predictor more than as many from one shape."""
    order = [candidates[i] for i in np.random.default_rng(seed).permutation(len(candidates))]
    picks: list[int] = []
    shapes: set[tuple[int, ...]] = set()
    for c in order:
        if len(picks) == n:
            return picks
        if c.route.anchors not in shapes:
            picks.append(c.id)
            shapes.add(c.route.anchors)
    taken = set(picks)
    return picks + [c.id for c in order if c.id not in taken][: n - len(picks)]


def _unmeasured_anchors(space, stitches, measured_set, mean, std, cost, k) -> list[Suggestion]:
    out: list[Suggestion] = []
    for i, s in enumerate(stitches):
        if s.is_anchor and i not in measured_set and len(out) < k:
            out.append(Suggestion(s.id, space.describe(s.route), float(mean[i]), float(std[i]),
                                  float(cost[i]), 0.0, "unmeasured anchor"))
            measured_set.add(i)
    return out


def _suggest_optimistic(space: SearchSpace, rows: Sequence[Measurement], k: int, predictor: Any,
                        cost: str, kappa: float, seed: int, signals: Signals = None) -> list[Suggestion]:
    """The optimistic hypervolume gain with the kriging believer (``acquisition="optimistic"``)."""
    stitches, measured, mean, std, _ = fitted_accuracy(space, rows, predictor, seed, signals)
    c = np.log(cost_of(stitches, cost))
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
    return front_indices(acc, cost_of(stitches, cost))


def nadir_reference(acc: np.ndarray, cost: np.ndarray, pad: float = 0.1) -> tuple[float, float]:
    """Hypervolume reference just beyond a front's worst corner (``pad`` of each range), so the
    hypervolume measures the front itself rather than the empty space below it."""
    span_a = float(acc.max() - acc.min()) or 1.0
    span_c = float(cost.max() - cost.min()) or 1.0
    return float(acc.min()) - pad * span_a, float(cost.max()) + pad * span_c
