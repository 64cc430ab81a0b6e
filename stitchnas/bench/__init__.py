"""Every `stitchnas bench ...` benchmark."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "CurvePoint": "_active",
    "active_curve": "_active",
    "bench_active": "_active",
    "GENERATED_SPACES": "_exact",
    "bench_adapters": "_adapters",
    "bench_evaluate": "_evaluate",
    "bench_exact": "_exact",
    "bench_record": "_exact",
    "RECORD_COUNTS": "_exact",
    "bench_large": "_large",
    "bench_latency": "_latency",
    "bench_predictors": "_predictors",
    "bench_predictor_loto": "_loto",
    "SHRINK_GRID": "_loto",
    "bench_predict_speed": "_predictors",
    "SPEED_SPACES": "_predictors",
    "bench_prior": "_prior",
    "REFERENCES": "_search",
    "bench_profiling": "_profile",
    "bench_search": "_search",
    "miss_line": "_search",
    "recount_misses": "_search",
    "bench_startup": "_startup",
    "bench_switchable": "_switchable",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
