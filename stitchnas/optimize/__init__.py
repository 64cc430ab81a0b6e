"""The multi-objective search: config, accuracies, problem, encodings, samplers, the study loop."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "EXACT_LIMIT": "_exact",
    "LARGE_SPACE": "_exact",
    "LARGE_TRIALS": "_exact",
    "default_encoding": "_exact",
    "large_trials": "_exact",
    "MODES": "_samplers",
    "evaluate_all": "_exact",
    "exact_front": "_exact",
    "resolve_sampler": "_exact",
    "ENCODINGS": "_config",
    "MAX_DEFAULT_TRIALS": "_config",
    "SearchConfig": "_config",
    "SearchResult": "_config",
    "check_objectives": "_config",
    "default_objectives": "_config",
    "AccuracyTable": "_accuracy",
    "accuracy_table": "_accuracy",
    "Problem": "_problem",
    "build_problem": "_problem",
    "check_counted_budgets": "_problem",
    "nondominated": "_problem",
    "make_encoding": "_encoding",
    "SAMPLERS": "_samplers",
    "check_sampler": "_samplers",
    "list_samplers": "_samplers",
    "make_sampler": "_samplers",
    "sampler_label": "_samplers",
    "META_KEY": "_loop",
    "SearchInterrupted": "_loop",
    "check_distinct_targets": "_loop",
    "default_study_name": "_loop",
    "open_storage": "_loop",
    "search": "_loop",
    "search_problem": "_loop",
    "search_targets": "_loop",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
