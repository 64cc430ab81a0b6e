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

from .._registry import PREDICTOR_ENTRY_POINTS, Registry
from .._util import import_object
from ..errors import PluginError, StitchnasError
from ._features import RouteFeaturizer, Stitch, StitchFeaturizer, _check_stitches
from ._prior import prior_suffices

__all__ = [
    "FlopsBaseline", "ForestPredictor", "RoutePredictor", "ProxyPredictor", "AutoPredictor", "gaussian_process", "DEFAULT_PREDICTOR",
    "register_predictor", "list_predictors", "create_predictor", "supports_std", "predict_with_std",
    "ENTRY_POINT_GROUP", "ScaledTarget",
]

DEFAULT_PREDICTOR = "auto"
ENTRY_POINT_GROUP = PREDICTOR_ENTRY_POINTS


def _log_flops(stitches: Sequence[Stitch]) -> np.ndarray:
    return np.log(np.array([s.flops for s in _check_stitches(stitches)], dtype=float))


def _tree_predictions(forest, X) -> np.ndarray:
    """Every tree's prediction of a fitted scikit-learn forest, one row per tree: what each
    tree's ``predict`` returns, without its per-call input checks (a tenth of the time on a few
    hundred stitches, where a ``suggest`` round asks for them many times)."""
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    return np.stack([t.tree_.predict(X32).reshape(len(X32), -1)[:, 0] for t in forest.estimators_])


def _forest_mean(per_tree: np.ndarray) -> np.ndarray:
    """The forest's ``predict`` from :func:`_tree_predictions`: summed in tree order, then divided."""
    mean = np.zeros(per_tree.shape[1])
    for row in per_tree:
        mean += row
    return mean / len(per_tree)


def _targets(y) -> np.ndarray:
    y = np.asarray(y, dtype=float).ravel()
    if not np.all(np.isfinite(y)):
        raise StitchnasError("accuracies must be finite numbers (percent): drop NaN/inf rows")
    return y


class FlopsBaseline(RegressorMixin, BaseEstimator):
    """Monotone (isotonic) fit of top-1 on log-FLOPs: the bar every predictor has to beat.

    In one-way spaces (small -> large) accuracy rises with FLOPs and this already ranks well;
    in two-way spaces many routes share FLOPs and it cannot tell them apart. ``std`` is the
    training residuals' spread, at least that about a straight line in log-FLOPs (isotonic fits
    its own points too closely to be honest about new ones); the same for every stitch. From two
    rows or fewer no spread can be estimated: then it is their range, at least ``MIN_STD`` points.
    """

    #: the std when two rows or fewer leave no spread to estimate (the anchor prior's floor)
    MIN_STD = 2.0

    def __init__(self, increasing: bool = True) -> None:
        self.increasing = increasing

    def fit(self, X, y) -> FlopsBaseline:
        from sklearn.isotonic import IsotonicRegression

        y = _targets(y)
        f = _log_flops(X)
        self.iso_ = IsotonicRegression(increasing=self.increasing, out_of_bounds="clip").fit(f, y)
        if len(y) <= 2:  # no spread can be estimated from two points: as wide as the prior's
            self.resid_std_ = max(self.MIN_STD, float(np.ptp(y)))
            return self
        resid = y - self.iso_.predict(f)
        self.resid_std_ = float(np.sqrt(np.mean(resid ** 2)))
        if np.ptp(f) > 0:  # isotonic fits its points closely: at least a line's spread
            line = np.polyval(np.polyfit(f, y, 1), f)
            self.resid_std_ = max(self.resid_std_, float(np.sqrt(np.sum((y - line) ** 2) / (len(y) - 2))))
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
        per_tree = _tree_predictions(self.forest_, self.features_.transform(X))
        if not return_std:
            return _forest_mean(per_tree)
        return per_tree.mean(axis=0), per_tree.std(axis=0)


