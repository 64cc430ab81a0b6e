"""timm's ByobNet family as anchors: MobileViT (v1/v2), RepVGG, MobileOne, GENet, BoTNet..."""

from __future__ import annotations

import torch
from torch import nn

from ._base import register_adapter
from ._staged import StagedAdapter, forward_stem

__all__ = ["ByobNetAdapter"]


def _byob_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.final_conv(x))


@register_adapter
class ByobNetAdapter(StagedAdapter):
    """timm ByobNet ("bring your own blocks"): NCHW between blocks; each stage is a sequence of
    blocks whose first one strides; the final 1x1 convolution belongs to the head."""

    layout = "nchw"
    model_class = "timm.models.byobnet:ByobNet"
    stem_names = ("stem",)
    head_names = ("final_conv", "head")
    stem_fn = forward_stem
    head_fn = _byob_head

    def stages(self):
        return [(None, list(st)) for st in self.model.stages]
