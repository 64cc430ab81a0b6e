"""A plug-in accuracy predictor, and the check behind docs/predictors.md's "per-shape trends".

The classes follow stitchnas's predictor protocol (scikit-learn's: ``__init__`` stores its
arguments, ``fit(stitches, acc1)`` returns self, ``predict(stitches, return_std=False)``), so
any command takes them by dotted path with this folder on ``PYTHONPATH``::

    PYTHONPATH=examples stitchnas bench predictors --table SPACE=TABLE \\
        --predictors route,shape_trends:RouteOnShapeTrends,shape_trends:gated

- ``ShapeTrends``: a line in relative log-FLOPs, plus a level and a slope per route shape (anchor
  sequence), shrunk toward the pooled line (ridge ``alpha``).
- ``RouteOnShapeTrends``: the ``route`` model fitted to what ``ShapeTrends`` leaves.
- ``GatedShapeTrends``: ``RouteOnShapeTrends`` only when the measured rows' own order within
  shapes follows FLOPs (Kendall tau over pairs of one shape >= ``threshold``), else ``route``.

Not the default: they lose on the Fashion-MNIST tables, which do not follow FLOPs within shapes.
``python examples/shape_trends.py OUT.jsonl --variant a`` writes the synthetic table (DeiT-III
S/L's 134 routes, top-1 following FLOPs within shapes) that docs/predictors.md judged them on.
"""

from __future__ import annotations

import argparse
import itertools
import math

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

__all__ = ["ShapeTrends", "RouteOnShapeTrends", "GatedShapeTrends", "within_shape_tau",
           "synthetic_table"]


def _shape_and_flops(stitches) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Each stitch's anchor sequence and its log-FLOPs on the family's 0..1 scale (the default
    predictor's ``flops_rel`` feature)."""
    from stitchnas.predict import RouteFeaturizer

    features = RouteFeaturizer()
    rel = features.fit(stitches).transform(stitches)[:, list(features.NAMES).index("flops_rel")]
    return [s.route.anchors for s in stitches], rel


class ShapeTrends(RegressorMixin, BaseEstimator):
    """A pooled line in relative log-FLOPs, plus a ridge-shrunk level and slope per route shape."""

    def __init__(self, alpha: float = 5.0, random_state: int | None = 0) -> None:
        self.alpha = alpha
        self.random_state = random_state

    def _design(self, shapes, rel) -> np.ndarray:
        k = len(self.shapes_)
        D = np.zeros((len(rel), 2 + 2 * k))
        D[:, 0], D[:, 1] = 1.0, rel - self.center_
        for i, shape in enumerate(shapes):
            j = self.shapes_.get(shape)
            if j is not None:  # a shape no measured row has: the pooled line alone
                D[i, 2 + j], D[i, 2 + k + j] = 1.0, rel[i] - self.center_
        return D

    def fit(self, X, y) -> ShapeTrends:
        shapes, rel = _shape_and_flops(X)
        y = np.asarray(y, dtype=float)
        self.shapes_ = {s: i for i, s in enumerate(sorted(set(shapes)))}
        self.center_ = float(rel.mean())
        D = self._design(shapes, rel)
        penalty = np.diag([1e-9, 1e-9] + [self.alpha] * (D.shape[1] - 2))
        self.coef_ = np.linalg.solve(D.T @ D + penalty, D.T @ y)
        self.sigma_ = float(np.sqrt(np.mean((y - D @ self.coef_) ** 2))) + 1e-3
        return self

    def predict(self, X, return_std: bool = False):
        mean = self._design(*_shape_and_flops(X)) @ self.coef_
        return (mean, np.full(len(mean), self.sigma_)) if return_std else mean


class RouteOnShapeTrends(RegressorMixin, BaseEstimator):
    """stitchnas's ``route`` model fitted to the residuals of :class:`ShapeTrends`."""

    def __init__(self, alpha: float = 5.0, random_state: int | None = 0) -> None:
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, X, y) -> RouteOnShapeTrends:
        from stitchnas import create_predictor

        y = np.asarray(y, dtype=float)
        self.trends_ = ShapeTrends(alpha=self.alpha).fit(X, y)
        self.route_ = create_predictor("route", random_state=self.random_state)
        self.route_.fit(X, y - self.trends_.predict(X))
        return self

    def predict(self, X, return_std: bool = False):
        trend = self.trends_.predict(X)
        if return_std:
            mean, std = self.route_.predict(X, return_std=True)
            return mean + trend, std
        return self.route_.predict(X) + trend


