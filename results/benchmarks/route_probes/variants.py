"""Small variants of the route model against the default, by `predictor-cv`'s splits (20% at
random, Kendall tau on the rest, 20 splits, `auto` on each variant) on the tables of
``probes.py`` (2026-12-06, second session):

- ``monotone``: its extra trees made increasing in relative log-FLOPs (scikit-learn's
  ``monotonic_cst`` on ``flops_rel``, the other twelve columns free);
- ``bayes``, ``ard``: its ridge line's penalty chosen by each table's marginal likelihood
  (``BayesianRidge``; ``ARDRegression``, one penalty per column) instead of leave-one-out.

    python results/benchmarks/route_probes/variants.py     # about 7 minutes on 2 cores

writes results/benchmarks/route_probes/variants.json and prints each table's tau and the means.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.chdir(HERE.parents[2])  # the table paths are relative to the repository root

from probes import JUDGING, TUNING, R  # noqa: E402

from stitchnas import cross_validate, read_measurements, register_predictor  # noqa: E402
from stitchnas.predict import AutoPredictor, RoutePredictor  # noqa: E402
from stitchnas.predict._predictors import ROUTE_SHRINK  # noqa: E402


class MonotoneRoute(RoutePredictor):
    """The route model with trees that never predict less for more FLOPs, all else equal."""

    def fit(self, X, y):
        from sklearn.ensemble import ExtraTreesRegressor

        super().fit(X, y)
        F = self.features_.transform(X)
        r = np.asarray(y, dtype=float) - np.polyval(self.trend_, F[:, 0])
        cst = [1] + [0] * (F.shape[1] - 1)  # column 0 is flops_rel
        self.trees_ = ExtraTreesRegressor(n_estimators=self.n_estimators, random_state=self.random_state,
                                          min_samples_leaf=self.min_samples_leaf,
                                          monotonic_cst=cst).fit(self.scaler_.transform(F), r)
        return self


def with_line(make):
    """The route model with ``make()`` (a scikit-learn linear regressor) as its line."""

    class LineRoute(RoutePredictor):
        def fit(self, X, y):
            super().fit(X, y)
            F = self.features_.transform(X)
            r = np.asarray(y, dtype=float) - np.polyval(self.trend_, F[:, 0])
            self.ridge_ = make().fit(self.scaler_.transform(F), r)
            return self

    return LineRoute


def _bayes():
    from sklearn.linear_model import BayesianRidge
    return BayesianRidge()


def _ard():
    from sklearn.linear_model import ARDRegression
    return ARDRegression()


CLASSES = {"default": RoutePredictor, "monotone": MonotoneRoute, "bayes": with_line(_bayes),
           "ard": with_line(_ard)}
VARIANTS = {v: (lambda random_state=0, cls=cls: cls(shrink=ROUTE_SHRINK, random_state=random_state))
            for v, cls in CLASSES.items()}


def main() -> None:
    for v, factory in VARIANTS.items():
        register_predictor(f"probe_{v}", factory)
        register_predictor(f"probe_auto_{v}", lambda random_state=0, v=v: AutoPredictor(
            candidates=(f"probe_{v}",), random_state=random_state))
    out = {}
    for role, tables in (("tuning", TUNING), ("judging", JUDGING)):
        for name, path in tables:
            rows = read_measurements(path, name)
            row = {"role": role}
            for v in VARIANTS:
                cv = cross_validate(name, rows, f"probe_auto_{v}", progress=False)
                row[v], row["flops"] = round(cv.scores.kendall_tau, 3), round(cv.baseline.kendall_tau, 3)
            out[f"{name}:{path[len(R):]}"] = row
            print(name, path[len(R):], row, flush=True)
    for role in ("tuning", "judging"):
        keys = [k for k, r in out.items() if r["role"] == role]
        print(role, {v: round(float(np.mean([out[k][v] for k in keys])), 4) for v in [*VARIANTS, "flops"]})
    (HERE / "variants.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
