"""The ``study.storage`` field of a saved front: a local storage file under the results folder is
saved as ``sqlite:///${results}/SPACE/search.db`` (or ``journal:${results}/...``), relative to the
results folder the front lies in (``${results}/SPACE/TARGET/front.json``), never as an absolute
path of the machine that searched; loading puts the folder back. A storage elsewhere, a server
URL (password masked) or an old front's absolute path are kept as they are."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_VAR", "storage_for_file", "storage_from_file"]

#: Stands for the results folder in saved files (as in space files).
RESULTS_VAR = "${results}"
_FILE_PREFIXES = ("sqlite:///", "journal:")


def _results_of(front_dir: Path) -> Path:
    """``results`` of ``results/SPACE/TARGET`` (the folder a front.json lies in)."""
    return Path(os.path.abspath(front_dir)).parent.parent


def storage_for_file(doc: Any, front_dir: str | os.PathLike) -> Any:
    """``doc`` (a front's JSON) with its storage path made relative to the results folder."""
    storage = _storage(doc)
    if storage is None:
        return doc
    for prefix in _FILE_PREFIXES:
        path = storage[len(prefix):]
        if storage.startswith(prefix) and os.path.isabs(path):
            results = _results_of(Path(front_dir)).resolve()
            try:
                rel = Path(path).resolve().relative_to(results)
            except ValueError:  # outside the results folder: kept as given
                return doc
            return {**doc, "study": {**doc["study"], "storage": f"{prefix}{RESULTS_VAR}/{rel.as_posix()}"}}
    return doc


def storage_from_file(doc: Any, front_file: str | os.PathLike) -> Any:
    """``doc`` (read from ``front_file``) with ``${results}`` in its storage path replaced by the
    results folder it lies in: an absolute path again, wherever the results were copied."""
    storage = _storage(doc)
    if storage is None or RESULTS_VAR not in storage:
        return doc
    results = _results_of(Path(front_file).parent)
    return {**doc, "study": {**doc["study"], "storage": storage.replace(RESULTS_VAR, str(results), 1)}}


def _storage(doc: Any) -> str | None:
    study = doc.get("study") if isinstance(doc, dict) else None
    storage = study.get("storage") if isinstance(study, dict) else None
    return storage if isinstance(storage, str) else None
