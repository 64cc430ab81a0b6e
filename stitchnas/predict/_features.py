"""Stitches as predictor inputs: a small record per candidate, and a featuriser that turns
records into structural feature vectors which carry over between spaces and anchor families.

A :class:`Stitch` holds what a predictor may know about a candidate without measuring it: its
route, FLOPs and parameters, the anchors' depths, widths and FLOPs, the anchors' own measured
accuracies where known, and optional cheap signals (e.g. the least-squares reconstruction error
of its stitching layers). :class:`StitchFeaturizer` is a scikit-learn transformer over lists of
stitches, so any scikit-learn regressor plugs in behind it in a ``Pipeline``.

Features are relative, so a predictor fitted on one family reads another the same way: anchor
size is placed on a 0..1 scale by log-FLOPs between the family's smallest and largest anchor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import StitchnasError
from ..space import Route

if TYPE_CHECKING:  # pragma: no cover
    from ..measure import Measurement
    from ..space import SearchSpace

__all__ = ["Stitch", "StitchFeaturizer", "RouteFeaturizer", "make_stitches", "flops_of", "DEPTH_BINS",
           "MAX_STITCHES"]

DEPTH_BINS = 8  # relative depths at which "which anchor does the work" is read
MAX_STITCHES = 2  # stitch slots in the feature vector (routes with more are summarised in slot 2)


@dataclass(frozen=True)
class Stitch:
    """What is known of one candidate before measuring it.

    ``flops`` are fvcore multiply-adds at batch 1; ``anchor_acc1`` holds each anchor's measured
    top-1 (percent) or None; ``signals`` are optional extra numbers by name (same names for every
    stitch of a space).
    """

    id: int
    route: Route
    flops: int
    params: int
    anchor_depths: tuple[int, ...]
    anchor_widths: tuple[int, ...]
    anchor_flops: tuple[int, ...]
    anchor_params: tuple[int, ...]
    anchor_acc1: tuple[float | None, ...] = ()
    signals: tuple[tuple[str, float], ...] = ()

    @property
    def num_stitches(self) -> int:
        return self.route.num_stitches

    @property
    def is_anchor(self) -> bool:
        return self.route.num_stitches == 0

    @property
    def stitches_up(self) -> int:
        """Stitches into a larger anchor (by FLOPs); the others go down or across."""
        return sum(1 for j in self.route.junctions if self.anchor_flops[j.dst] > self.anchor_flops[j.src])


def flops_of(stitches: Iterable[Stitch]) -> np.ndarray:
    return np.array([s.flops for s in stitches], dtype=float)


def make_stitches(
    space: SearchSpace | str,
    measurements: Iterable[Measurement] = (),
    signals: Mapping[int, Mapping[str, float]] | None = None,
    candidates=None,
) -> list[Stitch]:
    """One :class:`Stitch` per candidate (every valid one by default), costs from the profiler.

    Anchors' accuracies come from ``measurements`` rows of anchor candidates; ``signals`` maps a
    candidate id to extra named numbers. ``space``: a :class:`SearchSpace`, a bundled name or a
    YAML path.
    """
    from ..costs import Profiler
    from ..space import load_space

    space = load_space(space)
    profiler = Profiler(space, progress=False)
    cands = list(space.candidates if candidates is None else candidates)
    depths = tuple(space.depths)
    widths = tuple(specs[-1].channels for specs in space.feature_specs)
    anchor_cost = [profiler.cost(space.find(Route.of([[a, 0, d]]))) for a, d in enumerate(depths)]
    anchor_flops = tuple(c.flops for c in anchor_cost)
    anchor_params = tuple(c.params for c in anchor_cost)
    acc: list[float | None] = [None] * len(depths)
    for m in measurements:
        if m.route.num_stitches == 0:
            acc[m.route.first_anchor] = float(m.acc1)
    names = None
    out = []
    for cand in cands:
        cost = profiler.cost(cand)
        sig = dict((signals or {}).get(cand.id, {}))
        if names is None:
            names = sorted(sig)
        elif sorted(sig) != names:
            raise StitchnasError(
                f"signals for candidate {cand.id} are {sorted(sig)} but others have {names}: "
                "give every candidate the same signals"
            )
        out.append(Stitch(
            id=cand.id, route=cand.route, flops=cost.flops, params=cost.params,
            anchor_depths=depths, anchor_widths=widths, anchor_flops=anchor_flops, anchor_params=anchor_params,
            anchor_acc1=tuple(acc), signals=tuple(sorted(sig.items())),
        ))
    return out


def _check_stitches(X) -> list[Stitch]:
    if isinstance(X, np.ndarray) or not all(isinstance(s, Stitch) for s in X):
        raise StitchnasError(
            "predictors take a list of stitchnas.predict.Stitch records (see make_stitches), "
            f"not {type(X).__name__}"
        )
    return list(X)


class StitchFeaturizer(TransformerMixin, BaseEstimator):
    """Stitches -> structural feature matrix (a scikit-learn transformer).

    Columns: relative log-FLOPs and log-params (0 = smallest anchor, 1 = largest); number of
    stitches; the size (0..1) of the anchor doing the work at ``DEPTH_BINS`` relative depths;
    for each of ``MAX_STITCHES`` stitch slots its relative depth, direction (+1 small→large,
    -1 large→small) and log width ratio; the depth-weighted and the head anchor's measured
    accuracy (interpolated in log-FLOPs between measured anchors when one is unknown); then any
    signals. ``include`` picks groups: ``cost``, ``structure``, ``anchor_acc``, ``signals``.
    """

    GROUPS = ("cost", "structure", "anchor_acc", "signals")

    def __init__(self, include: Sequence[str] = GROUPS) -> None:
        self.include = include

    def fit(self, X, y=None) -> StitchFeaturizer:
        stitches = _check_stitches(X)
        bad = sorted(set(self.include) - set(self.GROUPS))
        if bad:
            raise StitchnasError(f"unknown feature group(s) {bad}: choose from {list(self.GROUPS)}")
        self.signal_names_ = [name for name, _ in stitches[0].signals] if stitches else []
        self.n_features_out_ = len(self._row(stitches[0])) if stitches else 0
        return self

    def transform(self, X) -> np.ndarray:
        stitches = _check_stitches(X)
        rows = [self._row(s) for s in stitches]
        return np.array(rows, dtype=float).reshape(len(rows), -1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names: list[str] = []
        if "cost" in self.include:
            names += ["flops_rel", "params_rel"]
        if "structure" in self.include:
            names += ["num_stitches"] + [f"size_at_{(i + 0.5) / DEPTH_BINS:.3f}" for i in range(DEPTH_BINS)]
            for k in range(MAX_STITCHES):
                names += [f"stitch{k}_depth", f"stitch{k}_direction", f"stitch{k}_width_ratio"]
        if "anchor_acc" in self.include:
            names += ["anchor_acc_mix", "anchor_acc_stem", "anchor_acc_head", "anchor_acc_min"]
        if "signals" in self.include:
            names += list(getattr(self, "signal_names_", []))
        return np.array(names, dtype=object)

    # ---- one row ------------------------------------------------------------------------
    def _row(self, s: Stitch) -> list[float]:
        log_f = np.log(np.asarray(s.anchor_flops, dtype=float))
        lo, hi = float(log_f.min()), float(log_f.max())
        span = hi - lo if hi > lo else 1.0
        size = (log_f - lo) / span  # each anchor's place on the family's 0..1 scale
        row: list[float] = []
        if "cost" in self.include:
            row += [(math.log(s.flops) - lo) / span, self._params_rel(s)]
        if "structure" in self.include:
            row += [float(s.num_stitches)]
            row += [float(size[self._anchor_at(s, (i + 0.5) / DEPTH_BINS)]) for i in range(DEPTH_BINS)]
            slots = list(s.route.junctions)
            if len(slots) > MAX_STITCHES:  # keep the first and the last stitch
                slots = slots[: MAX_STITCHES - 1] + slots[-1:]
            for k in range(MAX_STITCHES):
                if k < len(slots):
                    j = slots[k]
                    depth = j.src_end / s.anchor_depths[j.src]
                    direction = float(np.sign(size[j.dst] - size[j.src]))
                    ratio = math.log(s.anchor_widths[j.dst] / s.anchor_widths[j.src])
                    row += [depth, direction, ratio]
                else:
                    row += [0.0, 0.0, 0.0]
        if "anchor_acc" in self.include:
            acc = self._anchor_acc(s, log_f)
            mix = sum(seg.num_blocks / s.anchor_depths[seg.anchor] * acc[seg.anchor] for seg in s.route)
            mix /= sum(seg.num_blocks / s.anchor_depths[seg.anchor] for seg in s.route)
            used = [acc[seg.anchor] for seg in s.route]
            row += [mix, acc[s.route.first_anchor], acc[s.route.last_anchor], min(used)]
        if "signals" in self.include:
            names = [n for n, _ in s.signals]
            if names != list(getattr(self, "signal_names_", names)):
                raise StitchnasError(
                    f"stitch {s.id} has signals {names} but the featuriser was fitted with "
                    f"{self.signal_names_}: give every stitch the same signals"
                )
            row += [float(v) for _, v in s.signals]
        return row

    @staticmethod
    def _params_rel(s: Stitch) -> float:
        log_p = np.log(np.asarray(s.anchor_params, dtype=float))
        lo, hi = float(log_p.min()), float(log_p.max())
        return (math.log(max(s.params, 1)) - lo) / (hi - lo if hi > lo else 1.0)

    @staticmethod
    def _anchor_at(s: Stitch, rel_depth: float) -> int:
        """The anchor running the block at relative depth ``rel_depth`` (0..1) of the route."""
        for seg in s.route:
            d = s.anchor_depths[seg.anchor]
            if seg.start / d <= rel_depth < seg.end / d or seg.end == d:
                return seg.anchor
        return s.route.last_anchor

    @staticmethod
    def _anchor_acc(s: Stitch, log_f: np.ndarray) -> list[float]:
        known = [(log_f[a], v) for a, v in enumerate(s.anchor_acc1) if v is not None]
        if not known:
            return [0.0] * len(log_f)
        known.sort()
        xs = [k[0] for k in known]
        ys = [k[1] for k in known]
        return [float(v) if v is not None else float(np.interp(log_f[a], xs, ys))
                for a, v in enumerate(list(s.anchor_acc1) + [None] * (len(log_f) - len(s.anchor_acc1)))]


class RouteFeaturizer(TransformerMixin, BaseEstimator):
    """Stitches -> a few relative route features, the default predictor's input.

    Thirteen columns, all on the family's 0..1 anchor-size scale (log-FLOPs between the smallest
    and the largest anchor) or in relative depth, so they read the same in one-way and two-way
    spaces and across families of any depth: ``flops_rel``; the mean anchor size along the route
    (``size_mean``), over its first and its second half of depth (``size_early``,
    ``size_late``); the stem's and the head's anchor size; the number of stitches, of them going
    up (to a larger anchor) and down; the relative depth of the first and the last stitch (1 with
    none); the shortest segment's share of depth; and for out-and-back routes the middle
    segment's share, signed by whether it is larger (+) or smaller (-) than where it left.
    Chosen by leave-one-table-out (docs/predictors.md).
    """

    NAMES = ("flops_rel", "size_mean", "size_early", "size_late", "size_stem", "size_head",
             "num_stitches", "stitches_up", "stitches_down", "first_stitch_depth",
             "last_stitch_depth", "shortest_segment", "excursion")

    def fit(self, X, y=None) -> RouteFeaturizer:
        _check_stitches(X)
        self.n_features_out_ = len(self.NAMES)
        return self

    def transform(self, X) -> np.ndarray:
        stitches = _check_stitches(X)
        scales: dict[tuple[int, ...], tuple[np.ndarray, float, float]] = {}
        rows = np.empty((len(stitches), len(self.NAMES)))
        for i, s in enumerate(stitches):
            if s.anchor_flops not in scales:
                log_f = np.log(np.asarray(s.anchor_flops, dtype=float))
                lo, hi = float(log_f.min()), float(log_f.max())
                span = hi - lo if hi > lo else 1.0
                scales[s.anchor_flops] = ((log_f - lo) / span, lo, span)
            rows[i] = self._row(s, *scales[s.anchor_flops])
        return rows

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array(self.NAMES, dtype=object)

    @staticmethod
    def _row(s: Stitch, size: np.ndarray, lo: float, span: float) -> list[float]:
        segs = list(s.route)
        rel = [(seg.end - seg.start) / s.anchor_depths[seg.anchor] for seg in segs]
        total = sum(rel)
        seg_size = [float(size[seg.anchor]) for seg in segs]
        # anchor size over relative depth: the segments tile it in order
        edges = np.cumsum([0.0] + rel) / total
        mids = (np.arange(DEPTH_BINS) + 0.5) / DEPTH_BINS
        at = np.asarray(seg_size)[np.clip(np.searchsorted(edges, mids, side="right") - 1, 0, len(segs) - 1)]
        half = DEPTH_BINS // 2
        junctions = list(s.route.junctions)
        up = s.stitches_up
        first = junctions[0].src_end / s.anchor_depths[junctions[0].src] if junctions else 1.0
        last = junctions[-1].src_end / s.anchor_depths[junctions[-1].src] if junctions else 1.0
        excursion = 0.0
        if len(segs) >= 3:
            excursion = rel[1] / total * float(np.sign(seg_size[1] - seg_size[0]))
        return [
            (math.log(s.flops) - lo) / span, sum(r * z for r, z in zip(rel, seg_size)) / total,
            float(at[:half].mean()), float(at[half:].mean()), seg_size[0], seg_size[-1],
            float(len(junctions)), float(up), float(len(junctions) - up), first, last,
            min(rel) / total, excursion,
        ]
