"""Predictor plug-ins that each break one rule of the protocol, and factories, good and bad.

Loaded by dotted path (``support.bad_predictors:FitReturnsNone``) the way a user's plug-in is;
every verb must refuse the broken ones in one line naming the rule.
"""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


def _log_flops(X) -> np.ndarray:
    return np.log([s.flops for s in X])


class FlopsLine(RegressorMixin, BaseEstimator):
    """A good plug-in: least-squares line of top-1 on log-FLOPs, a constant std."""

    def __init__(self, degree: int = 1):
        self.degree = degree

    def fit(self, X, y):
        self.coef_ = np.polyfit(_log_flops(X), np.asarray(y, dtype=float), self.degree)
        return self

    def predict(self, X, return_std: bool = False):
        mean = np.polyval(self.coef_, _log_flops(X))
        return (mean, np.ones(len(mean))) if return_std else mean


class FitReturnsNone(FlopsLine):
    def fit(self, X, y):
        super().fit(X, y)  # forgot `return self`


class PredictsNaN(FlopsLine):
    def predict(self, X):
        mean = np.polyval(self.coef_, _log_flops(X))
        mean[0] = np.nan
        return mean


class WrongLength(FlopsLine):
    def predict(self, X):
        return np.polyval(self.coef_, _log_flops(X))[:-1]


class NegativeStd(FlopsLine):
    def predict(self, X, return_std: bool = False):
        mean = np.polyval(self.coef_, _log_flops(X))
        return (mean, -np.ones(len(mean))) if return_std else mean


class Fractions(FlopsLine):
    """Top-1 as a fraction (0..1) instead of percent."""

    def predict(self, X):
        return np.clip(np.polyval(self.coef_, _log_flops(X)) / 100.0, 0.0, 1.0)


class ForgetsMean(FlopsLine):
    """A line fitted to centred top-1s whose predict forgets to add the mean back: the ranks are
    right, the numbers are not top-1s (what an unscaled network that did not converge also gives)."""

    def fit(self, X, y):
        y = np.asarray(y, dtype=float)
        return super().fit(X, y - y.mean())


class Unrepeatable(FlopsLine):
    """The classic: an RNG made in __init__, drawn from in predict."""

    def __init__(self, degree: int = 1):
        self.degree = degree
        self.rng = np.random.default_rng(0)

    def predict(self, X):
        return np.polyval(self.coef_, _log_flops(X)) + self.rng.normal(0, 0.5, len(X))


def make_line():
    """A factory function: returns a fresh estimator."""
    return FlopsLine(degree=1)


def make_seeded(random_state=0):
    """A factory that takes ``random_state``."""
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.pipeline import make_pipeline

    from stitchnas.predict import StitchFeaturizer

    return make_pipeline(StitchFeaturizer(), ExtraTreesRegressor(n_estimators=10, random_state=random_state))


def make_nothing():
    """A broken factory: returns a number, not an estimator."""
    return 42


BROKEN = {  # class -> the words of the one error line
    "FitReturnsNone": "fit returned None, not the fitted predictor: end fit with `return self`",
    "PredictsNaN": "predict returned NaN or inf for 1 of",
    "WrongLength": "predict returned shape (",
    "NegativeStd": "std must be finite and >= 0",
    "Fractions": "predictions look like fractions (0..1); return top-1 in percent",
    "ForgetsMean": "predictions on the wrong scale: they miss the ",
    "Unrepeatable": "predict is not repeatable",
}
