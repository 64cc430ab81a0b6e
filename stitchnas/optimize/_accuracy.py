"""Accuracy of every candidate: measured where a measurements file has it, else predicted by a
predictor fitted on the measured ones."""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import StitchnasError
from ..paths import measurements_path
from ..predict import fit_on_measured, predictor_label

if TYPE_CHECKING:  # pragma: no cover
    from ..space import SearchSpace

__all__ = ["AccuracyTable", "accuracy_table"]


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
                   random_state: int = 0) -> AccuracyTable:
    """Every candidate's top-1: measured where ``measurements`` (a path, or Measurement rows)
    has it, else the ``predictor``'s mean (fitted on the measured rows) with its std."""
    from ..measure import read_measurements

    path: str | None = None
    if measurements is None or isinstance(measurements, (str, os.PathLike)):
        p = Path(measurements) if measurements is not None else measurements_path(space.name)
        if measurements is None and not p.is_file():
            raise StitchnasError(
                f"no measurements for space {space.name!r} at {p}: the search learns accuracy from "
                f"measured stitches; measure some with `stitchnas evaluate {space.name} --sample 16` "
                "(or pass --measurements FILE)")
        rows = read_measurements(p, space)
        path = str(p)
    else:
        rows = sorted(measurements, key=lambda m: m.id)
    if not rows:
        raise StitchnasError(f"measurements {path or ''} hold no rows for space {space.name!r}: "
                             "measure some stitches first (stitchnas evaluate)")
    cands = space.candidates
    ids = tuple(c.id for c in cands)
    measured = {m.id: float(m.acc1) for m in rows}
    acc = np.empty(len(ids))
    std: list[float | None] = [None] * len(ids)
    source = ["measured"] * len(ids)
    label: str | None = None
    missing = [i for i, cid in enumerate(ids) if cid not in measured]
    if missing:
        if len(rows) < 2:
            raise StitchnasError(
                f"only {len(rows)} measured stitch(es) in {path or 'the measurements'}: a predictor "
                f"needs at least 2 to fill in the other {len(missing)}; measure more "
                f"(`stitchnas evaluate {space.name} --sample 16`)")
        fit = fit_on_measured(space, rows, predictor, random_state=random_state)
        mean, sd = fit.predict([fit.stitches[i] for i in missing])
        label = predictor_label(predictor) + (f" ({fit.chosen})" if fit.chosen else "")
        for k, i in enumerate(missing):
            if not math.isfinite(float(mean[k])):
                raise StitchnasError(f"predictor {label!r} predicted {mean[k]} for id {ids[i]}: "
                                     "choose another predictor")
            acc[i] = float(mean[k])
            std[i] = None if sd is None or not math.isfinite(float(sd[k])) else max(float(sd[k]), 0.0)
            source[i] = "predicted"
    for i, cid in enumerate(ids):
        if cid in measured:
            acc[i] = measured[cid]
    key = content_key({"measured": sorted(measured.items()),
                       "predictor": _predictor_key(predictor) if missing else None,
                       "random_state": random_state if missing else None})
    return AccuracyTable(ids=ids, acc1=acc, std=tuple(std), source=tuple(source), predictor=label,
                         measurements=path, measured_ids=len(rows), key=key)
