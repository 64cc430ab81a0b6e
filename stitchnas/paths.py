"""Every path stitchnas reads or writes by default, defined once.

Results live under one root (``$STITCHNAS_RESULTS`` or ``./results``), one folder per space::

    <root>/<space>/stitched.pt          trained stitching layers (the switchable network)
    <root>/<space>/measurements.jsonl   measured top-1 per stitch
    <root>/<space>/search.db            the default Optuna storage
    <root>/<space>/<target>/front.json  a saved Pareto front (+ front.csv, front.png)
    <root>/<space>/export/              exported stitches
    <root>/latency/                     latency tables
    <root>/anchors/                     anchors trained by stitchnas (``${results}`` in space files)

Caches (profiles, decoded data sets) live under ``$STITCHNAS_CACHE`` or ``~/.cache/stitchnas``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CHECKPOINT", "MEASUREMENTS", "STORAGE", "FRONT", "REPORT",
    "results_dir", "cache_dir", "space_dir", "checkpoint_path", "measurements_path",
    "storage_path", "front_path", "export_dir", "latency_dir",
]

CHECKPOINT = "stitched.pt"
MEASUREMENTS = "measurements.jsonl"
STORAGE = "search.db"
FRONT = "front.json"
REPORT = "report.md"


def results_dir(root: str | os.PathLike | None = None) -> Path:
    """Where results go: ``root`` if given, else ``$STITCHNAS_RESULTS`` or ``./results``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("STITCHNAS_RESULTS") or "results")


def cache_dir() -> Path:
    """Where caches go: ``$STITCHNAS_CACHE`` or ``~/.cache/stitchnas``."""
    return Path(os.environ.get("STITCHNAS_CACHE") or Path.home() / ".cache" / "stitchnas")


def space_dir(space: str, root: str | os.PathLike | None = None) -> Path:
    """The folder of one space's results."""
    return results_dir(root) / space


def checkpoint_path(space: str, root: str | os.PathLike | None = None) -> Path:
    return space_dir(space, root) / CHECKPOINT


def measurements_path(space: str, root: str | os.PathLike | None = None) -> Path:
    return space_dir(space, root) / MEASUREMENTS


def storage_path(space: str, root: str | os.PathLike | None = None) -> Path:
    return space_dir(space, root) / STORAGE


def front_path(space: str, target: str, root: str | os.PathLike | None = None) -> Path:
    return space_dir(space, root) / target / FRONT


def export_dir(space: str, root: str | os.PathLike | None = None) -> Path:
    return space_dir(space, root) / "export"


def latency_dir(root: str | os.PathLike | None = None) -> Path:
    return results_dir(root) / "latency"