def within_shape_tau(stitches, acc1) -> tuple[float, int]:
    """Kendall tau between FLOPs and top-1 over pairs of stitches of one shape, and the pairs."""
    shapes, _ = _shape_and_flops(stitches)
    groups: dict[tuple[int, ...], list[tuple[int, float]]] = {}
    for s, shape, a in zip(stitches, shapes, acc1):
        if len(shape) > 1:
            groups.setdefault(shape, []).append((s.flops, float(a)))
    agree = disagree = 0
    for rows in groups.values():
        for (f1, a1), (f2, a2) in itertools.combinations(rows, 2):
            sign = (f1 - f2) * (a1 - a2)
            agree += sign > 0
            disagree += sign < 0
    pairs = agree + disagree
    return ((agree - disagree) / pairs if pairs else float("nan")), pairs


class GatedShapeTrends(RegressorMixin, BaseEstimator):
    """:class:`RouteOnShapeTrends` where the measured rows follow FLOPs within shapes, else ``route``."""

    def __init__(self, threshold: float = 0.7, min_pairs: int = 10, alpha: float = 5.0,
                 random_state: int | None = 0) -> None:
        self.threshold = threshold
        self.min_pairs = min_pairs
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, X, y) -> GatedShapeTrends:
        from stitchnas import create_predictor

        tau, pairs = within_shape_tau(X, y)
        self.fired_ = bool(pairs >= self.min_pairs and tau >= self.threshold)
        self.model_ = (RouteOnShapeTrends(self.alpha, self.random_state) if self.fired_
                       else create_predictor("route", random_state=self.random_state))
        self.model_.fit(X, y)
        return self

    def predict(self, X, return_std: bool = False):
        return self.model_.predict(X, return_std=True) if return_std else self.model_.predict(X)


def gated(random_state: int | None = 0) -> GatedShapeTrends:
    """A factory (plug-ins may be functions too): the gate at tau >= 0.7."""
    return GatedShapeTrends(threshold=0.7, random_state=random_state)


def picked(random_state: int | None = 0):
    """stitchnas's ``auto``, choosing between ``route`` and :class:`RouteOnShapeTrends` by its
    5-fold scores (this module must be importable as ``shape_trends``)."""
    from stitchnas import create_predictor

    return create_predictor("auto", random_state=random_state).set_params(
        candidates=("route", "shape_trends:RouteOnShapeTrends"))


#: per variant: (top-1 lost per stitch, top-1 lost per anchor sequence) of the synthetic tables
VARIANTS = {
    "a": (0.8, {(0, 1): 0.0, (1, 0): -1.0, (0, 1, 0): -0.5, (1, 0, 1): -0.3}),
    "b": (0.4, {(0, 1): -0.5, (1, 0): 0.3, (0, 1, 0): -1.2, (1, 0, 1): 0.0}),
}


def synthetic_table(space_name: str = "deit3_sl_v2", variant: str = "a", seed: int = 0):
    """Measurements made up for a check: top-1 = 81.5 + 3.5 * sqrt(relative log-FLOPs), minus
    the variant's loss per stitch and per shape (stitched routes only), plus normal noise of 0.15
    points.
    Never a measured table: its rows say ``synthetic`` as their data set."""
    from stitchnas import Measurement, load_space, make_stitches

    space = load_space(space_name)
    per_stitch, penalty = VARIANTS[variant]
    stitches = make_stitches(space)
    shapes, rel = _shape_and_flops(stitches)
    rng = np.random.default_rng(seed)
    rows = []
    for s, shape, r in zip(stitches, shapes, rel):
        stitched = len(shape) - 1
        acc = 81.5 + 3.5 * math.sqrt(r) - (per_stitch * stitched + penalty.get(shape, 0.0) if stitched else 0.0)
        acc += rng.normal(0.0, 0.15)
        rows.append(Measurement(id=s.id, route=s.route, acc1=round(float(acc), 2), acc5=None,
                                loss=None, flops=s.flops, params=s.params,
                                dataset=f"synthetic:{variant}", checkpoint="", space=space.name,
                                space_hash=space.content_hash))
    return rows


def main() -> None:
    from stitchnas import write_measurements

    parser = argparse.ArgumentParser(description="write a synthetic table that follows FLOPs within shapes")
    parser.add_argument("out", help="measurements JSONL to write")
    parser.add_argument("--space", default="deit3_sl_v2")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="a")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = write_measurements(args.out, synthetic_table(args.space, args.variant, args.seed))
    print(f"wrote {len(rows)} synthetic rows of {args.space} to {args.out}")


if __name__ == "__main__":
    main()
