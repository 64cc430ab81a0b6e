"""A prior from the anchors alone: accuracy interpolated in log-FLOPs between the anchors.

With nothing measured but the anchors' top-1 (given in the space file as ``acc1:``, on the
command line, or measured with ``stitchnas evaluate SPACE --anchors``), a stitch's accuracy is
read off the line through the anchors' (log FLOPs, top-1) points, piecewise linear and so
monotone between neighbouring anchors; SN-Net's stitches lie near that line, some points below.
The std is wide on purpose: the whole gap between the two anchors a stitch lies between, never
below ``min_std`` = 2 points (the anchors themselves get ``min_std``), since this is a guess, not
a fit: briefly trained stitching layers fall several points below the line (docs/search.md has
the measured coverage).
Measured rows, when there are some, shift the line by their mean residual (shrunk towards 0 by
``shrink`` pseudo-rows) and widen the std by their residuals' spread.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ..errors import StitchnasError
from ._features import Stitch, _check_stitches

__all__ = ["AnchorPrior", "PRIOR_NEEDS", "anchor_line", "prior_suffices"]

#: what the prior needs, in words (error messages name it)
PRIOR_NEEDS = ("the top-1 of at least two anchors: give `acc1:` per anchor in the space file or "
               "--anchor-acc NAME=ACC, or measure them with `stitchnas evaluate SPACE --anchors`")


def anchor_line(flops, anchor_flops: Sequence[float],
                anchor_acc1: Sequence[float | None]) -> np.ndarray:
    """Top-1 (%) at ``flops`` on the line through the anchors' (log FLOPs, top-1) points: piecewise
    linear, flat beyond the outermost anchors; anchors of unknown top-1 (None) are skipped and
    anchors of equal FLOPs averaged. The prior's mean (:class:`AnchorPrior`, nothing measured)."""
    xs, ys = _knots(anchor_flops, anchor_acc1)
    return np.interp(np.log(np.asarray(flops, dtype=float)), xs, ys)


def _knots(anchor_flops: Sequence[float], anchor_acc1: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    points: dict[float, list[float]] = {}
    for f, v in zip(anchor_flops, anchor_acc1):
        if v is not None:
            points.setdefault(float(f), []).append(float(v))
    fs = sorted(points)
    # logs taken as the queries' are (numpy on an array): math.log may differ by an ULP, and an
    # anchor's own FLOPs must read back its top-1 exactly
    return np.log(np.array(fs, dtype=float)), np.array([float(np.mean(points[f])) for f in fs])


def prior_suffices(measured_stitches: int, known_anchors: int) -> bool:
    """Whether the default should read accuracies off the anchors' prior: fewer than two
    measured stitches leave nothing to fit, and two anchors' top-1 give the prior its line
    (`search` and the `auto` predictor both ask this)."""
    return measured_stitches < 2 and known_anchors >= 2


class AnchorPrior(RegressorMixin, BaseEstimator):
    """Top-1 interpolated in log-FLOPs between the anchors' known accuracies (a prior).

    Anchors' accuracies come from the stitches (:attr:`Stitch.anchor_acc1`), overridden by
    measured anchor rows passed to ``fit``. With fewer than two anchors known, a straight line in
    log-FLOPs through the measured rows stands in (at least two rows of different FLOPs needed).
    ``predict(X, return_std=True)`` gives ``(mean, std)``.
    """

    def __init__(self, min_std: float = 2.0, gap_fraction: float = 1.0, shrink: float = 2.0) -> None:
        self.min_std = min_std
        self.gap_fraction = gap_fraction
        self.shrink = shrink

    # ---- fitting ------------------------------------------------------------------------------
    def fit(self, X, y=None) -> "AnchorPrior":
        stitches = _check_stitches(X)
        y = np.asarray([] if y is None else y, dtype=float).ravel()
        if len(y) != len(stitches):
            raise StitchnasError(f"the prior got {len(stitches)} stitches but {len(y)} accuracies")
        if not np.all(np.isfinite(y)):
            raise StitchnasError("accuracies must be finite numbers (percent): drop NaN/inf rows")
        self.measured_anchors_ = {s.route.first_anchor: float(v) for s, v in zip(stitches, y)
                                  if s.is_anchor}
        self.line_ = None
        self.shift_ = 0.0
        self.resid_rms_ = 0.0
        self.n_rows_ = len(y)
        if not stitches:
            return self
        knots = self._knots(stitches[0])
        if len(knots[0]) < 2:  # too few anchors known: a line in log-FLOPs through the rows
            x = np.log([s.flops for s in stitches])
            if len(y) < 2 or np.ptp(x) == 0:
                raise StitchnasError(f"the prior needs {PRIOR_NEEDS}")
            slope, intercept = np.polyfit(x, y, 1)
            self.line_ = (float(intercept), float(slope))
            resid = y - (intercept + slope * x)
        else:
            resid = y - np.interp(np.log([s.flops for s in stitches]), *knots)
            self.shift_ = float(resid.sum() / (len(resid) + self.shrink))
            resid = resid - self.shift_
        self.resid_rms_ = float(np.sqrt(np.mean(resid ** 2)))
        return self

    # ---- predicting ---------------------------------------------------------------------------
    def predict(self, X, return_std: bool = False):
        stitches = _check_stitches(X)
        n = len(stitches)
        mean, std = np.empty(n), np.empty(n)
        x = np.log(np.array([s.flops for s in stitches], dtype=float))  # as the knots
        if self.line_ is not None:
            mean[:] = self.line_[0] + self.line_[1] * x
            std[:] = max(self.min_std, self.resid_rms_)
            return (mean, std) if return_std else mean
        groups: dict[tuple, list[int]] = {}  # stitches of one space share their anchors' points
        for i, s in enumerate(stitches):
            groups.setdefault((s.anchor_flops, s.anchor_acc1), []).append(i)
        for members in groups.values():
            xs, ys = self._knots(stitches[members[0]])
            if len(xs) < 2:
                raise StitchnasError(f"the prior needs {PRIOR_NEEDS}")
            idx = np.array(members)
            mean[idx] = np.interp(x[idx], xs, ys) + self.shift_
            j = np.clip(np.searchsorted(xs, x[idx]), 1, len(xs) - 1)
            gap = self.gap_fraction * np.abs(ys[j] - ys[j - 1])  # between the two anchors around it
            known = np.array([self._known_anchor(stitches[i]) for i in members])
            base = np.where(known, self.min_std, np.maximum(self.min_std, gap))
            std[idx] = np.sqrt(base ** 2 + self.resid_rms_ ** 2)
        return (mean, std) if return_std else mean

    # ---- the anchors' points ------------------------------------------------------------------
    def _anchor_acc(self, s: Stitch) -> list[float | None]:
        acc = list(s.anchor_acc1) + [None] * (len(s.anchor_flops) - len(s.anchor_acc1))
        for a, v in getattr(self, "measured_anchors_", {}).items():
            if a < len(acc):
                acc[a] = v
        return acc

    def _known_anchor(self, s: Stitch) -> bool:
        return s.is_anchor and self._anchor_acc(s)[s.route.first_anchor] is not None

    def _knots(self, s: Stitch) -> tuple[np.ndarray, np.ndarray]:
        """(log FLOPs, top-1) of the anchors with a known accuracy, by FLOPs (equal FLOPs averaged)."""
        return _knots(s.anchor_flops, self._anchor_acc(s))
