"""timm's SAM image encoders (``samvit_*``) as anchors: NHWC token maps between blocks."""

from __future__ import annotations

import torch
from torch import nn

from ._base import AnchorAdapter, Borrowed, register_adapter

__all__ = ["ViTSamAdapter"]


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    from timm.layers import resample_abs_pos_embed_nhwc

    x = self.patch_embed(x)
    if self.pos_embed is not None:
        x = x + resample_abs_pos_embed_nhwc(self.pos_embed, x.shape[1:3])
    return self.norm_pre(self.patch_drop(self.pos_drop(x)))


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.neck(x.permute(0, 3, 1, 2)))


@register_adapter
class ViTSamAdapter(AnchorAdapter):
    """timm VisionTransformerSAM: patch embedding, absolute position and ``norm_pre`` are the
    stem; windowed and global blocks run on NHWC maps and are cut as they are; the neck (NCHW
    convolutions) joins the head."""

    layout = "nhwc"

    model_class = "timm.models.vision_transformer_sam:VisionTransformerSAM"

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["patch_embed", "pos_embed", "pos_drop", "patch_drop", "norm_pre"], _stem)

    def blocks(self) -> list[nn.Module]:
        return list(self.model.blocks)

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["neck", "head"], _head, methods=("forward_head",))

    def default_input_size(self) -> tuple[int, int, int]:
        return self.patch_input_size(self.model.patch_embed)
