"""The multi-objective search: config, problem, encodings, samplers, the study loop."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "AccuracyTable": "_search",
    "ENCODINGS": "_search",
    "MAX_DEFAULT_TRIALS": "_search",
    "META_KEY": "_search",
    "SAMPLERS": "_search",
    "SearchConfig": "_search",
    "SearchResult": "_search",
    "accuracy_table": "_search",
    "check_objectives": "_search",
    "default_objectives": "_search",
    "default_study_name": "_search",
    "make_sampler": "_search",
    "nondominated": "_search",
    "open_storage": "_search",
    "search": "_search",
    "search_targets": "_search",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
