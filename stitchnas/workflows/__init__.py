"""End-to-end jobs: `stitchnas run` and the SN-Net study."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "RunConfig": "_run",
    "RunReport": "_run",
    "RunInterrupted": "_run",
    "Step": "_run",
    "front_stats": "_study",
    "line_gap": "_report",
    "line_note": "_report",
    "line_summary": "_report",
    "refuse_to_replace_tables": "_study",
    "run": "_run",
    "snnet_study": "_study",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
