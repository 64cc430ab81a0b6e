"""Anchor families: the adapter base and registry, and one module per timm family.

An adapter cuts a timm model into stem -> blocks -> head modules that share its parameters.
The family modules are imported (so their adapters register, as timm's families do) on first use
of anything but the plain data (:class:`AnchorSpec`, :class:`FeatureSpec`, :func:`stitch_problem`),
which needs no torch: loading a space does not import torch. A new family is one module with one
:func:`register_adapter` class.
"""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "ADAPTERS": "_base",
    "AnchorAdapter": "_base",
    "AnchorSpec": "_spec",
    "BeitAdapter": "beit",
    "Borrowed": "_base",
    "CaitAdapter": "cait",
    "ConvNeXtAdapter": "convnext",
    "DenseNetAdapter": "densenet",
    "EfficientNetAdapter": "efficientnet",
    "EvaAdapter": "eva",
    "FeatureSpec": "_spec",
    "LAYOUTS": "_spec",
    "LevitAdapter": "levit",
    "MetaFormerAdapter": "metaformer",
    "MlpMixerAdapter": "mlp_mixer",
    "MobileNetV3Adapter": "efficientnet",
    "PvtV2Adapter": "pvt_v2",
    "RegNetAdapter": "regnet",
    "ResNetAdapter": "resnet",
    "StagedAdapter": "_staged",
    "StagedFamily": "staged_families",
    "STAGED_FAMILIES": "staged_families",
    "SelecSlsAdapter": "selecsls",
    "SwinAdapter": "swin",
    "TwinsAdapter": "twins",
    "ViTAdapter": "vit",
    "ConVitAdapter": "convit",
    "DpnAdapter": "dpn",
    "EfficientFormerAdapter": "efficientformer",
    "HieraAdapter": "hiera",
    "HieraDetAdapter": "hieradet",
    "MvitV2Adapter": "mvitv2",
    "NaFlexVitAdapter": "naflexvit",
    "NestAdapter": "nest",
    "PatchTokenAdapter": "_base",
    "PitAdapter": "pit",
    "VggAdapter": "vgg",
    "VisformerAdapter": "visformer",
    "ViTRelPosAdapter": "vit_relpos",
    "ViTSamAdapter": "vit_sam",
    "VoloAdapter": "volo",
    "XcitAdapter": "xcit",
    "adapter_for": "_base",
    "create_anchor_model": "_base",
    "list_adapters": "_base",
    "init_anchor": "_base",
    "load_checkpoint": "_base",
    "register_adapter": "_base",
    "stitch_problem": "_spec",
}

__all__ = sorted(_EXPORTS)
_lazy_getattr, __dir__ = lazy_exports(__name__, _EXPORTS)


def _load_families() -> None:
    """Import every family module once, so its adapter registers; in registration order
    (adapter_for tries the last registered first)."""
    from . import vit, resnet, convnext, regnet, efficientnet, swin, levit  # noqa: F401
    from . import eva, beit, cait, xcit, mlp_mixer, metaformer, pvt_v2  # noqa: F401
    from . import staged_families, densenet, twins, vgg, vit_relpos, vit_sam, pit, convit, mvitv2  # noqa: F401
    from . import visformer, nest, hiera, hieradet, dpn, selecsls, volo, efficientformer, naflexvit  # noqa: F401


def __getattr__(name: str):
    if name in _EXPORTS and _EXPORTS[name] != "_spec":  # adapters, models: every family first
        _load_families()
    return _lazy_getattr(name)
