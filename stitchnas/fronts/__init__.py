"""Saved Pareto fronts: the Front, its queries, its files and plots."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "ACC1_SOURCES": "_front",
    "CSV_FIELDS": "_files",
    "FORMAT": "_front",
    "Front": "_front",
    "FrontPoint": "_front",
    "NothingFits": "_front",
    "anchor_names": "_files",
    "answer_notes": "_checks",
    "check_front": "_files",
    "space_of_front": "_files",
    "front_csv": "_files",
    "format_amount": "_plot",
    "format_budgets": "_plot",
    "front_path": "_files",
    "front_resolution_warning": "_checks",
    "front_accuracy_note": "_checks",
    "load_front": "_files",
    "saved_targets": "_files",
    "default_target": "_files",
    "render_front_png": "_plot",
    "save_front": "_files",
    "stale_front_note": "_checks",
    "timed_elsewhere": "_checks",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
