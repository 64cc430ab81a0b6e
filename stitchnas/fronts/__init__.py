"""Saved Pareto fronts: the Front, its queries, its files and plots."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "ACC1_SOURCES": "_front",
    "BUDGET_KEYS": "_front",
    "CSV_FIELDS": "_front",
    "FORMAT": "_front",
    "Front": "_front",
    "FrontPoint": "_front",
    "NothingFits": "_front",
    "OBJECTIVES": "_front",
    "build_model": "_front",
    "export_model": "_front",
    "front_csv": "_front",
    "front_path": "_front",
    "load_front": "_front",
    "render_front_png": "_front",
    "resolve_candidate": "_front",
    "save_front": "_front",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
