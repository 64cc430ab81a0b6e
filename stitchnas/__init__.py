"""stitchnas: neural architecture search over stitch space.

Cut a family of pretrained timm models (the anchors) at block boundaries, join them with small
stitching layers, and find the Pareto-optimal stitches for each hardware target.

The command line's verbs are functions here with its parameter names (``--n-trials`` is
``n_trials``, ``--out-dir`` is ``out_dir``): :func:`search`, :func:`query`, :func:`export`,
:func:`predict_candidates` (``stitchnas predict``; ``stitchnas.predict`` is the predictors'
subpackage), :func:`import_snnet` (docs/python.md has the table). Importing stitchnas
imports nothing heavy and changes no other library's logging.
"""

from __future__ import annotations

from ._util import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "StitchnasError": "errors",
    "StitchnasWarning": "errors",
    "Route": "space",
    "Segment": "space",
    "Candidate": "space",
    "SearchSpace": "space",
    "load_space": "space",
    "list_spaces": "space",
    "list_rules": "space",
    "StitchedNetwork": "network",
    "RouteModule": "network",
    "StitchingLayer": "network",
    "AnchorAdapter": "anchors",
    "FeatureSpec": "anchors",
    "register_adapter": "anchors",
    "list_adapters": "anchors",
    "register_rule": "space",
    "Profiler": "costs",
    "Cost": "costs",
    "StitchCost": "costs",
    "count_flops": "costs",
    "DataSpec": "measure",
    "load_datasets": "measure",
    "load_network": "network",
    "AnchorTrainConfig": "measure",
    "StitchTrainConfig": "measure",
    "train_anchors": "measure",
    "train_stitched": "measure",
    "evaluate_candidates": "measure",
    "Measurement": "measure",
    "read_measurements": "measure",
    "write_measurements": "measure",
    "import_snnet": "_verbs",
    "hypervolume": "pareto",
    "Stitch": "predict",
    "StitchFeaturizer": "predict",
    "make_stitches": "predict",
    "create_predictor": "predict",
    "list_predictors": "predict",
    "register_predictor": "predict",
    "fit_on_measured": "predict",
    "list_samplers": "optimize",
    "cross_validate": "predict",
    "suggest": "predict",
    "Target": "costs",
    "Budgets": "costs",
    "load_target": "costs",
    "list_targets": "costs",
    "LatencyTable": "costs",
    "StitchLatency": "costs",
    "TargetCost": "costs",
    "profile_latency": "costs",
    "get_latency_table": "costs",
    "load_latency_table": "costs",
    "target_costs": "costs",
    "Front": "fronts",
    "FrontPoint": "fronts",
    "NothingFits": "fronts",
    "load_front": "fronts",
    "save_front": "fronts",
    "build_model": "network",
    "export_model": "network",
    "export_front": "network",
    "load_front_model": "network",
    "FrontModel": "network",
    "search": "optimize",
    "query": "_verbs",
    "export": "_verbs",
    "predict_candidates": "_verbs",
    "search_targets": "optimize",
    "SearchConfig": "optimize",
    "SearchResult": "optimize",
}

__all__ = sorted(_EXPORTS) + ["__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
