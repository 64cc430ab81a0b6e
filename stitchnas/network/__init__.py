"""The stitched network: stitching layers, the switchable network, checkpoints, building and
exporting one stitch, and a whole front as one switchable model."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "EXPORT_FORMATS": "_export",
    "FORMAT": "_checkpoints",
    "FRONT_MODEL_FORMAT": "_switchable",
    "FrontModel": "_switchable",
    "LAYOUTS": "_stitching",
    "RouteModule": "_model",
    "StitchedNetwork": "_model",
    "StitchingLayer": "_stitching",
    "anchors_changed": "_checkpoints",
    "apply_checkpoint": "_checkpoints",
    "batchnorm_layers": "_batchnorm",
    "batchnorm_state": "_batchnorm",
    "calibrate_batchnorm": "_batchnorm",
    "estimating_batchnorm": "_batchnorm",
    "has_batchnorm": "_batchnorm",
    "load_batchnorm_state": "_batchnorm",
    "build_model": "_export",
    "check_weights": "_weights",
    "describe_sources": "_weights",
    "export_base": "_export",
    "export_front": "_switchable",
    "export_model": "_export",
    "flatten_positions": "_stitching",
    "front_version": "_switchable",
    "layer_module_name": "_model",
    "least_squares_fit": "_stitching",
    "load_front_model": "_switchable",
    "load_exported": "_export",
    "load_network": "_checkpoints",
    "read_checkpoint": "_checkpoints",
    "read_export_metadata": "_export",
    "read_front_model": "_switchable",
    "reconstruction_error": "_model",
    "resolve_candidate": "_export",
    "save_checkpoint": "_checkpoints",
    "weights_sources": "_weights",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
