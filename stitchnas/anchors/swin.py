"""timm's Swin Transformer family as anchors (features channels-last between blocks)."""

from __future__ import annotations

import torch
from torch import nn

from ._base import register_adapter
from ._staged import StagedAdapter


__all__ = ["SwinAdapter"]


def _swin_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.patch_embed(x)


def _swin_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


@register_adapter
class SwinAdapter(StagedAdapter):
    """timm Swin Transformer (v1): NHWC features; a stage's patch merging joins its first block."""

    layout = "nhwc"
    model_class = "timm.models.swin_transformer:SwinTransformer"
    stem_names = ("patch_embed",)
    head_names = ("norm", "head")
    stem_fn = _swin_stem
    head_fn = _swin_head

    def stages(self):
        return [(st.downsample, list(st.blocks)) for st in self.model.layers]

    def default_input_size(self) -> tuple[int, int, int]:
        return self.patch_input_size(self.model.patch_embed)
