"""The id cache: every id's route of a large space, saved once the space was enumerated, so
checking a saved front's members against its space (every ``query`` and ``export``) reads one
file instead of enumerating 10^5 routes again.

The file is keyed by the space's structure hash and by the versions and code that number the
routes: torch, timm and stitchnas, and a digest of the rule's source (the bundled rules and
routes modules, and a registered rule's own module). An edited rule never answers from an old
numbering; a missing, broken or stale file reads as None and the caller enumerates.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Any, Sequence

from .._util import gc_paused
from ._routes import Route, Segment

__all__ = ["MIN_IDS", "IdRoutes", "id_cache_path", "load_id_routes", "save_id_routes"]

#: Spaces with fewer ids are enumerated each time (a few milliseconds; no file is written).
MIN_IDS = 5000


class IdRoutes(Sequence):
    """Every id's route in id order, None for an id kept for the official numbering; routes are
    built on access, so reading the file costs no 10^5 objects."""

    def __init__(self, rows: list[list[int] | None]):
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, cid: int) -> Route | None:  # type: ignore[override]
        row = self._rows[cid]
        if row is None:
            return None
        return Route(tuple(Segment(*row[k:k + 3]) for k in range(0, len(row), 3)))


def _code_digest(rule: Any) -> str | None:
    """A digest of the source that enumerates and numbers ``rule``'s routes; None when a source
    file cannot be read (then nothing is cached)."""
    from . import _routes, _rules

    files = {Path(_rules.__file__), Path(_routes.__file__)}
    try:
        files.add(Path(inspect.getfile(type(rule))))
        h = hashlib.sha256()
        for path in sorted(files):
            h.update(path.read_bytes())
    except (OSError, TypeError):
        return None
    return h.hexdigest()[:16]


def id_cache_path(name: str, structure_hash: str, rule: Any,
                  versions: dict[str, str]) -> tuple[Path, dict[str, str]] | None:
    """``CACHE/ids/NAME-STRUCTURE_HASH-TAG.json`` and the versions it must hold (``versions``, the
    structure's, and the rule's code digest; TAG hashes them): a file of that name was written by
    these versions and this code. None where nothing can be cached."""
    from .._cache import cache_file
    from ..errors import StitchnasError

    code = _code_digest(rule)
    if code is None:
        return None
    versions = {**versions, "code": code}
    tag = hashlib.sha256(repr(sorted(versions.items())).encode()).hexdigest()[:12]
    try:
        return cache_file("ids", name, structure_hash, tag), versions
    except StitchnasError:
        return None


def load_id_routes(where: tuple[Path, dict[str, str]] | None) -> IdRoutes | None:
    """The cached routes, or None (no file, unreadable, stale, malformed). A file that is there
    but unusable is removed, so the next enumeration writes it again."""
    from .._cache import load_cached

    if where is None or not where[0].is_file():
        return None
    doc = load_cached(where[0], where[1])
    rows = doc.get("routes") if doc is not None else None
    if isinstance(rows, list) and all(row is None or (isinstance(row, list) and row and len(row) % 3 == 0
                                                      and all(type(v) is int for v in row)) for row in rows):
        return IdRoutes(rows)
    try:
        where[0].unlink(missing_ok=True)
    except OSError:  # a read-only cache: enumerated each time, as without one
        pass
    return None


def save_id_routes(where: tuple[Path, dict[str, str]] | None, routes: Sequence[Route | None]) -> None:
    """Write the routes when there are at least :data:`MIN_IDS` and no file of these versions
    exists yet, and remove the space's files of other versions, which no longer answer (best
    effort: an unwritable cache costs time, not results)."""
    import json

    from ..errors import StitchnasError
    from ..fileio import write_text

    if where is None or len(routes) < MIN_IDS or where[0].is_file():
        return
    with gc_paused():
        rows = [None if r is None else [v for s in r.segments for v in (s.anchor, s.start, s.end)]
                for r in routes]
    try:  # compact: 10^5 routes are a few MB indented, 2 MB not
        write_text(where[0], json.dumps({"routes": rows, "versions": where[1]}, separators=(",", ":")),
                   what="id cache")
        stem = where[0].name.rsplit("-", 1)[0]  # NAME-STRUCTURE_HASH
        for old in where[0].parent.glob(f"{stem}-*.json"):
            if old != where[0] and old.name.rsplit("-", 1)[0] == stem:
                old.unlink(missing_ok=True)
    except (OSError, StitchnasError):
        pass
