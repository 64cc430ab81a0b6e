"""timm's Pyramid Vision Transformer v2 as anchors (features channels-last between blocks)."""

from __future__ import annotations

import torch
from torch import nn

from ._base import register_adapter
from ._staged import StagedAdapter

__all__ = ["PvtV2Adapter"]


def _pvt_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.patch_embed(x)  # NHWC


def _pvt_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(x.permute(0, 3, 1, 2))


class PvtBlock(nn.Module):
    """One PVTv2 block on NHWC features: the stage's patch embedding (NCHW in) runs before the
    stage's first block, the stage's norm after its last, as timm's stage does."""

    def __init__(self, block: nn.Module, downsample: nn.Module | None = None,
                 norm: nn.Module | None = None) -> None:
        super().__init__()
        self.downsample = downsample
        self.block = block
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is not None:
            x = self.downsample(x.permute(0, 3, 1, 2))
        b, h, w, c = x.shape
        x = self.block(x.reshape(b, -1, c), (h, w))
        if self.norm is not None:
            x = self.norm(x)
        return x.reshape(b, h, w, -1)


@register_adapter
class PvtV2Adapter(StagedAdapter):
    """timm PVTv2 (b0..b5, b2_li): NHWC between blocks; a stage's overlapping patch embedding
    joins its first block and the stage's norm its last."""

    layout = "nhwc"
    model_class = "timm.models.pvt_v2:PyramidVisionTransformerV2"
    stem_names = ("patch_embed",)
    head_names = ("head_drop", "head")
    stem_fn = _pvt_stem
    head_fn = _pvt_head

    def stages(self):
        out = []
        for st in self.model.stages:
            blocks = list(st.blocks)
            wrapped = [PvtBlock(b, st.downsample if i == 0 else None,
                                st.norm if i == len(blocks) - 1 else None) for i, b in enumerate(blocks)]
            out.append((None, wrapped))
        return out