class RoutePredictor(RegressorMixin, BaseEstimator):
    """Extra trees and a ridge line, averaged, on the relative route features.

    The trees catch how route shapes differ (out-and-back routes, where the stitches are); the
    ridge line carries the trend in anchor size and FLOPs beyond the measured points, where trees
    are flat. Both read :class:`RouteFeaturizer` columns, so what is learnt on one family reads
    another the same way. ``std``: the trees' spread combined with half the two models' gap.
    ``shrink``: pseudo-rows of the FLOPs baseline: fitted on ``n`` rows, the prediction is
    ``n / (n + shrink)`` of the route model and the rest :class:`FlopsBaseline`, so a few rows
    lean on FLOPs and many on the route shapes (the value was chosen leave-one-table-out,
    docs/predictors.md). ``trend``: fit both to the residuals about a line in log-FLOPs (off:
    measured worse on the tuning tables). ``min_samples_leaf``: the fewest rows in a leaf of the
    trees (1: fully grown; 2 and 3 measured no better, docs/predictors.md).
    """

    def __init__(self, n_estimators: int = 100, ridge_weight: float = 0.5, trend: bool = False,
                 shrink: float = 0.0, random_state: int | None = 0, min_samples_leaf: int = 1) -> None:
        self.n_estimators = n_estimators
        self.ridge_weight = ridge_weight
        self.trend = trend
        self.shrink = shrink
        self.random_state = random_state
        self.min_samples_leaf = min_samples_leaf

    def fit(self, X, y) -> RoutePredictor:
        from sklearn.ensemble import ExtraTreesRegressor
        from sklearn.linear_model import RidgeCV

        y = _targets(y)
        self.features_ = RouteFeaturizer().fit(X)
        F = self.features_.transform(X)
        self.scaler_ = StandardScaler().fit(F)
        Z = self.scaler_.transform(F)
        self.trend_ = np.polyfit(F[:, 0], y, 1) if self.trend and np.ptp(F[:, 0]) > 0 else np.zeros(2)
        r = y - np.polyval(self.trend_, F[:, 0])
        self.trees_ = ExtraTreesRegressor(n_estimators=self.n_estimators, random_state=self.random_state,
                                          min_samples_leaf=self.min_samples_leaf).fit(Z, r)
        self.ridge_ = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(Z, r)
        if not (np.isfinite(self.shrink) and self.shrink >= 0):
            raise StitchnasError(f"shrink must be a number >= 0 (pseudo-rows), got {self.shrink}")
        self.route_weight_ = len(y) / (len(y) + self.shrink)
        self.flops_ = FlopsBaseline().fit(X, y) if self.route_weight_ < 1 else None
        return self

    def _parts(self, X, per_tree: bool):
        """``(trees, ridge, flops)``: the trees' predictions (one row per tree with ``per_tree``,
        else their mean) and the ridge line's, each with the trend added back, and the FLOPs
        baseline's ``(mean, std)`` (None without ``shrink``)."""
        F = self.features_.transform(X)
        Z = self.scaler_.transform(F)
        line = np.polyval(self.trend_, F[:, 0])
        rows = _tree_predictions(self.trees_, Z)
        trees = (rows if per_tree else _forest_mean(rows)) + line
        flops = self.flops_.predict(X, return_std=True) if self.flops_ is not None else None
        return trees, self.ridge_.predict(Z) + line, flops

    def per_tree(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(per_tree, offset)``: each tree's prediction averaged with the ridge line, scaled by
        the route weight, and what every one of them adds (the FLOPs baseline's share); their
        mean is :meth:`predict`'s (suggest draws posterior samples from them)."""
        trees, ridge, flops = self._parts(X, per_tree=True)
        w, v = self.ridge_weight, self.route_weight_
        offset = (1 - v) * flops[0] if flops is not None else np.zeros(trees.shape[1])
        return v * ((1 - w) * trees + w * ridge), offset

    def predict(self, X, return_std: bool = False):
        trees, ridge, flops = self._parts(X, per_tree=return_std)
        mean_trees = trees.mean(axis=0) if return_std else trees
        w, v = self.ridge_weight, self.route_weight_
        mean = (1 - w) * mean_trees + w * ridge
        if not return_std:
            return mean if flops is None else v * mean + (1 - v) * flops[0]
        std = np.sqrt(trees.var(axis=0) + (w * (mean_trees - ridge)) ** 2)
        if flops is None:
            return mean, std
        f_mean, f_std = flops  # both spreads, weighted, and the models' gap (largest at v = 1/2)
        return (v * mean + (1 - v) * f_mean,
                np.sqrt((v * std) ** 2 + ((1 - v) * f_std) ** 2 + (v * (1 - v) * (mean - f_mean)) ** 2))


def has_signals(stitches: Sequence[Stitch]) -> bool:
    """Whether the stitches carry cheap signals (e.g. a held-out batch's loss and top-1)."""
    return bool(stitches) and bool(stitches[0].signals)


class ProxyPredictor(RoutePredictor):
    """A line in the stitches' cheap signals, and the route model on what the line leaves.

    Where the stitched weights exist, every candidate can be scored for a fraction of a
    measurement (``stitchnas proxy``: its cross-entropy and top-1 on about a thousand held-out
    images). Those scores rank routes far better than any structure-only model,
    but they are noisy and on another scale than the measured top-1; a least-squares line maps
    them onto it, and the route model (with its ``shrink``) fits the residuals, so what the
    signals miss about route shapes is still learnt. Needs stitches with ``signals``.
    """

    def fit(self, X, y) -> ProxyPredictor:
        from sklearn.linear_model import LinearRegression

        X = _check_stitches(X)
        y = _targets(y)
        if not has_signals(X):
            raise StitchnasError("the proxy predictor needs stitches with signals: score every "
                                 "candidate with `stitchnas proxy SPACE` and pass its file")
        S = self._signals(X)
        self.line_ = LinearRegression().fit(S, y)
        super().fit(X, y - self.line_.predict(S))
        return self

    @staticmethod
    def _signals(X) -> np.ndarray:
        return np.array([[v for _, v in s.signals] for s in X], dtype=float)

    def per_tree(self, X) -> tuple[np.ndarray, np.ndarray]:
        per_tree, offset = super().per_tree(X)
        return per_tree, offset + self.line_.predict(self._signals(X))

    def predict(self, X, return_std: bool = False):
        line = self.line_.predict(self._signals(_check_stitches(X)))
        if return_std:
            mean, std = super().predict(X, return_std=True)
            return line + mean, std
        return line + super().predict(X)


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


class ScaledTarget(RegressorMixin, BaseEstimator):
    """``estimator`` fitted to standardised top-1s, its predictions (and std) scaled back.

    Plain scikit-learn regressors given by name are put behind it: an MLP, an SVR's epsilon and C,
    a GP's zero prior mean and a kernel ridge without intercept all assume targets of about unit
    scale around zero, and top-1s sit near 80 with a spread of a few points (measured on twelve
    tables: docs/predictors.md, results/benchmarks/scaled_target/). Models that do not care (ridge
    lines, trees, neighbours) predict the same through it."""

    def __init__(self, estimator: Any = None):
        self.estimator = estimator

    def fit(self, X, y) -> ScaledTarget:
        y = np.asarray(y, dtype=float)
        self.mean_, self.scale_ = float(np.mean(y)), float(np.std(y)) or 1.0
        self.estimator_ = clone(self.estimator).fit(X, (y - self.mean_) / self.scale_)
        return self

    def predict(self, X, return_std: bool = False):
        if return_std:
            mean, std = self.estimator_.predict(X, return_std=True)
            return np.asarray(mean) * self.scale_ + self.mean_, np.asarray(std) * self.scale_
        return np.asarray(self.estimator_.predict(X)) * self.scale_ + self.mean_


def supports_std(predictor: Any) -> bool:
    """Whether ``predictor.predict`` accepts ``return_std`` (directly or as a pipeline's end; for a
    :class:`ScaledTarget`, its estimator's)."""
    import inspect

    est = predictor.steps[-1][1] if isinstance(predictor, Pipeline) else predictor
    if isinstance(est, ScaledTarget):  # its fitted copy is a clone: the same predict
        est = est.estimator
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


def steps_up_only(stitches: Sequence[Stitch]) -> bool:
    """Whether every stitch goes from an anchor to a larger one (by FLOPs): SN-Net's one-way
    stitching, where a route's FLOPs order it among its neighbours."""
    return all(s.stitches_up == s.num_stitches for s in stitches)


class AutoPredictor(RegressorMixin, BaseEstimator):
    """The default: the route model, unless FLOPs alone already rank the measured stitches.

    Where every measured stitch steps up to a larger anchor (one-way stitching, SN-Net's
    spaces), FLOPs order the routes and ``fit`` keeps the FLOPs baseline without scoring: a few
    rows cannot tell a route model's gain from noise there, and on every published one-way table
    the route model ranked below FLOPs. Otherwise ``fit`` scores the FLOPs baseline and each
    candidate (``route`` by default) by ``folds``-fold cross-validation on the measured stitches
    (Kendall tau of the out-of-fold predictions, pooled; seeded folds) and keeps the baseline only
    where FLOPs rank well out of fold (tau at least ``flops_enough``) and no candidate beats them
    by more than ``margin``; two-way spaces, where equal-FLOPs routes differ by points, take the
    best candidate. Stitches with signals (a held-out batch's scores, ``stitchnas proxy``) take
    the ``proxy`` model without scoring: on 6 to 27 rows the folds chose worse than it on both
    tables that judged it. k-fold, not leave-one-out: ``folds + 1`` fits per candidate whatever
    the number of rows. The choice is in ``chosen_``, why in ``reason_``, the scores in ``scores_``;
    the rules were chosen on some tables and judged on others (docs/predictors.md).
    """

    def __init__(self, candidates: Sequence[str] = ("route",), margin: float = 0.1,
                 flops_enough: float = 0.8, folds: int = 5, random_state: int = 0) -> None:
        self.candidates = candidates
        self.margin = margin
        self.flops_enough = flops_enough
        self.folds = folds
        self.random_state = random_state

    def fit(self, X, y) -> AutoPredictor:
        from scipy.stats import kendalltau
        from sklearn.model_selection import KFold

        X = _check_stitches(X)
        y = _targets(y)
        self.scores_ = {}
        known = {st.route.first_anchor for st in X if st.is_anchor}
        known |= {a for st in X for a, v in enumerate(st.anchor_acc1) if v is not None}
        if prior_suffices(sum(st.num_stitches > 0 for st in X), len(known)):
            self.chosen_ = "prior"
            self.reason_ = ("fewer than 2 measured stitches: the anchors' top-1 interpolated in "
                            "log-FLOPs, with a wide std (a prior, as search uses)")
            self.model_ = create_predictor("prior").fit(X, y)
            return self
        if has_signals(X):
            self.chosen_ = "proxy"
            self.reason_ = "proxy scores given: they rank stitches better than structure alone"
            self.model_ = create_predictor("proxy", random_state=self.random_state).fit(X, y)
            return self
        if steps_up_only(X):
            self.chosen_ = "flops"
            self.reason_ = "every measured stitch steps up to a larger anchor: FLOPs order them"
            self.model_ = create_predictor("flops").fit(X, y)
            return self
        for name in ["flops", *self.candidates]:
            if len(y) < max(4, self.folds):
                self.scores_[name] = float("nan")
                continue
            pred = np.empty(len(y))
            splits = KFold(self.folds, shuffle=True, random_state=self.random_state).split(y)
            for tr, te in splits:
                model = create_predictor(name, random_state=self.random_state)
                pred[te] = model.fit([X[j] for j in tr], y[tr]).predict([X[j] for j in te])
            tau = kendalltau(pred, y).statistic
            self.scores_[name] = float(tau) if np.isfinite(tau) else -1.0
        best = max(self.candidates, key=lambda n: self.scores_[n], default=None)
        base = self.scores_["flops"]
        if best is not None and np.isfinite(base) and (
                base < self.flops_enough or self.scores_[best] > base + self.margin):
            self.chosen_ = best
        else:
            self.chosen_ = "flops"
        self.reason_ = f"{self.folds}-fold tau: " + ", ".join(f"{k} {v:.3f}" for k, v in self.scores_.items())
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
#: the route model's pseudo-rows of FLOPs baseline, chosen leave-one-table-out
#: (`stitchnas bench predictor-loto`, docs/predictors.md)
ROUTE_SHRINK = 2.0
register_predictor("route", lambda random_state=0: RoutePredictor(shrink=ROUTE_SHRINK, random_state=random_state))
register_predictor("proxy", lambda random_state=0: ProxyPredictor(shrink=ROUTE_SHRINK, random_state=random_state))
register_predictor("auto", lambda random_state=0: AutoPredictor(random_state=random_state))
register_predictor("prior", lambda random_state=None: _anchor_prior())  # predict/_prior.py


def _anchor_prior():
    from ._prior import AnchorPrior

    return AnchorPrior()


def list_predictors(pattern: str = "*") -> list[str]:
    """Registered and entry-point predictor names matching a shell-style pattern."""
    return PREDICTORS.names(pattern)


def create_predictor(spec: Any = None, random_state: int | None = 0) -> Any:
    """A fresh, unfitted predictor from a registered name, an entry-point name, a dotted path
    ``module:Class`` (or ``module.Class``), a class, a factory function (called with no arguments,
    or ``random_state`` if it takes one) or an unfitted instance (cloned). Whatever the spec, the
    result has ``fit`` and ``predict``, or this is one line saying what came instead."""
    if spec is None:
        spec = DEFAULT_PREDICTOR
    if not isinstance(spec, str):
        return _build(spec, random_state, spec)
    if spec in PREDICTORS or not (":" in spec or "." in spec):
        try:
            target = PREDICTORS.get(spec)
        except PluginError as err:
            raise PluginError(f"{err}; or give a dotted path like mypkg.module:MyPredictor") from None
    else:
        target = import_object(spec, "predictor")
    return _build(target, random_state, spec)


def _is_estimator(obj: Any) -> bool:
    return not isinstance(obj, type) and callable(getattr(obj, "fit", None)) \
        and callable(getattr(obj, "predict", None))


def _build(target: Any, random_state: int | None, spec: Any) -> Any:
    """An estimator from a class, factory function or unfitted instance (``spec``: for messages)."""
    name = spec if isinstance(spec, str) else getattr(spec, "__qualname__", type(spec).__name__)
    if _is_estimator(target):
        try:
            return _featurized(clone(target))
        except Exception as err:  # noqa: BLE001 - not a scikit-learn estimator: clone cannot copy it
            raise PluginError(f"predictor {name!r} cannot be cloned ({type(err).__name__}): subclass "
                              "sklearn.base.BaseEstimator, or give its class or a factory function") from None
    if not callable(target):
        raise StitchnasError(f"a predictor must be a name, a dotted path, a class, a factory function "
                             f"or an estimator, not {type(target).__name__}")
    try:
        made = target(**_random_state_kw(target, random_state))
    except StitchnasError:
        raise
    except Exception as err:  # noqa: BLE001 - a plug-in may raise anything
        first = str(err).splitlines()[0] if str(err) else ""
        raise PluginError(f"predictor {name!r} cannot be created with no arguments: "
                          f"{type(err).__name__}: {first}") from None
    if not _is_estimator(made):
        raise PluginError(f"predictor {name!r} returned {type(made).__name__}, not an estimator: a "
                          "predictor class or factory must give an object with fit and predict")
    return _featurized(made)


def _featurized(est: Any) -> Any:
    """A plain scikit-learn regressor (it reads numbers, not stitches) behind the default's
    features, inputs and targets standardised: ``make_pipeline(RouteFeaturizer(),
    StandardScaler(), ScaledTarget(est))``, so any of them plugs in by name (``--predictor
    sklearn.svm:SVR``). Meta-estimators (a Pipeline, or one holding another estimator) and
    anything outside scikit-learn are left as they are."""
    if not type(est).__module__.startswith("sklearn.") or isinstance(est, Pipeline):
        return est
    try:
        params = est.get_params(deep=False).values()
    except Exception:  # noqa: BLE001 - not a full scikit-learn estimator: leave it
        return est
    if any(_is_estimator(v) or isinstance(v, (list, tuple)) and any(
            _is_estimator(x) or isinstance(x, tuple) for x in v) for v in params):
        return est
    return make_pipeline(RouteFeaturizer(), StandardScaler(), ScaledTarget(est))
