"""Other lines from the proxy scores to the measured top-1, as plug-ins (docs/predictors.md,
"The proxy line with few rows"): the loss alone, the top-1 alone, and both scores standardised
under a ridge penalty chosen by closed-form leave-one-out. Not adopted.

    PYTHONPATH=results/benchmarks/transfer_probes stitchnas predictor-cv SPACE --measurements T \\
        --proxies S --predictor proxy_line:RidgeLine      # or proxy_line:LossLine, proxy_line:AccLine
"""
import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from stitchnas.predict import ProxyPredictor, RoutePredictor


def _signals(X, names):
    return np.array([[dict(s.signals)[n] for n in names] for s in X], dtype=float)


class LossLine(ProxyPredictor):
    """The line in the proxy loss alone."""

    @staticmethod
    def _signals(X):
        return _signals(X, ["proxy_loss"])


class AccLine(ProxyPredictor):
    """The line in the proxy top-1 alone."""

    @staticmethod
    def _signals(X):
        return _signals(X, ["proxy_acc1"])


class RidgeLine(ProxyPredictor):
    """Both scores standardised, a ridge line whose penalty leave-one-out picks, the route model
    on what it leaves."""

    def fit(self, X, y):
        X, y = list(X), np.asarray(y, dtype=float)
        S = ProxyPredictor._signals(X)
        self.line_ = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))).fit(S, y)
        RoutePredictor.fit(self, X, y - self.line_.predict(S))
        return self
