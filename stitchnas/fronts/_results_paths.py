"""Paths a saved front records, relative to the results folder it lies in
(``${results}/SPACE/TARGET/front.json``): a local storage file (``study.storage``, saved as
``sqlite:///${results}/SPACE/search.db`` or ``journal:${results}/...``) and the measurements
file (``measurements``, e.g. ``${results}/SPACE/run/measurements.jsonl``) under the results
folder are saved relative to it, never as a path of the machine or folder that searched;
loading puts the folder back, so a copied or moved results folder, or a query from another
folder, still finds them. Paths elsewhere, server URLs (password masked) and old fronts'
paths are kept as they are."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_VAR", "paths_for_file", "paths_from_file"]

#: Stands for the results folder in saved files (as in space files).
RESULTS_VAR = "${results}"
_FILE_PREFIXES = ("sqlite:///", "journal:")


def _results_of(front_dir: Path) -> Path:
    """``results`` of ``results/SPACE/TARGET`` (the folder a front.json lies in)."""
    return Path(os.path.abspath(front_dir)).parent.parent


def _relative(path: str, front_dir: Path) -> str | None:
    """``${results}/...`` for a path under the results folder, else None."""
    try:
        rel = Path(path).resolve().relative_to(_results_of(front_dir).resolve())
    except (ValueError, OSError):  # outside the results folder: kept as given
        return None
    return f"{RESULTS_VAR}/{rel.as_posix()}"


def paths_for_file(doc: Any, front_dir: str | os.PathLike) -> Any:
    """``doc`` (a front's JSON) with its storage and measurements paths made relative to the
    results folder."""
    front_dir = Path(front_dir)
    storage = _storage(doc)
    for prefix in _FILE_PREFIXES:
        path = storage[len(prefix):] if storage is not None else ""
        if storage is not None and storage.startswith(prefix) and os.path.isabs(path):
            rel = _relative(path, front_dir)
            if rel is not None:
                doc = {**doc, "study": {**doc["study"], "storage": f"{prefix}{rel}"}}
    measurements = doc.get("measurements") if isinstance(doc, dict) else None
    if isinstance(measurements, str) and RESULTS_VAR not in measurements:
        rel = _relative(measurements, front_dir)
        if rel is not None:
            doc = {**doc, "measurements": rel}
    return doc


def paths_from_file(doc: Any, front_file: str | os.PathLike) -> Any:
    """``doc`` (read from ``front_file``) with ``${results}`` in its storage and measurements
    paths replaced by the results folder it lies in: absolute paths again, wherever the results
    were copied."""
    results = str(_results_of(Path(front_file).parent))
    storage = _storage(doc)
    if storage is not None and RESULTS_VAR in storage:
        doc = {**doc, "study": {**doc["study"], "storage": storage.replace(RESULTS_VAR, results, 1)}}
    measurements = doc.get("measurements") if isinstance(doc, dict) else None
    if isinstance(measurements, str) and measurements.startswith(RESULTS_VAR):
        doc = {**doc, "measurements": results + measurements[len(RESULTS_VAR):]}
    return doc


def _storage(doc: Any) -> str | None:
    study = doc.get("study") if isinstance(doc, dict) else None
    storage = study.get("storage") if isinstance(study, dict) else None
    return storage if isinstance(storage, str) else None
