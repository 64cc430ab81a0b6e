"""Fit a predictor on a space's measured stitches: the one place every caller does it.

``stitchnas predict``, ``suggest``, ``stitchnas run`` and the search's accuracy table all fit the
same way: every candidate becomes a :class:`Stitch` (anchors' accuracies from the measured rows),
the predictor is fitted on the measured ones in row order, and a plug-in's failure becomes one
line naming the predictor.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import StitchnasError
from ._features import Stitch, make_stitches
from ._predictors import create_predictor, predict_with_std

if TYPE_CHECKING:
    from ..measure import Measurement
    from ..space import SearchSpace

__all__ = ["FittedPredictor", "fit_on_measured", "predictor_label"]


def predictor_label(spec: Any) -> str:
    """How a predictor spec is named in files and messages: its name, ``module:Class`` or class."""
    if spec is None:
        return "auto"
    if isinstance(spec, str):
        return spec
    if isinstance(spec, type):
        return f"{spec.__module__}:{spec.__qualname__}"
    return type(spec).__name__


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

    @property
    def train(self) -> list[Stitch]:
        return [self.stitches[i] for i in self.measured]

    @property
    def chosen(self) -> str | None:
        """What an ``auto``-like predictor chose, if it says (``chosen_``)."""
        chosen = getattr(self.model, "chosen_", None)
        return chosen if isinstance(chosen, str) else None

    def predict(self, stitches: Sequence[Stitch] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """``(mean, std)`` of the fitted predictor on ``stitches`` (default: every candidate)."""
        return _guarded(self.spec, lambda: predict_with_std(
            self.model, self.stitches if stitches is None else list(stitches)), len(self.measured))

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


def fit_on_measured(space: "SearchSpace", rows: Sequence["Measurement"], predictor: Any = None, *,
                    random_state: int | None = 0) -> FittedPredictor:
    """Fit ``predictor`` (a name, ``module:Class``, class or estimator; None: the default) on the
    measured ``rows`` of ``space``. Callers check first that there are enough rows for their job."""
    rows = list(rows)
    stitches = make_stitches(space, rows)
    by_id = {s.id: i for i, s in enumerate(stitches)}
    unknown = [m.id for m in rows if m.id not in by_id]
    if unknown:
        raise StitchnasError(f"measured id {unknown[0]} is not a candidate of space {space.name!r}: "
                             "measure this space's candidates (stitchnas enumerate lists them)")
    measured = [by_id[m.id] for m in rows]
    y = np.array([m.acc1 for m in rows], dtype=float)
    model = create_predictor(predictor, random_state=random_state)
    model = _guarded(predictor, lambda: model.fit([stitches[i] for i in measured], y), len(rows))
    return FittedPredictor(model=model, spec=predictor, stitches=stitches, measured=measured, y=y)
