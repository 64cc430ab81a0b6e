"""Conformance kits for plug-in authors: predictors, anchor adapters and stitching rules.

``check_predictor(MyPredictor)`` runs the class (or an unfitted instance) through the protocol on
a small real space and raises ``AssertionError`` listing every rule it breaks, each with what to
change. It is cheap (the bundled ``tiny_test`` space, no weights, synthetic accuracies), so a
plug-in's own test suite can call it. ``check_adapter(MyAdapter, model)`` and
``check_rule(MyRule)`` do the same for the other two plug-in kinds.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np

__all__ = ["check_predictor", "check_adapter", "check_rule"]


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
    change the caller's lists; predict gives the same answer every time and the same seed the same
    fit; predictions are top-1 in percent, not fractions, and near the top-1s it was fitted on (not
    an unscaled network's or an offset's); a predictor that accepts ``return_std`` returns
    ``(mean, std)`` with ``std >= 0`` and the same mean; predictions follow the data (not a
    constant when accuracies vary).
    """
    from sklearn.base import clone

    from .predict import create_predictor, fit_problem, supports_std

    problems: list[str] = []
    name = predictor if isinstance(predictor, str) else getattr(predictor, "__name__", type(predictor).__name__)
    stitches, acc = _sample(seed)
    train = list(range(0, len(stitches), 2))
    test = [i for i in range(len(stitches)) if i not in train]
    x_tr, y_tr = [stitches[i] for i in train], acc[train]
    x_te = [stitches[i] for i in test]

    try:
        est = create_predictor(predictor, random_state=seed)
    except Exception as err:
        raise AssertionError(f"{name}: cannot be created with no arguments: {err}") from err
    if not (hasattr(est, "fit") and hasattr(est, "predict")):  # pragma: no cover - create_predictor refuses it
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
    elif np.all(np.abs(pred.astype(float)) <= 1) and np.min(y_tr) > 1:
        problems.append("predictions look like fractions (0..1); return top-1 in percent")
    elif np.ptp(pred) == 0:
        problems.append("predict returns the same value for every stitch although accuracies vary: "
                        "the predictor ignores its input")
    else:
        try:
            if problem := fit_problem(est.predict(x_tr), y_tr):
                problems.append(problem)
        except Exception as err:
            problems.append(f"predict on the stitches it was fitted on raised {type(err).__name__}: {err}")
    repeats = True
    try:
        twice = np.asarray(est.predict(x_te))
        if twice.shape == pred.shape and not np.allclose(twice, pred, rtol=1e-7, atol=1e-9, equal_nan=True):
            repeats = False
            problems.append("predict is not repeatable: seed randomness in fit, not __init__")
    except Exception as err:
        problems.append(f"a second predict raised {type(err).__name__}: predict must not change the fitted state")
    try:
        again = np.asarray(create_predictor(predictor, random_state=seed).fit(x_tr, y_tr).predict(x_te))
        if repeats and again.shape == pred.shape and not np.allclose(again, pred, equal_nan=True):
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


def _raise(kind: str, problems: list[str]) -> None:
    if problems:
        raise AssertionError(f"{kind} breaks {len(problems)} rule(s):\n- " + "\n- ".join(problems))


