"""A line in log-FLOPs and a Gaussian process on the route features for what it leaves, so that a
prediction far from every measured stitch reverts to the FLOPs trend (docs/predictors.md, "Tried
since, not adopted"; plug-ins, not defaults). ``GPIso``: the FLOPs baseline's isotonic fit as the
mean instead; ``Blend``: the default route model and ``GPRes`` averaged.

    PYTHONPATH=results/benchmarks/transfer_probes stitchnas bench predictors --table ... \
        --predictors route,gpres:GPRes,gpres:GPIso,gpres:Blend
"""
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, RBF, WhiteKernel
from sklearn.preprocessing import StandardScaler
from stitchnas.predict import FlopsBaseline, RouteFeaturizer, RoutePredictor, create_predictor

ROUTE_SHRINK = create_predictor("route").shrink  # the default route model's pseudo-rows


class GPRes(RegressorMixin, BaseEstimator):
    def __init__(self, base="line", ard=False, random_state=0):
        self.base = base
        self.ard = ard
        self.random_state = random_state

    def _mean(self, X, F):
        if self.base == "line":
            return np.polyval(self.line_, F[:, 0])
        return self.flops_.predict(X)

    def fit(self, X, y):
        y = np.asarray(y, float)
        self.rf_ = RouteFeaturizer().fit(X)
        F = self.rf_.transform(X)
        self.line_ = np.polyfit(F[:, 0], y, 1) if np.ptp(F[:, 0]) > 0 else np.array([0.0, y.mean()])
        self.flops_ = FlopsBaseline().fit(X, y)
        r = y - self._mean(X, F)
        self.sc_ = StandardScaler().fit(F)
        Z = np.nan_to_num(self.sc_.transform(F))
        ls = np.ones(Z.shape[1]) * 3.0 if self.ard else 3.0
        k = ConstantKernel(max(r.var(), 1e-4), (1e-4, 1e3)) * RBF(ls, (0.3, 100.0)) + WhiteKernel(max(r.var(), 1e-4) * 0.3, (1e-5, 1e3))
        self.gp_ = GaussianProcessRegressor(k, normalize_y=False, random_state=self.random_state,
                                            n_restarts_optimizer=2).fit(Z, r)
        return self

    def predict(self, X, return_std=False):
        F = self.rf_.transform(X)
        Z = np.nan_to_num(self.sc_.transform(F))
        m, s = self.gp_.predict(Z, return_std=True)
        out = self._mean(X, F) + m
        return (out, s) if return_std else out


def GPIso(random_state=0):
    return GPRes(base="iso", random_state=random_state)


class Blend(RegressorMixin, BaseEstimator):
    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, X, y):
        self.a_ = RoutePredictor(shrink=ROUTE_SHRINK, random_state=self.random_state).fit(X, y)
        self.b_ = GPRes(random_state=self.random_state).fit(X, y)
        return self

    def predict(self, X, return_std=False):
        am, astd = self.a_.predict(X, return_std=True)
        bm, bstd = self.b_.predict(X, return_std=True)
        m = 0.5 * am + 0.5 * bm
        if not return_std:
            return m
        return m, np.sqrt((0.5 * astd) ** 2 + (0.5 * bstd) ** 2 + (0.5 * (am - bm)) ** 2)  # both, and their gap
