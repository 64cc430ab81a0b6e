"""The stitched network: stitching layers, the switchable network, checkpoints, building and
exporting one stitch."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "FORMAT": "_checkpoints",
    "LAYOUTS": "_stitching",
    "RouteModule": "_model",
    "StitchedNetwork": "_model",
    "StitchingLayer": "_stitching",
    "apply_checkpoint": "_checkpoints",
    "build_model": "_export",
    "export_model": "_export",
    "flatten_positions": "_stitching",
    "layer_module_name": "_model",
    "least_squares_fit": "_stitching",
    "load_network": "_checkpoints",
    "read_checkpoint": "_checkpoints",
    "reconstruction_error": "_model",
    "resolve_candidate": "_export",
    "save_checkpoint": "_checkpoints",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
