"""What a stitch costs: the fvcore FLOPs/params profiler, hardware targets, latency tables."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "Budgets": "_targets",
    "COST_MODELS": "_targets",
    "DEFAULT_TARGET": "_targets",
    "Cost": "_profiler",
    "DTYPES": "_targets",
    "EXTRA_OP_HANDLES": "_profiler",
    "FORMAT": "_table",
    "LatencyTable": "_table",
    "MAX_MEDIAN_APE_PCT": "_validate",
    "MAX_WORST_APE_PCT": "_validate",
    "DEFAULT_VALIDATE": "_validate",
    "MB": "_targets",
    "MetaFlops": "_profiler",
    "Profiler": "_profiler",
    "STATISTIC": "_table",
    "StitchCost": "_profiler",
    "StitchLatency": "_table",
    "Target": "_targets",
    "TargetCost": "_table",
    "bundled_targets_dir": "_targets",
    "cache_dir": "_profiler",
    "choose_validation": "_validate",
    "composes_plain_sum": "_table",
    "count_flops": "_profiler",
    "count_flops_meta": "_profiler",
    "count_params": "_profiler",
    "cores_said": "_machine",
    "cpu_name": "_machine",
    "cpu_quota": "_machine",
    "fit_overhead": "_validate",
    "get_latency_table": "_latency",
    "latency_table_path": "_table",
    "latency_warning": "_validate",
    "list_targets": "_targets",
    "load_latency_table": "_table",
    "load_target": "_targets",
    "target_name": "_targets",
    "machine_identity": "_machine",
    "profile_latency": "_latency",
    "target_costs": "_latency",
    "out_of_sample_ms": "_validate",
    "save_validation_plot": "_validate",
    "validation_plot_path": "_validate",
    "validate_latency": "_validate",
    "validation_error": "_validate",
    "time_end_to_end": "_validate",
    "timing_threads": "_machine",
    "usable_cpus": "_machine",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
