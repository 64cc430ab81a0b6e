"""Anchor families: the adapter base and registry, and one module per timm family.

Importing the package imports its family modules, so their adapters register (as timm's families do)."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "AnchorAdapter": "_base",
    "AnchorSpec": "_base",
    "ConvNeXtAdapter": "staged",
    "EfficientNetAdapter": "staged",
    "FeatureSpec": "_base",
    "LAYOUTS": "_base",
    "LevitAdapter": "staged",
    "MobileNetV3Adapter": "staged",
    "RegNetAdapter": "staged",
    "ResNetAdapter": "staged",
    "StagedAdapter": "staged",
    "SwinAdapter": "staged",
    "ViTAdapter": "_base",
    "adapter_for": "_base",
    "create_anchor_model": "_base",
    "load_checkpoint": "_base",
    "register_adapter": "_base",
    "stitch_problem": "_base",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

from . import staged  # noqa: E402,F401 - registers the CNN and hierarchical adapters
