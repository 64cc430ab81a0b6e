"""timm's VGG family as anchors (NCHW between blocks)."""

from __future__ import annotations

from torch import nn

from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter, forward_head

__all__ = ["VggAdapter"]


@register_adapter
class VggAdapter(StagedAdapter):
    """timm VGG: ``features`` is one flat list of layers, so a block is a convolution with the
    layers after it up to the next convolution (its norm, activation and the stage's max pool);
    a max pool closes a stage. The stem is empty; ``pre_logits`` (the convolutional fc6/fc7)
    and ``head`` are the head."""

    model_class = "timm.models.vgg:VGG"

    def stem(self) -> nn.Module:
        return nn.Identity()

    def stages(self):
        stages, blocks = [], []
        for layer in self.model.features:
            if isinstance(layer, nn.Conv2d) or not blocks:
                blocks.append([])
            blocks[-1].append(layer)
            if isinstance(layer, nn.MaxPool2d):
                stages.append((None, [nn.Sequential(*b) for b in blocks]))
                blocks = []
        if blocks:
            stages.append((None, [nn.Sequential(*b) for b in blocks]))
        return stages

    def head(self) -> nn.Module:
        rest = [n for n in self.model._modules if n != "features"]
        return Borrowed(self.model, rest, forward_head, methods=("forward_head",))
