"""Accuracy of every candidate: measured where a measurements file has it, else predicted by a
predictor fitted on the measured ones, or, with no stitch measured, a prior from the anchors'
top-1 (``acc1:`` in the space file, or measured anchors)."""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import StitchnasError
from ..paths import measurements_path
from ..predict import as_top1, create_predictor, fit_on_measured, predictor_label, prior_suffices

if TYPE_CHECKING:  # pragma: no cover
    from ..space import SearchSpace

__all__ = ["AccuracyTable", "accuracy_table", "PRIOR"]

#: the predictor (and the front's ``acc1_source``) of accuracies read off the anchors alone
PRIOR = "prior"


@dataclass(frozen=True)
class AccuracyTable:
    """Top-1 of every candidate (id order of ``space.candidates``): measured or predicted."""

    ids: tuple[int, ...]
    acc1: np.ndarray = field(repr=False)
    std: tuple[float | None, ...] = field(repr=False)
    source: tuple[str, ...] = field(repr=False)
    predictor: str | None
    measurements: str | None
    measured_ids: int
    key: str
    measurements_sha256: str | None = None  # of the file read, to tell later whether it changed
    rows: tuple = field(default=(), repr=False, compare=False)  # the measured rows, for their errors

    def index(self) -> dict[int, int]:
        return {cid: i for i, cid in enumerate(self.ids)}