def check_adapter(adapter_cls: type, model: Any, input_size: tuple[int, int, int] | None = None) -> None:
    """Raise ``AssertionError`` naming every rule ``adapter_cls`` breaks on ``model``.

    The rules: ``handles(model)`` is true; stem -> blocks -> head reproduces the model's own
    output exactly (the pieces share the model's parameters, nothing is copied); ``depth`` counts
    the blocks; ``feature_specs`` has one spec per block boundary (``depth + 1``), each matching the
    feature that runs through that boundary."""
    import torch

    problems: list[str] = []
    if not adapter_cls.handles(model):
        _raise(adapter_cls.__name__, [f"handles({type(model).__name__}) is False: set model_class (or "
                                      "override handles()) to the models this adapter is for"])
    adapter = adapter_cls(model.eval())
    size = tuple(input_size or adapter.default_input_size())
    x = torch.randn((2, *size), generator=torch.Generator().manual_seed(0))
    blocks = adapter.blocks()
    if adapter.depth != len(blocks):
        problems.append(f"depth is {adapter.depth} but blocks() returns {len(blocks)} modules")
    own = {id(p) for p in model.parameters()}
    pieces = [adapter.stem(), *blocks, adapter.head()]
    copied = [type(m).__name__ for m in pieces for p in m.parameters() if id(p) not in own]
    if copied:
        problems.append(f"pieces hold parameters the model does not ({copied[0]}, ...): borrow the "
                        "model's modules (stitchnas.anchors.Borrowed) instead of copying them")
    with torch.no_grad():
        want = model(x)
        h = pieces[0](x)
        seen = [h]
        for block in blocks:
            h = block(h)
            seen.append(h)
        got = pieces[-1](h)
    if got.shape != want.shape or not torch.allclose(got, want, atol=1e-5, rtol=1e-4):
        problems.append("stem -> blocks -> head does not reproduce the model's output: cut the "
                        "model where its own forward passes features from one piece to the next")
    specs = adapter.feature_specs(size)
    if len(specs) != len(blocks) + 1:
        problems.append(f"feature_specs has {len(specs)} entries; want depth + 1 = {len(blocks) + 1}")
    else:
        for i, (spec, feat) in enumerate(zip(specs, seen)):
            if tuple(spec.shape) != tuple(feat.shape[1:]):
                problems.append(f"feature_specs[{i}].shape is {tuple(spec.shape)} but the feature "
                                f"at boundary {i} has shape {tuple(feat.shape[1:])}")
                break
    _raise(adapter_cls.__name__, problems)


def check_rule(rule_cls: type, depths_list: Any = ((4, 4), (4, 6), (6, 12), (4, 4, 4))) -> None:
    """Raise ``AssertionError`` naming every rule ``rule_cls`` (a StitchRule) breaks.

    The rules: it has a ``name``; with default options, ``enumerate(depths)`` gives one slot per
    id in id order, each a Candidate with that id (or None for a retired id); the anchors alone
    come first (ids ``0..n-1``); routes are distinct; every segment stays inside its anchor;
    enumeration is deterministic."""
    from .space import Candidate

    problems: list[str] = []
    if not isinstance(getattr(rule_cls, "name", None), str) or not rule_cls.name:
        problems.append("no class attribute `name`: set name = 'my_rule' (the space file's rule type)")
    rule = rule_cls()
    for depths in depths_list:
        try:
            rule.check(list(depths))
        except Exception:  # noqa: BLE001 - this rule does not take these depths
            continue
        slots = rule.enumerate(list(depths))
        if slots != rule.enumerate(list(depths)):
            problems.append(f"depths {depths}: two enumerations differ; enumerate must be deterministic")
        cands = [c for c in slots if c is not None]
        if any(not isinstance(c, Candidate) for c in cands):
            problems.append(f"depths {depths}: enumerate returned something other than Candidate/None")
            continue
        wrong = [(i, c.id) for i, c in enumerate(slots) if c is not None and c.id != i]
        if wrong:
            problems.append(f"depths {depths}: slot {wrong[0][0]} holds id {wrong[0][1]}; slot i must hold id i")
        first = [c for c in slots[: len(depths)]]
        if any(c is None or not c.is_anchor or c.route.segments[0].anchor != a for a, c in enumerate(first)):
            problems.append(f"depths {depths}: ids 0..{len(depths) - 1} must be the anchors alone, in order")
        routes = [c.route for c in cands]
        if len(set(routes)) != len(routes):
            problems.append(f"depths {depths}: the same route is enumerated twice")
        out = [c.id for c in cands for seg in c.route.segments
               if seg.anchor >= len(depths) or seg.end > depths[seg.anchor]]
        if out:
            problems.append(f"depths {depths}: candidate {out[0]} runs blocks outside its anchor")
    _raise(getattr(rule_cls, "__name__", str(rule_cls)), problems)
