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
    "Route": "stitchnas.routes",
    "Segment": "stitchnas.routes",
    "Candidate": "stitchnas.routes",
    "SearchSpace": "stitchnas.space",
    "load_space": "stitchnas.space",
    "list_spaces": "stitchnas.space",
    "list_rules": "stitchnas.rules",
    "StitchedNetwork": "stitchnas.model",
    "RouteModule": "stitchnas.model",
    "StitchingLayer": "stitchnas.stitching",
    "AnchorAdapter": "stitchnas.anchors",
    "FeatureSpec": "stitchnas.anchors",
    "register_adapter": "stitchnas.anchors",
    "Profiler": "stitchnas.profiler",
    "Cost": "stitchnas.profiler",
    "StitchCost": "stitchnas.profiler",
    "count_flops": "stitchnas.profiler",
    "DataSpec": "stitchnas.data",
    "load_datasets": "stitchnas.data",
    "load_network": "stitchnas.checkpoints",
    "AnchorTrainConfig": "stitchnas.train",
    "StitchTrainConfig": "stitchnas.train",
    "train_anchors": "stitchnas.train",
    "train_stitched": "stitchnas.train",
    "evaluate_candidates": "stitchnas.evaluate",
    "Measurement": "stitchnas.measurements",
    "read_measurements": "stitchnas.measurements",
    "write_measurements": "stitchnas.measurements",
    "import_snnet": "stitchnas.interop",
    "hypervolume": "stitchnas.pareto",
    "Stitch": "stitchnas.features",
    "StitchFeaturizer": "stitchnas.features",
    "make_stitches": "stitchnas.features",
    "create_predictor": "stitchnas.predictors",
    "list_predictors": "stitchnas.predictors",
    "register_predictor": "stitchnas.predictors",
    "cross_validate": "stitchnas.predictor_cv",
    "suggest": "stitchnas.suggest",
    "Target": "stitchnas.targets",
    "Budgets": "stitchnas.targets",
    "load_target": "stitchnas.targets",
    "list_targets": "stitchnas.targets",
    "LatencyTable": "stitchnas.latency",
    "StitchLatency": "stitchnas.latency",
    "TargetCost": "stitchnas.latency",
    "profile_latency": "stitchnas.latency",
    "get_latency_table": "stitchnas.latency",
    "load_latency_table": "stitchnas.latency",
    "target_costs": "stitchnas.latency",
    "Front": "stitchnas.fronts",
    "FrontPoint": "stitchnas.fronts",
    "NothingFits": "stitchnas.fronts",
    "load_front": "stitchnas.fronts",
    "save_front": "stitchnas.fronts",
    "build_model": "stitchnas.fronts",
    "export_model": "stitchnas.fronts",
    "search": "stitchnas.search",
    "search_targets": "stitchnas.search",
    "SearchConfig": "stitchnas.search",
    "SearchResult": "stitchnas.search",
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
