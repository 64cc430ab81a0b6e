"""timm's ResNet family as anchors."""

from __future__ import annotations

import torch
from torch import nn

from ._base import register_adapter
from ._staged import StagedAdapter, forward_head


__all__ = ["ResNetAdapter"]


def _resnet_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.maxpool(self.act1(self.bn1(self.conv1(x))))


@register_adapter
class ResNetAdapter(StagedAdapter):
    """timm ResNet / ResNeXt / SE-ResNet (``layer1..layerN``): one block per BasicBlock/Bottleneck."""

    model_class = "timm.models.resnet:ResNet"
    stem_names = ("conv1", "bn1", "act1", "maxpool")
    head_names = ("global_pool", "fc")
    stem_fn = _resnet_stem
    head_fn = forward_head

    def stages(self):
        out, i = [], 1
        while isinstance(getattr(self.model, f"layer{i}", None), nn.Module):
            out.append((None, list(getattr(self.model, f"layer{i}"))))
            i += 1
        return out
