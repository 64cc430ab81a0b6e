"""Per-route BatchNorm statistics: the recipe every measurement and export of a stitch uses.

Joint stitching training leaves each BatchNorm layer of an anchor with statistics of whatever
routes ran through it; a stitched route measured with them can read far low (docs/training.md).
So in a family with BatchNorm layers, `evaluate`, `run`, `study`, `proxy` and `export` re-estimate
each route's statistics on the same fixed training images (:class:`BatchNormCalibration`) before
it runs: what a stitch measured is what its exported model computes. LayerNorm families are not
touched.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from ..errors import StitchnasError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch.utils.data import Dataset

    from ..space import SearchSpace

__all__ = ["BatchNormCalibration", "BN_CALIBRATION", "BATCHNORM_KEY", "CalibrationImages",
           "calibration_images", "route_calibration", "space_batchnorm_layers", "shared_batchnorm_warning"]

#: the extra key of a measured (or proxy) row: how its BatchNorm statistics were set
BATCHNORM_KEY = "batchnorm"


@dataclass(frozen=True)
class BatchNormCalibration:
    """How a route's BatchNorm statistics are re-estimated: the average over ``images`` training
    images drawn with ``seed``, run in batches of ``batch_size`` (at most the split's size)."""

    images: int = 5120
    batch_size: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("images", "batch_size"):
            value = getattr(self, key)
            if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
                raise StitchnasError(f"BatchNorm calibration {key} must be a positive integer, got "
                                     f"{value!r}: pass e.g. {getattr(BatchNormCalibration, key)}")

    def label(self) -> str:
        """What rows carry under ``batchnorm``: the recipe, so rows of other recipes differ."""
        return f"per_route:{self.images}x{self.batch_size}:seed{self.seed}"


#: the default recipe: 20 batches of 256, the check of docs/training.md
BN_CALIBRATION = BatchNormCalibration()


@dataclass(frozen=True, eq=False)
class CalibrationImages:
    """The calibration images of one training split: iterable any number of times, each time
    the same batches (augmentations, if any, run under fixed seeds)."""

    dataset: "Dataset"
    recipe: BatchNormCalibration = BN_CALIBRATION

    def __len__(self) -> int:
        n = min(self.recipe.images, len(self.dataset))
        return -(-n // self.recipe.batch_size)

    def __iter__(self) -> Iterator["torch.Tensor"]:
        import torch

        total = len(self.dataset)
        if total == 0:
            raise StitchnasError("cannot re-estimate BatchNorm statistics on an empty training split: "
                                 "check the data source")
        order = torch.randperm(total, generator=torch.Generator().manual_seed(self.recipe.seed))
        order = order[: min(self.recipe.images, total)].tolist()
        size = self.recipe.batch_size
        for k in range(0, len(order), size):
            indices = order[k:k + size]
            py_state = random.getstate()
            try:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(self.recipe.seed + k)
                    random.seed(self.recipe.seed + k)
                    if hasattr(self.dataset, "__getitems__"):
                        samples = self.dataset.__getitems__(indices)
                    else:
                        samples = [self.dataset[i] for i in indices]
            finally:
                random.setstate(py_state)
            yield torch.stack([s[0] for s in samples]).contiguous()


def calibration_images(space: "SearchSpace", spec=None,
                       recipe: BatchNormCalibration = BN_CALIBRATION) -> CalibrationImages:
    """The calibration images of ``space``'s training split (``spec``: its
    :class:`~stitchnas.measure.DataSpec`, default :func:`space_data`); a one-line error naming
    the data and the way out when the split cannot be loaded."""
    import dataclasses

    from ._data import load_datasets, space_data

    if spec is None:
        spec = space_data(space)
    try:
        train, _, _ = load_datasets(dataclasses.replace(spec, train_subset=None, val_subset=1))
    except StitchnasError as err:
        raise StitchnasError(f"the anchors of {space.given_as} hold BatchNorm layers, whose statistics "
                             f"are re-estimated per route on the training split, which did not load "
                             f"({err}); make the data available, or pass --batchnorm shared to keep the "
                             "checkpoint's shared statistics") from err
    return CalibrationImages(train, recipe)


def batchnorm_label(calibration: CalibrationImages | None) -> str | None:
    """What a measured or scored row records as its ``batchnorm`` recipe: the calibration's
    label, or None where the checkpoint's own (shared) statistics were used."""
    return calibration.recipe.label() if calibration is not None else None


def route_calibration(space: "SearchSpace", spec=None, batchnorm: str = "route") -> CalibrationImages | None:
    """What every command measuring or exporting stitches re-estimates BatchNorm statistics on:
    :func:`calibration_images` of ``spec`` (default: the space's data), or None when
    ``batchnorm`` is ``"shared"`` or the space has no BatchNorm layer."""
    if batchnorm not in ("route", "shared"):
        raise StitchnasError(f"batchnorm must be 'route' or 'shared', got {batchnorm!r}")
    if batchnorm == "shared" or not space_batchnorm_layers(space):
        return None
    return calibration_images(space, spec)


def space_batchnorm_layers(space: "SearchSpace") -> int:
    """How many BatchNorm layers with running statistics ``space``'s anchors hold
    (:attr:`SearchSpace.batchnorm_layers`: from the structure cache, else counted on models built
    on the meta device); 0 for a model that cannot be built there."""
    try:
        return int(space.batchnorm_layers)
    except Exception:  # noqa: BLE001 - an exotic model: counted as none rather than failing a command
        return 0


def shared_batchnorm_warning(space: "SearchSpace", rows: Iterable) -> str | None:
    """One line when stitched routes among ``rows`` were measured through BatchNorm layers with
    the checkpoint's shared statistics (``--batchnorm shared``, or rows written before per-route
    statistics), or None. A BatchNorm layer keeps one set of running statistics for every route
    through it, gathered in training on whichever routes were sampled, so such a route is
    measured with statistics of other routes and may read far low: measured on
    fmnist_resnet_2way, 17% where the route's own statistics give 76% (docs/training.md)."""
    shared = [m for m in rows if m.route.num_stitches and not dict(m.extra).get(BATCHNORM_KEY)]
    if not shared:
        return None
    n = space_batchnorm_layers(space)
    if not n:
        return None
    return (f"{len(shared)} stitched route{'s were' if len(shared) != 1 else ' was'} measured with the "
            f"BatchNorm statistics that every route of {space.given_as} shares ({n} layers): they may read "
            "far low (on fmnist_resnet_2way 17% where the route's own statistics give 76%) and differ from "
            "what `export` ships; measure them again with per-route statistics (`stitchnas evaluate "
            f"{space.given_as}`, the default --batchnorm route; docs/training.md)")
