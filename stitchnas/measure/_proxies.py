"""Proxy scores: every candidate's loss and top-1 on about a thousand held-out images.

A measurement scores a stitch on thousands of validation images; a proxy score runs every
candidate on a small batch the measurements do not use (images of the validation split outside
its measured subset), for a fraction of the cost: the candidates share their prefixes, so all of
them together cost about as much as a few measurements. The scores are noisy, but they rank
stitches far better than structure alone, so the ``proxy`` predictor maps them onto the measured
top-1 (docs/predictors.md has the figures). Written as JSONL, one row per candidate, beside the
measurements (``stitchnas proxy``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..errors import StitchnasError

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.data import Dataset

    from ..network import StitchedNetwork
    from ..space import SearchSpace
    from ._data import DataSpec

__all__ = ["ProxyScore", "PROXY_IMAGES", "proxy_dataset", "proxies_cover_measurements", "proxy_label",
           "score_proxies", "read_proxies", "write_proxies", "proxy_signals", "load_proxy_signals"]

#: images per proxy score: chosen leave-one-table-out on ten fully measured tables from 256, 512,
#: 1024 and 2048 as the fewest with which the default search reaches 98% of the true front's
#: hypervolume on every other table (results/benchmarks/proxies/sweep.py, docs/predictors.md);
#: about 25-30 s for the demo's 83 stitches on 2 cores
PROXY_IMAGES = 2048


@dataclass(frozen=True)
class ProxyScore:
    """One candidate's mean cross-entropy (``loss``) and ``acc1`` (percent) on ``images``
    proxy images; ``disjoint``: none of them is among the measured images."""

    id: int
    loss: float
    acc1: float
    images: int
    disjoint: bool
    dataset: str
    checkpoint: str
    space: str
    space_hash: str
    #: the checkpoint file's digest (:func:`checkpoint_digest`); None in files written before it
    checkpoint_sha256: str | None = None
    #: per-route BatchNorm statistics' recipe (:meth:`BatchNormCalibration.label`); None: the
    #: checkpoint's shared statistics (or no BatchNorm layers)
    batchnorm: str | None = None

    def signals(self) -> dict[str, float]:
        """The predictor's signals: the names every stitch of a space carries."""
        return {"proxy_acc1": self.acc1, "proxy_loss": self.loss}


def proxy_dataset(spec: "DataSpec", images: int = PROXY_IMAGES) -> tuple["Dataset", bool]:
    """``(dataset, disjoint)``: ``images`` validation images that ``spec``'s measurements do not
    use (the split's images outside its ``val_subset``, drawn with the same seed), and whether
    there were enough of those; where the subset leaves too few (or there is none), the first
    ``images`` of the split's seeded order, shared with the measurements."""
    from torch.utils.data import Subset

    from ._data import _TensorImageDataset

    full, keep, disjoint, _ = _proxy_pool(spec, images)
    if isinstance(full, _TensorImageDataset):
        return full.subset(keep), disjoint
    return Subset(full, keep.tolist()), disjoint


def proxies_cover_measurements(spec: "DataSpec", images: int = PROXY_IMAGES) -> bool:
    """Whether :func:`proxy_dataset` would hold every image ``spec``'s measurements use (a split
    too small to leave ``images`` others out): scoring on it is measuring every candidate on the
    measurements' own images, at a measurement's cost, so a proxy score adds nothing."""
    _, keep, disjoint, measured = _proxy_pool(spec, images)
    return not disjoint and len(keep) >= measured


def _proxy_pool(spec: "DataSpec", images: int):
    """``(full split, kept indices, disjoint, images measured)`` for :func:`proxy_dataset`."""
    import dataclasses

    import torch

    from ._data import _is_int, load_datasets

    if not (_is_int(images) and images > 0):
        raise StitchnasError(f"proxy images must be a positive integer, got {images!r}: pass e.g. {PROXY_IMAGES}")
    _, full, _ = load_datasets(dataclasses.replace(spec, val_subset=None, train_subset=1))
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(int(spec.seed)))
    measured = spec.val_subset if spec.val_subset is not None and spec.val_subset < len(full) else len(full)
    disjoint = len(full) - measured >= images
    pool = order[measured:] if disjoint else order
    return full, pool[: min(images, len(pool))].sort().values, disjoint, measured


def proxy_label(spec: "DataSpec", images: int) -> str:
    """The ``dataset`` of proxy rows: the measurements' label (whose subset the images
    avoid) and the number of images asked for."""
    return f"{spec.label()}:proxy{images}"