def content_key(doc: Any) -> str:
    """A short hash of a JSON-able document (part of study names: never change it)."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _predictor_key(spec: Any) -> str:
    if spec is None or isinstance(spec, (str, type)):
        return predictor_label(spec)
    try:
        return f"{type(spec).__name__}{sorted(spec.get_params().items())!r}"
    except Exception:  # noqa: BLE001 - any estimator-like object
        return repr(spec)


def accuracy_table(space: "SearchSpace", measurements: Any = None, predictor: Any = "auto", *,
                   random_state: int = 0, proxies: Any = None) -> AccuracyTable:
    """Every candidate's top-1: measured where ``measurements`` (a path, or Measurement rows)
    has it, else the ``predictor``'s mean (fitted on the measured rows) with its std.

    With fewer than two measured stitches (none at all, or the anchors alone) the default
    predictor gives way to the prior (:class:`stitchnas.predict.AnchorPrior`): accuracy
    interpolated between the anchors' top-1 (measured, or ``acc1:`` in the space file), marked
    ``prior`` in ``source``. ``proxies``: a file of every candidate's proxy scores
    (``stitchnas proxy``, of the measured checkpoint) that the predictor reads. Without
    ``measurements``, :func:`stitchnas.measure.default_measurements` says which files are read."""
    from ..measure import measurements_snapshot

    path: str | None = None
    digest: str | None = None
    rows: list = []
    where = ""
    if measurements is None:
        from ..measure import default_measurements

        measurements, proxies = default_measurements(space, proxies)
    if measurements is None:  # neither the space's file nor a run's
        where = f" (no file at {measurements_path(space.name)})"
    elif isinstance(measurements, (str, os.PathLike)):
        rows, digest = measurements_snapshot(measurements, space)  # one read: rows and digest agree
        path = str(measurements)
        where = f" in {measurements}"
    else:
        rows = sorted(measurements, key=lambda m: m.id)
    _warn_shared_batchnorm(space, rows, digest)
    cands = space.candidates
    ids = tuple(c.id for c in cands)
    measured = {m.id: float(m.acc1) for m in rows}
    stitched = sum(m.route.num_stitches > 0 for m in rows)
    known = list(space.anchor_acc1)
    for m in rows:
        if m.route.num_stitches == 0:
            known[m.route.first_anchor] = m.acc1
    n_known = sum(v is not None for v in known)
    missing = [i for i, cid in enumerate(ids) if cid not in measured]
    if not missing and predictor not in (None, "auto"):
        create_predictor(predictor, random_state)  # unused with every stitch measured, but a typo still fails
    use_prior = bool(missing) and (predictor == PRIOR or (
        predictor in (None, "auto") and prior_suffices(stitched, n_known)))
    if missing and not use_prior and len(rows) < 2:
        given = space.given_as  # as the user names it: a YAML path, or a bundled space's name
        if n_known < 2 and stitched == 0:
            what = "no measured stitches" if rows else "no measurements"
            raise StitchnasError(
                f"space {given} has {what}{where} and no two anchors' top-1 to start from: "
                "give `acc1:` per anchor in the space file or --anchor-acc NAME=ACC (a prior "
                f"front), or measure: `stitchnas evaluate {given} --sample 16` (`--anchors`: the "
                "anchors alone), or pass --measurements FILE")
        raise StitchnasError(
            f"only {len(rows)} measured stitch(es){where}: predictor {predictor_label(predictor)!r} "
            f"needs at least 2 to fill in the other {len(missing)}; measure more (`stitchnas "
            f"evaluate {given} --sample 16`), or give the anchors' top-1 (`acc1:` in the space file "
            "or --anchor-acc NAME=ACC) and use --predictor prior")
    acc = np.empty(len(ids))
    std: list[float | None] = [None] * len(ids)
    source = ["measured"] * len(ids)
    label: str | None = None
    asked = PRIOR if use_prior else predictor
    from ..measure import load_proxy_signals

    signals = load_proxy_signals(proxies, space, rows)
    if missing:
        fit = fit_on_measured(space, rows, asked, random_state=random_state,
                              signals=None if use_prior else signals)
        mean, sd = fit.predict([fit.stitches[i] for i in missing])
        label = predictor_label(asked) + (f" ({fit.chosen})" if fit.chosen else "")
        mean = np.asarray(mean, dtype=float)
        bad = np.flatnonzero(~np.isfinite(mean))
        if len(bad):
            k = int(bad[0])
            raise StitchnasError(f"predictor {label!r} predicted {mean[k]} for id {ids[missing[k]]}: "
                                 "choose another predictor")
        acc[missing] = as_top1(mean)  # one bound for the whole vector, not a clip per candidate
        for k, i in enumerate(missing):
            std[i] = None if sd is None or not math.isfinite(float(sd[k])) else max(float(sd[k]), 0.0)
            source[i] = PRIOR if use_prior else "predicted"
    for i, cid in enumerate(ids):
        if cid in measured:
            acc[i] = measured[cid]
    doc = {"measured": sorted(measured.items()),
           "predictor": _predictor_key(asked) if missing else None,
           "random_state": random_state if missing else None}
    if missing and any(v is not None for v in space.anchor_acc1):  # priors change predictions
        doc["anchor_acc1"] = list(space.anchor_acc1)
    if missing and signals is not None and not use_prior:  # so do proxy scores
        doc["proxies"] = sorted((i, sorted(v.items())) for i, v in signals.items())
    return AccuracyTable(ids=ids, acc1=acc, std=tuple(std), source=tuple(source), predictor=label,
                         measurements=path, measured_ids=len(rows), key=content_key(doc),
                         measurements_sha256=digest, rows=tuple(rows))


_WARNED: set[tuple[str, str | None]] = set()


def _warn_shared_batchnorm(space: "SearchSpace", rows: list, digest: str | None) -> None:
    """Log, once per space and file, that stitched rows of a BatchNorm family were measured with
    the statistics every route shares (written before per-route statistics, or ``--batchnorm
    shared``): their accuracies are not what ``export`` ships (docs/training.md)."""
    if (space.content_hash, digest) in _WARNED or not any(m.route.num_stitches for m in rows):
        return
    from ..measure import shared_batchnorm_warning

    warning = shared_batchnorm_warning(space, rows)
    _WARNED.add((space.content_hash, digest))
    if warning:
        from ..progress import get_logger

        get_logger("search").warning(warning)
