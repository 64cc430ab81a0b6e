"""Accuracy predictors: stitch features, predictors, cross-validation, suggest."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "cost_of": "_suggest",
    "fitted_accuracy": "_suggest",
    "FittedPredictor": "_fit",
    "fit_on_measured": "_fit",
    "fit_problem": "_fit",
    "predictor_label": "_fit",
    "prediction_plot_path": "_fit",
    "prediction_rows": "_fit",
    "write_predictions": "_fit",
    "with_anchor_priors": "_fit",
    "ACQUISITIONS": "_suggest",
    "SHAPE_SPREAD": "_suggest",
    "AnchorPrior": "_prior",
    "anchor_line": "_prior",
    "prior_suffices": "_prior",
    "AutoPredictor": "_predictors",
    "CVReport": "_cv",
    "DEFAULT_PREDICTOR": "_predictors",
    "DEPTH_BINS": "_features",
    "ENTRY_POINT_GROUP": "_predictors",
    "PREDICTORS": "_predictors",
    "FlopsBaseline": "_predictors",
    "ForestPredictor": "_predictors",
    "MAX_STITCHES": "_features",
    "QuietGaussianProcessRegressor": "_predictors",
    "RankingScores": "_cv",
    "RouteFeaturizer": "_features",
    "ProxyPredictor": "_predictors",
    "RoutePredictor": "_predictors",
    "ScaledTarget": "_predictors",
    "Stitch": "_features",
    "StitchFeaturizer": "_features",
    "Suggestion": "_suggest",
    "create_predictor": "_predictors",
    "cross_validate": "_cv",
    "flops_of": "_features",
    "gaussian_process": "_predictors",
    "list_predictors": "_predictors",
    "make_stitches": "_features",
    "measurement_plan": "_suggest",
    "nadir_reference": "_suggest",
    "predict_with_std": "_predictors",
    "predicted_front": "_suggest",
    "ranking_scores": "_cv",
    "register_predictor": "_predictors",
    "split": "_cv",
    "suggest": "_suggest",
    "supports_std": "_predictors",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
