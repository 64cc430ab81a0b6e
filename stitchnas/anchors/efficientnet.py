"""timm's EfficientNet and MobileNetV3 families as anchors."""

from __future__ import annotations

import torch
from torch import nn

from ._base import register_adapter
from ._staged import StagedAdapter, forward_head


__all__ = ["EfficientNetAdapter", "MobileNetV3Adapter"]


def _effnet_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.bn1(self.conv_stem(x))


def _effnet_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.bn2(self.conv_head(x)))


@register_adapter
class EfficientNetAdapter(StagedAdapter):
    """timm EfficientNet / MixNet / MNASNet family (``blocks``: stages of blocks)."""

    model_class = "timm.models.efficientnet:EfficientNet"
    stem_names = ("conv_stem", "bn1")
    head_names = ("conv_head", "bn2", "global_pool", "classifier")
    stem_fn = _effnet_stem
    head_fn = _effnet_head

    def stages(self):
        return [(None, list(stage)) for stage in self.model.blocks]


@register_adapter
class MobileNetV3Adapter(StagedAdapter):
    """timm MobileNetV3 (head: pooling, then conv_head, norm, act, classifier)."""

    model_class = "timm.models.mobilenetv3:MobileNetV3"
    stem_names = ("conv_stem", "bn1")
    head_names = ("global_pool", "conv_head", "norm_head", "act2", "flatten", "classifier")
    stem_fn = _effnet_stem
    head_fn = forward_head

    def stages(self):
        return [(None, list(stage)) for stage in self.model.blocks]


# ---- hierarchical transformers --------------------------------------------------------------
