"""The `stitchnas` command line."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "build_parser": "_main",
    "error_text": "_main",
    "main": "_main",
    "version": "_main",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
