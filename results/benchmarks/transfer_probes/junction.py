"""Junction-additive regressors (docs/predictors.md, "Tried since, not adopted"; plug-ins, not defaults).

A stitching layer (source anchor, destination anchor, depth) is shared by every route through it,
so a route's top-1 is modelled as a line in relative log-FLOPs plus the sum of its junctions'
effects, each smooth in relative depth (a radial basis per ordered anchor pair), a ridge penalty on
the junction terms chosen by exact leave-one-out; blended with the FLOPs baseline by the route
model's ``shrink``. ``JLineRC`` adds the stem's and the head's anchor size; ``JAvg`` / ``JAvg3``
average ``JLine`` with the default route model (weights 1/2, 1/3).

    PYTHONPATH=results/benchmarks/transfer_probes stitchnas bench predictors --table ... \
        --predictors route,junction:JLine,junction:JLineRC,junction:JAvg,junction:JAvg3
"""
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from stitchnas.predict import FlopsBaseline, RouteFeaturizer, RoutePredictor, create_predictor

ROUTE_SHRINK = create_predictor("route").shrink  # the default route model's pseudo-rows

CENTERS = np.linspace(0, 1, 5)
WIDTH = 0.25


def jfeatures(stitches, n_anchors, centers=CENTERS, width=WIDTH, extra=False):
    rows = []
    for s in stitches:
        v = np.zeros((n_anchors, n_anchors, len(centers)))
        for j in s.route.junctions:
            p = j.src_end / s.anchor_depths[j.src]
            v[j.src, j.dst] += np.exp(-0.5 * ((p - centers) / width) ** 2)
        rows.append(v.ravel())
    return np.array(rows)


def ridge_loo(A, y, pen, alphas=np.logspace(-3, 3, 25)):
    """Ridge with penalty alpha*diag(pen); alpha by exact LOO (hat matrix)."""
    best = None
    for a in alphas:
        M = A.T @ A + a * np.diag(pen)
        try:
            Minv = np.linalg.pinv(M)
        except np.linalg.LinAlgError:
            continue
        H = A @ Minv @ A.T
        w = Minv @ A.T @ y
        r = (y - A @ w) / np.clip(1 - np.diag(H), 1e-6, None)
        e = float(np.mean(r ** 2))
        if best is None or e < best[0]:
            best = (e, w, a)
    return best[1], best[2]


class JLine(RegressorMixin, BaseEstimator):
    def __init__(self, shrink=ROUTE_SHRINK, route_cols=False, random_state=0):
        self.shrink = shrink
        self.route_cols = route_cols
        self.random_state = random_state

    def _design(self, X):
        F = self.rf_.transform(X)
        J = jfeatures(X, self.n_anchors_)
        cols = [np.ones(len(X)), F[:, 0]]
        if self.route_cols:
            cols += [F[:, 4], F[:, 5]]
        return np.column_stack(cols + [J]), len(cols)

    def fit(self, X, y):
        y = np.asarray(y, float)
        self.n_anchors_ = len(X[0].anchor_depths)
        self.rf_ = RouteFeaturizer().fit(X)
        A, k = self._design(X)
        pen = np.r_[np.zeros(k), np.ones(A.shape[1] - k)]
        pen[0] = 1e-8
        self.w_, self.alpha_ = ridge_loo(A, y, pen)
        self.v_ = len(y) / (len(y) + self.shrink)
        self.flops_ = FlopsBaseline().fit(X, y)
        return self

    def predict(self, X, return_std=False):
        A, _ = self._design(X)
        m = A @ self.w_
        fm, fs = self.flops_.predict(X, return_std=True)
        mean = self.v_ * m + (1 - self.v_) * fm
        return (mean, fs) if return_std else mean


class JAvg(RegressorMixin, BaseEstimator):
    """route and the junction line, averaged."""
    def __init__(self, weight=0.5, random_state=0):
        self.weight = weight
        self.random_state = random_state

    def fit(self, X, y):
        self.r_ = RoutePredictor(shrink=ROUTE_SHRINK, random_state=self.random_state).fit(X, y)
        self.j_ = JLine().fit(X, y)
        return self

    def predict(self, X, return_std=False):
        rm, rs = self.r_.predict(X, return_std=True)
        jm = self.j_.predict(X)
        m = (1 - self.weight) * rm + self.weight * jm
        return (m, rs) if return_std else m


def JLineRC(random_state=0):
    return JLine(route_cols=True, random_state=random_state)


def JAvg3(random_state=0):
    return JAvg(weight=0.33, random_state=random_state)
