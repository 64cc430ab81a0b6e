"""Accuracy predictors: scikit-learn regressors over stitches.

The protocol is scikit-learn's: ``__init__`` only stores its arguments, ``fit(stitches, acc1)``
returns ``self`` and leaves fitted state in attributes ending in ``_``, ``predict(stitches)``
returns the mean top-1 (percent) and, where supported, ``predict(stitches, return_std=True)``
returns ``(mean, std)``. ``stitches`` is a list of :class:`stitchnas.predict.Stitch`. Any
scikit-learn regressor plugs in unchanged behind the featuriser::

    make_pipeline(StitchFeaturizer(), StandardScaler(), GaussianProcessRegressor())

Built-ins are registered by name (``list_predictors('*')``); users add theirs by dotted path
(``mypkg.mod:MyPredictor``), by :func:`register_predictor`, or through the entry-point group
``stitchnas.predictors``. :func:`stitchnas.testing.check_predictor` checks a plug-in.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from .._registry import Registry
from .._util import import_object
from ..errors import PluginError, StitchnasError
from ._features import Stitch, StitchFeaturizer, _check_stitches

__all__ = [
    "FlopsBaseline", "ForestPredictor", "AutoPredictor", "gaussian_process", "DEFAULT_PREDICTOR",
    "register_predictor", "list_predictors", "create_predictor", "supports_std", "predict_with_std",
    "ENTRY_POINT_GROUP",
]

DEFAULT_PREDICTOR = "auto"
ENTRY_POINT_GROUP = "stitchnas.predictors"


def _log_flops(stitches: Sequence[Stitch]) -> np.ndarray:
    return np.log(np.array([s.flops for s in _check_stitches(stitches)], dtype=float))


def _targets(y) -> np.ndarray:
    y = np.asarray(y, dtype=float).ravel()
    if not np.all(np.isfinite(y)):
        raise StitchnasError("accuracies must be finite numbers (percent): drop NaN/inf rows")
    return y


class FlopsBaseline(RegressorMixin, BaseEstimator):
    """Monotone (isotonic) fit of top-1 on log-FLOPs: the bar every predictor has to beat.

    In one-way spaces (small -> large) accuracy rises with FLOPs and this already ranks well;
    in two-way spaces many routes share FLOPs and it cannot tell them apart. ``std`` is the
    training residuals' root mean square (the same for every stitch).
    """

    def __init__(self, increasing: bool = True) -> None:
        self.increasing = increasing

    def fit(self, X, y) -> FlopsBaseline:
        from sklearn.isotonic import IsotonicRegression

        y = _targets(y)
        f = _log_flops(X)
        self.iso_ = IsotonicRegression(increasing=self.increasing, out_of_bounds="clip").fit(f, y)
        resid = y - self.iso_.predict(f)
        self.resid_std_ = float(np.sqrt(np.mean(resid ** 2))) if len(y) > 1 else 1.0
        return self

    def predict(self, X, return_std: bool = False):
        mean = self.iso_.predict(_log_flops(X))
        if return_std:
            return mean, np.full(len(mean), max(self.resid_std_, 1e-6))
        return mean


class ForestPredictor(RegressorMixin, BaseEstimator):
    """A tree ensemble on structural features; ``std`` is the spread of the trees' predictions.

    ``kind``: ``extra_trees`` (default) or ``random_forest``.
    """

    def __init__(self, kind: str = "extra_trees", n_estimators: int = 200,
                 min_samples_leaf: int = 1, include: Sequence[str] = StitchFeaturizer.GROUPS,
                 random_state: int | None = 0) -> None:
        self.kind = kind
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.include = include
        self.random_state = random_state

    def fit(self, X, y) -> ForestPredictor:
        from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

        kinds = {"extra_trees": ExtraTreesRegressor, "random_forest": RandomForestRegressor}
        if self.kind not in kinds:
            raise StitchnasError(f"unknown forest kind {self.kind!r}: choose {sorted(kinds)}")
        y = _targets(y)
        self.features_ = StitchFeaturizer(self.include).fit(X)
        self.forest_ = kinds[self.kind](
            n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
            random_state=self.random_state,
        ).fit(self.features_.transform(X), y)
        return self

    def predict(self, X, return_std: bool = False):
        F = self.features_.transform(X)
        if not return_std:
            return self.forest_.predict(F)
        per_tree = np.stack([t.predict(F) for t in self.forest_.estimators_])
        return per_tree.mean(axis=0), per_tree.std(axis=0)


class QuietGaussianProcessRegressor(GaussianProcessRegressor):
    """scikit-learn's GP, without the convergence warnings that a few noisy points trigger when
    the fitted noise level sits at its bound (expected here, not a fault)."""

    def fit(self, X, y):
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return super().fit(X, y)


def gaussian_process(include: Sequence[str] = StitchFeaturizer.GROUPS, random_state: int = 0) -> Pipeline:
    """Featuriser -> scaler -> GP (constant x RBF + white noise, targets normalised): a plain
    scikit-learn pipeline, so ``predict(X, return_std=True)`` reaches the GP."""
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(1.0, (1e-2, 1e3)) + WhiteKernel(0.1, (1e-6, 10.0))
    return make_pipeline(
        StitchFeaturizer(include), StandardScaler(),
        QuietGaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2,
                                 random_state=random_state),
    )


def supports_std(predictor: Any) -> bool:
    """Whether ``predictor.predict`` accepts ``return_std`` (directly or as a pipeline's end)."""
    import inspect

    est = predictor.steps[-1][1] if isinstance(predictor, Pipeline) else predictor
    try:
        return "return_std" in inspect.signature(est.predict).parameters
    except (TypeError, ValueError, AttributeError):
        return False


def predict_with_std(predictor: Any, stitches: Sequence[Stitch]) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mean, std)``; ``std`` is None where the predictor gives none."""
    if supports_std(predictor):
        mean, std = predictor.predict(stitches, return_std=True)
        return np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    return np.asarray(predictor.predict(stitches), dtype=float), None


class AutoPredictor(RegressorMixin, BaseEstimator):
    """The default: the FLOPs baseline unless a structural model ranks clearly better.

    ``fit`` scores the baseline and each structural candidate (a GP and extra trees by default)
    by leave-one-out Kendall tau on the measured stitches, and keeps the baseline unless the
    best structural model beats it by more than ``margin``. One-way spaces, where FLOPs already
    rank well, keep the baseline; two-way spaces, where equal-FLOPs routes differ by points,
    switch. The choice is in ``chosen_`` and the scores in ``scores_``. The margin (0.1) was
    chosen by measurement (docs/predictors.md).
    """

    def __init__(self, candidates: Sequence[str] = ("gp", "extra_trees"), margin: float = 0.1,
                 random_state: int = 0) -> None:
        self.candidates = candidates
        self.margin = margin
        self.random_state = random_state

    def fit(self, X, y) -> AutoPredictor:
        from scipy.stats import kendalltau

        X = _check_stitches(X)
        y = _targets(y)
        names = ["flops", *self.candidates]
        self.scores_ = {}
        for name in names:
            if len(y) < 4:
                self.scores_[name] = float("nan")
                continue
            pred = np.empty(len(y))
            for i in range(len(y)):
                rest = [j for j in range(len(y)) if j != i]
                model = create_predictor(name, random_state=self.random_state)
                pred[i] = model.fit([X[j] for j in rest], y[rest]).predict([X[i]])[0]
            tau = kendalltau(pred, y).statistic
            self.scores_[name] = float(tau) if np.isfinite(tau) else -1.0
        best = max(self.candidates, key=lambda n: self.scores_[n], default=None)
        base = self.scores_["flops"]
        if best is not None and np.isfinite(base) and self.scores_[best] > base + self.margin:
            self.chosen_ = best
        else:
            self.chosen_ = "flops"
        self.model_ = create_predictor(self.chosen_, random_state=self.random_state).fit(X, y)
        return self

    def predict(self, X, return_std: bool = False):
        if return_std:
            mean, std = predict_with_std(self.model_, X)
            if std is None:
                std = np.zeros(len(mean))
            return mean, std
        return self.model_.predict(X)


# ---- registry --------------------------------------------------------------------------------
PREDICTORS = Registry("predictor", entry_point_group=ENTRY_POINT_GROUP)


def register_predictor(name: str, factory: Callable[..., Any] | None = None):
    """Register ``factory`` (a class or function returning a fresh, unfitted predictor) under
    ``name``; usable as a decorator."""
    return PREDICTORS.register(name, factory)


def _random_state_kw(factory: Callable[..., Any], random_state: int | None) -> dict[str, Any]:
    import inspect

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    return {"random_state": random_state} if "random_state" in params and random_state is not None else {}


register_predictor("flops", lambda random_state=None: FlopsBaseline())
register_predictor("gp", lambda random_state=0: gaussian_process(random_state=random_state))
register_predictor("extra_trees", lambda random_state=0: ForestPredictor("extra_trees", random_state=random_state))
register_predictor("random_forest", lambda random_state=0: ForestPredictor("random_forest", random_state=random_state))
register_predictor("auto", lambda random_state=0: AutoPredictor(random_state=random_state))


def list_predictors(pattern: str = "*") -> list[str]:
    """Registered and entry-point predictor names matching a shell-style pattern."""
    return PREDICTORS.names(pattern)


def create_predictor(spec: Any = None, random_state: int | None = 0) -> Any:
    """A fresh, unfitted predictor from a registered name, an entry-point name, a dotted path
    ``module:Class`` (or ``module.Class``), a class, or an unfitted instance (cloned)."""
    if spec is None:
        spec = DEFAULT_PREDICTOR
    if not isinstance(spec, str):
        if isinstance(spec, type):
            return spec(**_random_state_kw(spec, random_state))
        if hasattr(spec, "fit") and hasattr(spec, "predict"):
            return clone(spec)
        raise StitchnasError(f"a predictor must be a name, a dotted path, a class or an estimator, "
                             f"not {type(spec).__name__}")
    if spec in PREDICTORS or not (":" in spec or "." in spec):
        try:
            factory = PREDICTORS.get(spec)
        except PluginError as err:
            raise PluginError(f"{err}; or give a dotted path like mypkg.module:MyPredictor") from None
        if isinstance(factory, type) or hasattr(factory, "fit"):
            return create_predictor(factory, random_state)
        return factory(**_random_state_kw(factory, random_state))
    return create_predictor(import_object(spec, "predictor"), random_state)


