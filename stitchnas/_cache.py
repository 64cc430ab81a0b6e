"""Derived-data caches: JSON documents under ``cache_dir()`` that are only valid for the package
versions they were made with.

Three things are cached this way (a space's structure, its FLOPs profile, a target's memory
column), each costing seconds to rebuild and nothing to read; a large space's id numbering is a
fourth, kept in the same folder and checked by the same rules (``stitchnas.space._idcache``). A
missing, broken or stale document reads as None and the caller rebuilds it; writing is atomic, and
a cache that cannot be written costs time, not results, unless the caller says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["cache_file", "load_cached", "save_cached", "check_cache_writable", "check_cache_folder"]


def cache_file(kind: str, name: str, *tags: str) -> Path:
    """``CACHE/KIND/NAME-TAG-....json``, ``name`` checked as a file name (a space's name may come
    from a user's YAML)."""
    from .paths import cache_dir, check_name, inside

    return inside(cache_dir() / kind, "-".join([check_name(name, "space name"), *tags]) + ".json")


def load_cached(path: Path | None, versions: dict[str, str], **match: Any) -> dict | None:
    """The document at ``path`` if it was made with these ``versions`` and its fields equal
    ``match``; else None (no file, unreadable, not JSON, stale)."""
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("versions") != versions:
        return None
    if any(doc.get(key) != value for key, value in match.items()):
        return None
    return doc


def _moved(err: Exception):
    from .fileio import WriteError

    return WriteError(f"{err}, or set STITCHNAS_CACHE to a writable folder")


def check_cache_writable(path: Path, what: str = "cache") -> None:
    """One line before any work when a cache the caller cannot do without cannot be written,
    saying how to move the cache."""
    from .fileio import WriteError, check_writable

    try:
        check_writable(path, what)
    except WriteError as err:
        raise _moved(err) from None


def check_cache_folder() -> None:
    """One line, before any work, when the cache folder cannot take the FLOPs profile (a command
    that counts FLOPs cannot do without it): it is a file or under one, it refuses a new file
    (read-only, permissions), or ``$HOME`` leaves no folder to put it in."""
    import os
    import tempfile

    from .fileio import write_error
    from .paths import cache_dir, nearest_existing

    folder = cache_dir() / "profiles"
    try:  # an empty file: a full disk or a size limit is the profiler's own check, at its write
        fd, tmp = tempfile.mkstemp(prefix=".probe.", dir=nearest_existing(folder))
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise _moved(write_error(OSError(err.errno, err.strerror), folder, "cache folder")) from None


def save_cached(path: Path | None, doc: dict, versions: dict[str, str], what: str = "cache",
                strict: bool = False) -> None:
    """Write ``doc`` with its ``versions`` atomically. An unwritable cache is ignored, or with
    ``strict`` one line that also says how to move the cache (STITCHNAS_CACHE)."""
    from .errors import StitchnasError
    from .fileio import write_json

    if path is None:
        return
    try:
        write_json(path, {**doc, "versions": versions}, what=what)
    except (OSError, StitchnasError) as err:
        if strict:
            raise _moved(err) from None
