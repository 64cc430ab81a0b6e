"""stitchnas: neural architecture search over stitch space.

Cut a family of pretrained timm models (the anchors) at block boundaries, join them with small
stitching layers, and find the Pareto-optimal stitches for each hardware target.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "StitchnasError": "stitchnas.errors",
    "Route": "stitchnas.space",
    "Segment": "stitchnas.space",
    "Candidate": "stitchnas.space",
    "SearchSpace": "stitchnas.space",
    "load_space": "stitchnas.space",
    "list_spaces": "stitchnas.space",
    "list_rules": "stitchnas.space",
    "StitchedNetwork": "stitchnas.network",
    "RouteModule": "stitchnas.network",
    "StitchingLayer": "stitchnas.network",
    "AnchorAdapter": "stitchnas.anchors",
    "FeatureSpec": "stitchnas.anchors",
    "register_adapter": "stitchnas.anchors",
    "Profiler": "stitchnas.costs",
    "Cost": "stitchnas.costs",
    "StitchCost": "stitchnas.costs",
    "count_flops": "stitchnas.costs",
    "DataSpec": "stitchnas.measure",
    "load_datasets": "stitchnas.measure",
    "load_network": "stitchnas.network",
    "AnchorTrainConfig": "stitchnas.measure",
    "StitchTrainConfig": "stitchnas.measure",
    "train_anchors": "stitchnas.measure",
    "train_stitched": "stitchnas.measure",
    "evaluate_candidates": "stitchnas.measure",
    "Measurement": "stitchnas.measure",
    "read_measurements": "stitchnas.measure",
    "write_measurements": "stitchnas.measure",
    "import_snnet": "stitchnas.measure",
    "hypervolume": "stitchnas.pareto",
    "Stitch": "stitchnas.predict",
    "StitchFeaturizer": "stitchnas.predict",
    "make_stitches": "stitchnas.predict",
    "create_predictor": "stitchnas.predict",
    "list_predictors": "stitchnas.predict",
    "register_predictor": "stitchnas.predict",
    "cross_validate": "stitchnas.predict",
    "suggest": "stitchnas.predict",
    "Target": "stitchnas.costs",
    "Budgets": "stitchnas.costs",
    "load_target": "stitchnas.costs",
    "list_targets": "stitchnas.costs",
    "LatencyTable": "stitchnas.costs",
    "StitchLatency": "stitchnas.costs",
    "TargetCost": "stitchnas.costs",
    "profile_latency": "stitchnas.costs",
    "get_latency_table": "stitchnas.costs",
    "load_latency_table": "stitchnas.costs",
    "target_costs": "stitchnas.costs",
    "Front": "stitchnas.fronts",
    "FrontPoint": "stitchnas.fronts",
    "NothingFits": "stitchnas.fronts",
    "load_front": "stitchnas.fronts",
    "save_front": "stitchnas.fronts",
    "build_model": "stitchnas.fronts",
    "export_model": "stitchnas.fronts",
    "search": "stitchnas.optimize",
    "search_targets": "stitchnas.optimize",
    "SearchConfig": "stitchnas.optimize",
    "SearchResult": "stitchnas.optimize",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    """Import heavy modules (torch, timm, fvcore) only when their names are first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stitchnas' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
