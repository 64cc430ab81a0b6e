"""timm's MetaFormer family as anchors: PoolFormer (v1/v2), ConvFormer, CAFormer."""

from __future__ import annotations

import torch
from torch import nn

from ._base import register_adapter
from ._staged import StagedAdapter, forward_head, forward_stem

__all__ = ["MetaFormerAdapter"]


class TokenBlock(nn.Module):
    """A block that runs on tokens inside an NCHW model (CAFormer's attention stages): NCHW in and
    out, as at every other boundary, so stitching sees one layout."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        x = self.block(x.reshape(b, c, -1).transpose(1, 2))
        return x.transpose(1, 2).reshape(b, c, h, w)


@register_adapter
class MetaFormerAdapter(StagedAdapter):
    """timm MetaFormer (PoolFormer, ConvFormer, CAFormer): NCHW between blocks; a stage's
    downsampling joins its first block; attention stages run their blocks on tokens inside."""

    layout = "nchw"
    model_class = "timm.models.metaformer:MetaFormer"
    stem_names = ("stem",)
    head_names = ("head",)
    stem_fn = forward_stem
    head_fn = forward_head

    def stages(self):
        out = []
        for st in self.model.stages:
            blocks = list(st.blocks)
            if not getattr(st, "use_nchw", True):
                blocks = [TokenBlock(b) for b in blocks]
            out.append((st.downsample, blocks))
        return out
