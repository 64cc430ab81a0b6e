"""timm's FastViT family as anchors (NCHW between blocks)."""

from __future__ import annotations

import torch
from torch import nn

from ._base import register_adapter
from ._staged import StagedAdapter, forward_stem

__all__ = ["FastVitAdapter"]


def _fastvit_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.final_conv(x))


@register_adapter
class FastVitAdapter(StagedAdapter):
    """timm FastViT: NCHW between blocks; a stage's patch embedding and conditional positional
    encoding join its first block; the final MobileOne convolution belongs to the head."""

    layout = "nchw"
    model_class = "timm.models.fastvit:FastVit"
    stem_names = ("stem",)
    head_names = ("final_conv", "head")
    stem_fn = forward_stem
    head_fn = _fastvit_head

    def stages(self):
        out = []
        for st in self.model.stages:
            down = [m for m in (st.downsample, st.pos_emb) if not isinstance(m, nn.Identity)]
            out.append((nn.Sequential(*down) if down else None, list(st.blocks)))
        return out
