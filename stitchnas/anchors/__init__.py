"""Anchor families: the adapter base and registry, and one module per timm family.

An adapter cuts a timm model into stem -> blocks -> head modules that share its parameters.
Importing the package imports every family module, so their adapters register (as timm's
families do); a new family is one module with one :func:`register_adapter` class.
"""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "ADAPTERS": "_base",
    "AnchorAdapter": "_base",
    "AnchorSpec": "_base",
    "Borrowed": "_base",
    "ConvNeXtAdapter": "convnext",
    "EfficientNetAdapter": "efficientnet",
    "FeatureSpec": "_base",
    "LAYOUTS": "_base",
    "LevitAdapter": "levit",
    "MobileNetV3Adapter": "efficientnet",
    "RegNetAdapter": "regnet",
    "ResNetAdapter": "resnet",
    "StagedAdapter": "_staged",
    "SwinAdapter": "swin",
    "ViTAdapter": "vit",
    "adapter_for": "_base",
    "create_anchor_model": "_base",
    "list_adapters": "_base",
    "load_checkpoint": "_base",
    "register_adapter": "_base",
    "stitch_problem": "_base",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

# the families, in registration order (adapter_for tries the last registered first)
from . import vit, resnet, convnext, regnet, efficientnet, swin, levit  # noqa: E402,F401
