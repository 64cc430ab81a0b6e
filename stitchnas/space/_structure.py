"""The structure cache: a space's depths, feature shapes and BatchNorm count, saved once built
(building them needs the anchors' meta models, so torch and timm) and read back while the torch,
timm and stitchnas versions are the same, so that enumerating a space or checking a saved front
needs no torch. A cache that is absent, stale or broken reads as None and is rebuilt."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..anchors import FeatureSpec  # torch-free

__all__ = ["read_structure", "structure_versions", "write_structure"]

Structure = tuple[tuple[int, ...], tuple[tuple[FeatureSpec, ...], ...], int]


def structure_versions() -> dict[str, str]:
    """What a space's structure depends on besides its file: the torch, timm and stitchnas
    versions, read without importing torch or timm."""
    from .. import __version__
    from .._util import package_version

    return {"stitchnas": __version__, "torch": package_version("torch"), "timm": package_version("timm")}


def read_structure(path: Path | None, anchors: int) -> Structure | None:
    """(depths, feature specs, BatchNorm layers) cached at ``path`` for a space of ``anchors``
    anchors, or None (no such cache, other versions, or a broken or mismatched one)."""
    from .._cache import load_cached

    doc = load_cached(path, structure_versions())
    if doc is None:
        return None
    try:
        specs = tuple(tuple(FeatureSpec(layout=f["layout"], shape=tuple(f["shape"]),
                                        grid=tuple(f["grid"]) if f["grid"] else None,
                                        prefix=int(f["prefix"])) for f in anchor)
                      for anchor in doc["feature_specs"])
        depths = tuple(int(d) for d in doc["depths"])
        norms = int(doc["batchnorm_layers"])  # absent from caches written before it: rebuilt
    except (ValueError, KeyError, TypeError):
        return None
    if len(depths) != anchors or any(len(f) != d + 1 for f, d in zip(specs, depths)):
        return None
    return depths, specs, norms


def write_structure(path: Path | None, space: str, depths: Sequence[int], batchnorm_layers: int,
                    specs: Sequence[Sequence[FeatureSpec]]) -> None:
    """Save the structure at ``path`` (best effort: an unwritable cache only costs time)."""
    from .._cache import save_cached

    save_cached(path, {
        "space": space, "depths": list(depths), "batchnorm_layers": batchnorm_layers,
        "feature_specs": [[{"layout": f.layout, "shape": list(f.shape),
                            "grid": list(f.grid) if f.grid else None, "prefix": f.prefix}
                           for f in anchor] for anchor in specs]}, structure_versions())