def score_proxies(space: "SearchSpace", net: "StitchedNetwork", dataset: "Dataset", *,
                  disjoint: bool, label: str, checkpoint: str, ids: Sequence[int] | None = None,
                  device: str = "cpu", progress: bool | None = None,
                  calibration=None) -> list[ProxyScore]:
    """Every candidate's (or ``ids``') proxy score on ``dataset``, prefixes shared;
    ``calibration``: as :func:`measure`'s (per-route BatchNorm statistics)."""
    from ..network import has_batchnorm
    from ._data import make_loader
    from ._evaluate import evaluate_candidates

    ids = [c.id for c in space.candidates] if ids is None else list(ids)
    results = evaluate_candidates(net, make_loader(dataset, 256, shuffle=False), ids, device=device,
                                  progress=progress, calibration=calibration)
    batchnorm = calibration.recipe.label() if calibration is not None and has_batchnorm(net) else None
    bad = [r.id for r in results if not math.isfinite(r.loss)]
    if bad:
        raise StitchnasError(f"candidate {bad[0]}'s proxy loss is not finite: the stitched "
                             "checkpoint is broken (retrain it with `stitchnas train`)")
    from ._measurements import checkpoint_digest

    digest = checkpoint_digest(checkpoint)
    return [ProxyScore(id=r.id, loss=float(r.loss), acc1=float(r.acc1), images=r.n_samples,
                       disjoint=disjoint, dataset=label, checkpoint=str(checkpoint),
                       space=space.name, space_hash=space.content_hash, checkpoint_sha256=digest,
                       batchnorm=batchnorm)
            for r in results]


def write_proxies(path: str | os.PathLike, scores: Iterable[ProxyScore]) -> None:
    """Write ``scores`` to ``path`` as JSONL, atomically (the whole file replaced)."""
    from ..fileio import atomic_write

    with atomic_write(path, what="proxies file") as fh:
        for s in scores:
            fh.write(json.dumps(asdict(s)) + "\n")


def read_proxies(path: str | os.PathLike, space: "SearchSpace") -> list[ProxyScore]:
    """The scores in ``path``, checked against ``space`` (its hash, every candidate scored once)."""
    from ..fileio import read_text

    path = Path(path)
    if not path.is_file():
        raise StitchnasError(f"proxies file {path} does not exist: score the candidates with "
                             f"`stitchnas proxy {space.given_as}`")
    fields = set(ProxyScore.__dataclass_fields__)
    scores = []
    for n, line in enumerate(read_text(path, "proxies file").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not (fields - {"checkpoint_sha256", "batchnorm"}) <= set(row) <= fields:
                raise ValueError(f"fields {sorted(row) if isinstance(row, dict) else type(row).__name__}")
            score = ProxyScore(**row)
            if not (math.isfinite(score.loss) and math.isfinite(score.acc1)):
                raise ValueError("a score is not finite")
        except (ValueError, TypeError) as err:
            raise StitchnasError(f"{path}:{n}: not a proxy row ({err}): write the file with "
                                 f"`stitchnas proxy {space.given_as}`") from None
        if score.space_hash != space.content_hash:
            raise StitchnasError(f"{path} scores another version of space {space.name!r} (hash "
                                 f"{score.space_hash}, the space's is {space.content_hash}): score "
                                 f"it again with `stitchnas proxy {space.given_as}`")
        scores.append(score)
    ids = [s.id for s in scores]
    missing = sorted({c.id for c in space.candidates} - set(ids))
    if missing or len(ids) != len(set(ids)):
        what = f"no score for candidate {missing[0]}" if missing else "a candidate scored twice"
        raise StitchnasError(f"{path}: {what}; every candidate needs one score: run `stitchnas "
                             f"proxy {space.name}` again")
    return scores


def proxy_signals(scores: Iterable[ProxyScore],
                        rows: Iterable[Any] = ()) -> Mapping[int, Mapping[str, float]]:
    """``{id: signals}`` for :func:`stitchnas.predict.make_stitches`. Measurement ``rows`` of
    another checkpoint than the scores' are refused: their stitches are other networks."""
    from ._measurements import CHECKPOINT_DIGEST

    scores = list(scores)
    ours = {_same_file(s.checkpoint) for s in scores}
    digests = {s.checkpoint_sha256 for s in scores} - {None}
    for m in rows:
        if _same_file(m.checkpoint) not in ours:
            raise StitchnasError(f"measured id {m.id} is of checkpoint {m.checkpoint} but the proxy "
                                 f"scores are of {scores[0].checkpoint}: score the measured checkpoint "
                                 "(`stitchnas proxy SPACE --checkpoint ...`)")
        digest = dict(m.extra).get(CHECKPOINT_DIGEST)
        if digest is not None and digests and digest not in digests:
            raise StitchnasError(f"measured id {m.id} is of another version of {m.checkpoint} than the "
                                 "proxy scores (the file was trained again between them): score and "
                                 "measure the same version")
    return {s.id: s.signals() for s in scores}


def _same_file(path: str) -> str:
    return str(Path(path).resolve()) if path else path


def load_proxy_signals(path: str | os.PathLike | None, space: "SearchSpace",
                       rows: Iterable[Any] = ()) -> Mapping[int, Mapping[str, float]] | None:
    """The signals of the proxies file ``path`` (None when no file is given), read and checked
    against ``space`` and the measured ``rows``: what every ``--proxies`` option reads."""
    if path is None:
        return None
    return proxy_signals(read_proxies(path, space), rows)
