"""timm's ConvNeXt family as anchors."""

from __future__ import annotations

import torch
from torch import nn

from ._base import register_adapter
from ._staged import StagedAdapter, forward_stem


__all__ = ["ConvNeXtAdapter"]


def _convnext_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm_pre(x))


@register_adapter
class ConvNeXtAdapter(StagedAdapter):
    """timm ConvNeXt: stem, stages (downsample + ConvNeXt blocks), norm_pre and head."""

    model_class = "timm.models.convnext:ConvNeXt"
    stem_names = ("stem",)
    head_names = ("norm_pre", "head")
    stem_fn = forward_stem
    head_fn = _convnext_head

    def stages(self):
        return [(st.downsample, list(st.blocks)) for st in self.model.stages]
