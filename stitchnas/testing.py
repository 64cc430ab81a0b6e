"""Checks for plug-in authors: does a predictor follow stitchnas's predictor protocol?

``check_predictor(MyPredictor)`` runs the class (or an unfitted instance) through the protocol on
a small real space and raises ``AssertionError`` listing every rule it breaks, each with what to
change. It is cheap (the bundled ``tiny_test`` space, no weights, synthetic accuracies), so a
plug-in's own test suite can call it.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np

__all__ = ["check_predictor"]


def _sample(seed: int = 0):
    from .predict import make_stitches
    from .space import load_space

    space = load_space("tiny_test")
    stitches = make_stitches(space)
    rng = np.random.default_rng(seed)
    # plausible accuracies: rising with FLOPs, lower for more stitches, plus noise
    f = np.log([s.flops for s in stitches])
    acc = 60 + 20 * (f - f.min()) / (f.max() - f.min()) - 2.0 * np.array([s.num_stitches for s in stitches])
    acc = acc + rng.normal(0, 0.5, len(stitches))
    return stitches, acc


def check_predictor(predictor: Any, *, seed: int = 0) -> None:
    """Raise ``AssertionError`` naming every protocol rule ``predictor`` breaks.

    The rules: scikit-learn's estimator protocol (``__init__`` only stores its arguments, so
    ``get_params``/``clone`` work; ``fit(stitches, acc1)`` returns ``self``); ``predict``
    returns one finite float per stitch, for stitches it was not fitted on too; fitting does not
    change the caller's lists; the same seed gives the same predictions; a predictor that accepts
    ``return_std`` returns ``(mean, std)`` with ``std >= 0`` and the same mean; predictions follow
    the data (not a constant when accuracies vary).
    """
    from sklearn.base import clone

    from .predict import create_predictor, supports_std

    problems: list[str] = []
    name = predictor.__name__ if isinstance(predictor, type) else type(predictor).__name__
    stitches, acc = _sample(seed)
    train = list(range(0, len(stitches), 2))
    test = [i for i in range(len(stitches)) if i not in train]
    x_tr, y_tr = [stitches[i] for i in train], acc[train]
    x_te = [stitches[i] for i in test]

    try:
        est = create_predictor(predictor, random_state=seed)
    except Exception as err:
        raise AssertionError(f"{name}: cannot be created with no arguments: {err}") from err
    if not (hasattr(est, "fit") and hasattr(est, "predict")):
        raise AssertionError(f"{name}: needs fit(stitches, acc1) and predict(stitches) methods")
    try:
        params = est.get_params()
        clone(est)
    except Exception as err:
        problems.append(f"get_params()/sklearn.base.clone fail ({type(err).__name__}: {err}): subclass "
                        "sklearn.base.BaseEstimator and store every __init__ argument under its own name")
        params = None
    fitted_before = [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]
    if fitted_before:
        problems.append(f"__init__ sets fitted-looking attributes {fitted_before}: only store arguments "
                        "in __init__; compute state in fit and name it with a trailing underscore")
    x_copy, y_copy = list(x_tr), np.array(y_tr)
    try:
        out = est.fit(x_tr, y_tr)
    except Exception as err:
        raise AssertionError(f"{name}: fit(stitches, acc1) raised {type(err).__name__}: {err}") from err
    if out is not est:
        problems.append("fit must return self (end fit with `return self`)")
    if x_tr != x_copy or not np.array_equal(y_tr, y_copy):
        problems.append("fit changed the stitches or accuracies it was given: work on copies")
    if params is not None:
        try:
            if est.get_params().keys() != params.keys():
                problems.append("fit changed get_params(): do not set constructor arguments in fit")
        except Exception:
            pass
    try:
        pred = np.asarray(est.predict(x_te))
    except Exception as err:
        raise AssertionError(f"{name}: predict(stitches) raised {type(err).__name__}: {err}") from err
    if pred.shape != (len(x_te),):
        problems.append(f"predict must return one number per stitch, shape ({len(x_te)},); got {pred.shape}")
    elif not np.all(np.isfinite(pred.astype(float))):
        problems.append("predict returned NaN or inf: return finite accuracies (percent)")
    elif np.ptp(pred) == 0:
        problems.append("predict returns the same value for every stitch although accuracies vary: "
                        "the predictor ignores its input")
    try:
        again = np.asarray(create_predictor(predictor, random_state=seed).fit(x_tr, y_tr).predict(x_te))
        if again.shape == pred.shape and not np.allclose(again, pred):
            problems.append("two fits with the same data and random_state differ: seed every random "
                            "step from a random_state argument")
    except Exception as err:
        problems.append(f"a second fit failed ({type(err).__name__}: {err}): fit must work on a fresh instance")
    if supports_std(est):
        try:
            res = est.predict(x_te, return_std=True)
            mean, std = (np.asarray(r) for r in res)
            if mean.shape != pred.shape or std.shape != pred.shape:
                problems.append("predict(..., return_std=True) must return (mean, std), one of each per stitch")
            else:
                if not np.allclose(mean, pred):
                    problems.append("predict(..., return_std=True)'s mean differs from predict(...)")
                if not np.all(np.isfinite(std)) or np.any(std < 0):
                    problems.append("std must be finite and >= 0")
        except Exception as err:
            problems.append(f"predict accepts return_std but raised {type(err).__name__}: {err}")
    try:
        copy.deepcopy(est)
    except Exception as err:
        problems.append(f"a fitted predictor must be copyable (copy.deepcopy raised {type(err).__name__})")
    if "random_state" in inspect.signature(type(est).__init__).parameters and params is not None \
            and "random_state" not in params:
        problems.append("random_state is an __init__ argument but not in get_params()")
    if problems:
        raise AssertionError(f"{name} breaks the predictor protocol:\n" + "\n".join(f"- {p}" for p in problems))
