"""Fit a predictor on a space's measured stitches: the one place every caller does it.

``stitchnas predict``, ``suggest``, ``stitchnas run`` and the search's accuracy table all fit the
same way: every candidate becomes a :class:`Stitch` (anchors' accuracies from the measured rows,
else the space's ``acc1:`` priors),
the predictor is fitted on the measured ones in row order, and a plug-in's failure becomes one
line naming the predictor. :func:`fit_checked` and :func:`predict_checked` are the one check of a
plug-in's output (``fit`` returns the fitted predictor; ``predict`` gives one finite top-1 in
percent per stitch, the same each time; ``std`` finite and >= 0) that every verb goes through.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..errors import StitchnasError
from ._features import Stitch, make_stitches
from ._predictors import create_predictor

if TYPE_CHECKING:
    from ..measure import Measurement
    from ..space import SearchSpace

__all__ = ["FittedPredictor", "fit_on_measured", "predictor_label", "with_anchor_priors", "fit_checked",
           "predict_checked", "as_top1", "prediction_problem", "fit_problem", "prediction_plot_path", "prediction_rows",
           "write_predictions"]


def predictor_label(spec: Any) -> str:
    """How a predictor spec is named in files and messages: its name, ``module:Class`` or class."""
    if spec is None:
        return "auto"
    if isinstance(spec, str):
        return spec
    if isinstance(spec, type) or callable(spec) and not hasattr(spec, "predict"):
        return f"{getattr(spec, '__module__', '?')}:{getattr(spec, '__qualname__', type(spec).__name__)}"
    return type(spec).__name__


def as_top1(mean: Any) -> np.ndarray:
    """Predicted top-1s held to 0..100, as files and fronts hold them: a line extrapolated past the
    best anchor still names a percentage."""
    return np.clip(np.asarray(mean, dtype=float), 0.0, 100.0)


def prediction_problem(mean: Any, std: Any, n: int, y_train: Any = ()) -> str | None:
    """The first output rule a prediction breaks, in words with the fix, or None.

    ``mean`` must be ``n`` finite numbers (top-1 in percent: all within 0..1 while every training
    target is above 1 reads as fractions); ``std``, where given, ``n`` finite numbers >= 0."""
    try:
        mean = np.asarray(mean, dtype=float)
    except (TypeError, ValueError):
        return f"predict returned {type(mean).__name__}, not numbers: return one top-1 (percent) per stitch"
    if mean.shape != (n,):
        return f"predict returned shape {mean.shape} for {n} stitches: return one top-1 (percent) per stitch"
    bad = int(np.sum(~np.isfinite(mean)))
    if bad:
        return f"predict returned NaN or inf for {bad} of {n} stitches: return finite top-1 (percent)"
    y = np.asarray(y_train, dtype=float).ravel()
    if n and len(y) and np.min(y) > 1 and np.all(np.abs(mean) <= 1):
        return "predictions look like fractions (0..1); return top-1 in percent"
    if std is None:
        return None
    try:
        std = np.asarray(std, dtype=float)
    except (TypeError, ValueError):
        return f"predict(..., return_std=True) returned std of {type(std).__name__}: return (mean, std) arrays"
    if std.shape != (n,):
        return f"predict(..., return_std=True) returned std of shape {std.shape} for {n} stitches: one per stitch"
    if not np.all(np.isfinite(std)) or np.any(std < 0):
        return "predict(..., return_std=True) returned a negative or non-finite std: std must be finite and >= 0"
    return None


def fit_problem(fitted_mean: Any, y_train: Any) -> str | None:
    """The wrong-scale rule on the rows a predictor was fitted on, in words with the fix, or None.

    Predictions that miss their own training top-1s by far more than those top-1s' mean does (an
    unscaled network that did not converge, an offset or a unit mix-up) are not top-1s of the
    stitches, and a search would rank every unmeasured stitch by them. The bound is generous, so
    that predictors that smooth or ignore the rows on purpose (``flops``' flat steps, ``prior``)
    pass: the mean absolute miss must exceed three times the rows' mean absolute deviation plus a
    tenth of their mean top-1, with three rows or more."""
    pred = np.asarray(fitted_mean, dtype=float).ravel()
    y = np.asarray(y_train, dtype=float).ravel()
    if len(y) < 3 or pred.shape != y.shape:
        return None
    miss, spread = float(np.mean(np.abs(pred - y))), float(np.mean(np.abs(y - y.mean())))
    if miss <= 3 * spread + 0.1 * float(np.mean(np.abs(y))):
        return None
    return (f"predictions on the wrong scale: they miss the {len(y)} measured stitches it was fitted on by "
            f"{miss:.3g} points on average, where those stitches' mean top-1 would miss by {spread:.3g}; "
            "return top-1 in percent (fit it to standardised top-1s, e.g. behind "
            "stitchnas.predict.ScaledTarget, or check that it converges)")


def fit_checked(spec: Any, X: Sequence[Stitch], y: Any, random_state: int | None = 0) -> Any:
    """A fresh predictor from ``spec`` fitted on ``(X, y)``; a plug-in that raises, or whose
    ``fit`` returns something without ``predict``, is one line naming it."""
    model = create_predictor(spec, random_state=random_state)
    fitted = _guarded(spec, lambda: model.fit(list(X), y), len(X))
    if not (hasattr(fitted, "predict") and callable(fitted.predict)):
        got = "None" if fitted is None else type(fitted).__name__
        raise StitchnasError(f"predictor {predictor_label(spec)!r}: fit returned {got}, "
                             "not the fitted predictor: end fit with `return self`")
    return fitted


_REPEAT_ROWS = 256  # predict is called twice on this many stitches to see that it repeats


def predict_checked(spec: Any, model: Any, X: Sequence[Stitch], y_train: Any = (), *,
                    repeat: bool = True, std: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mean, std)`` of a fitted ``model`` on ``X`` (``std`` None where it gives none or is not
    asked for), checked against :func:`prediction_problem`'s rules and (``repeat``) that two calls
    on the same stitches agree; a broken rule is one line naming the predictor and the rule."""
    from ._predictors import supports_std

    X = list(X)
    n_rows = len(np.ravel(y_train))
    want_std = std and supports_std(model)

    def call(stitches):
        res = _guarded(spec, lambda: model.predict(stitches, return_std=True) if want_std
                       else model.predict(stitches), n_rows)
        if want_std and not (isinstance(res, (tuple, list)) and len(res) == 2):
            problem = f"predict(..., return_std=True) returned {type(res).__name__}, not (mean, std)"
        else:
            mean, sd = res if want_std else (res, None)
            problem = prediction_problem(mean, sd, len(stitches), y_train)
        if problem:
            raise StitchnasError(f"predictor {predictor_label(spec)!r}: {problem}")
        return np.asarray(mean, dtype=float), None if sd is None else np.asarray(sd, dtype=float)

    mean, std = call(X)
    if repeat and X:
        sub = X[:_REPEAT_ROWS]
        first, again = call(sub)[0], call(sub)[0]
        if not (np.allclose(first, again, rtol=1e-7, atol=1e-9)
                and np.allclose(first, mean[: len(sub)], rtol=1e-7, atol=1e-9)):
            raise StitchnasError(f"predictor {predictor_label(spec)!r}: predict is not repeatable (two calls "
                                 "on the same stitches differ): seed randomness in fit, not __init__")
    return mean, std


@dataclass(frozen=True)
class FittedPredictor:
    """A predictor fitted on the measured rows of a space, with every candidate as a stitch.

    ``stitches``: every candidate in the space's id order; ``measured``: the positions in
    ``stitches`` of the measured rows, in row order; ``y``: their measured top-1."""

    model: Any
    spec: Any = field(repr=False)  # what the caller asked for: failures are named after it
    stitches: list[Stitch] = field(repr=False)
    measured: list[int] = field(repr=False)
    y: np.ndarray = field(repr=False)
    checked: tuple = field(default=(), repr=False)  # (mean, std) on every candidate, checked at fit

    @property
    def train(self) -> list[Stitch]:
        return [self.stitches[i] for i in self.measured]

    @property
    def chosen(self) -> str | None:
        """What an ``auto``-like predictor chose, if it says (``chosen_``)."""
        chosen = getattr(self.model, "chosen_", None)
        return chosen if isinstance(chosen, str) else None

    def predict(self, stitches: Sequence[Stitch] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """``(mean, std)`` of the fitted predictor on ``stitches`` (default: every candidate);
        candidates of this fit are read from the predictions checked when it was fitted."""
        if self.checked:
            mean, std = self.checked
            if stitches is None:
                return mean.copy(), None if std is None else std.copy()
            pos = {id(s): i for i, s in enumerate(self.stitches)}
            idx = [pos.get(id(s)) for s in stitches]
            if None not in idx:
                return mean[idx], None if std is None else std[idx]
        return predict_checked(self.spec, self.model, self.stitches if stitches is None else stitches,
                               self.y, repeat=False)

    def accuracy(self, mean: np.ndarray | None = None) -> np.ndarray:
        """Every candidate's top-1: measured where measured, else the predicted mean."""
        acc = np.array(self.predict()[0] if mean is None else mean, dtype=float)
        acc[self.measured] = self.y
        return acc


def _guarded(spec: Any, call, n_rows: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's convergence chatter
        try:
            return call()
        except StitchnasError:
            raise
        except Exception as err:  # noqa: BLE001 - a plug-in predictor may raise anything
            first = str(err).splitlines()[0] if str(err) else ""
            raise StitchnasError(f"predictor {predictor_label(spec)!r} failed on {n_rows} measured "
                                 f"stitches: {type(err).__name__}: {first}") from err


def with_anchor_priors(space: "SearchSpace", stitches: list[Stitch]) -> list[Stitch]:
    """``stitches`` with each anchor's accuracy that no measured anchor row gives filled in from
    the space's priors (``acc1:`` per anchor, ``--anchor-acc``); measured anchors win."""
    priors = tuple(getattr(space, "anchor_acc1", ()) or ())
    if not stitches or all(v is None for v in priors):
        return stitches
    known = list(stitches[0].anchor_acc1) + [None] * (len(priors) - len(stitches[0].anchor_acc1))
    acc = tuple(m if m is not None else p for m, p in zip(known, priors))
    return [dataclasses.replace(s, anchor_acc1=acc) for s in stitches]


def fit_on_measured(space: "SearchSpace | str", rows: Sequence["Measurement"], predictor: Any = None, *,
                    random_state: int | None = 0,
                    signals: Mapping[int, Mapping[str, float]] | None = None) -> FittedPredictor:
    """Fit ``predictor`` (a name, ``module:Class``, class or estimator; None: the default) on the
    measured ``rows`` of ``space``; ``signals``: every candidate's cheap signals by id (proxy
    scores, :func:`stitchnas.measure.proxy_signals`). Callers check first that there are
    enough rows for their job. ``space``: a :class:`SearchSpace`, a bundled name or a YAML path."""
    from ..space import load_space

    space = load_space(space)
    rows = list(rows)
    stitches = with_anchor_priors(space, make_stitches(space, rows, signals=signals))
    by_id = {s.id: i for i, s in enumerate(stitches)}
    unknown = [m.id for m in rows if m.id not in by_id]
    if unknown:
        raise StitchnasError(f"measured id {unknown[0]} is not a candidate of space {space.name!r}: "
                             "measure this space's candidates (stitchnas enumerate lists them)")
    measured = [by_id[m.id] for m in rows]
    y = np.array([m.acc1 for m in rows], dtype=float)
    model = fit_checked(predictor, [stitches[i] for i in measured], y, random_state)
    checked = predict_checked(predictor, model, stitches, y)
    problem = fit_problem(checked[0][measured], y)
    if problem:
        raise StitchnasError(f"predictor {predictor_label(predictor)!r}: {problem}")
    return FittedPredictor(model=model, spec=predictor, stitches=stitches, measured=measured, y=y,
                           checked=checked)


def prediction_plot_path(out: str | os.PathLike) -> Path:
    """The plot written beside a predictions file: ``P.jsonl`` -> ``P.png``."""
    out = Path(out)
    return out.with_suffix(".png") if out.suffix and out.suffix != ".png" else Path(f"{out}.png")


def prediction_rows(fit: FittedPredictor, rows: Sequence["Measurement"]) -> list[dict[str, Any]]:
    """One dict per candidate (``id``, ``route``, ``acc1_pred``, ``acc1_std``, ``measured``): what
    ``stitchnas predict`` writes. A mean beyond 0..100 (a line extrapolated past the best anchor)
    is written at the bound, as the search's accuracy table has it: a top-1 is a percentage."""
    mean, std = fit.predict()
    mean = as_top1(mean)
    known = {m.id for m in rows}
    return [{"id": st.id, "route": st.route.to_json(), "acc1_pred": round(float(mean[i]), 4),
             "acc1_std": None if std is None else round(float(std[i]), 4),
             "measured": st.id in known} for i, st in enumerate(fit.stitches)]


def write_predictions(out: str | os.PathLike, predicted: Sequence[dict[str, Any]], fit: FittedPredictor,
                      rows: Sequence["Measurement"], space_name: str, *, plot: bool = True) -> Path | None:
    """Write ``predicted`` (:func:`prediction_rows`) as JSONL to ``out`` and, with ``plot``, the
    predictions against FLOPs beside it (:func:`prediction_plot_path`); the plot is drawn before
    either file is written. Returns the plot's path (None without one)."""
    import json

    from ..fileio import atomic_write

    png = None
    if plot:
        from ..plots import prediction_png

        acc = {m.id: m.acc1 for m in rows}
        chosen = f" (chose {fit.chosen})" if fit.chosen else ""
        png = prediction_png(
            [st.flops for st in fit.stitches], [r["acc1_pred"] for r in predicted],
            None if all(r["acc1_std"] is None for r in predicted) else [r["acc1_std"] for r in predicted],
            {i: acc[st.id] for i, st in enumerate(fit.stitches) if st.id in acc},
            [st.is_anchor for st in fit.stitches],
            title=f"{space_name}: top-1 of {len(predicted)} candidates\n" + (
                "every one measured" if len(acc) == len(predicted) else
                f"predicted by {predictor_label(fit.spec)}{chosen}, fitted on {len(rows)} measured"))
    with atomic_write(out, what="predictions file") as fh:
        for row in predicted:
            fh.write(json.dumps(row) + "\n")
    if png is None:
        return None
    path = prediction_plot_path(out)
    with atomic_write(path, "wb", what="predictions plot") as fh:
        fh.write(png)
    return path
