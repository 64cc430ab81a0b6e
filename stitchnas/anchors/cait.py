"""timm's CaiT family as anchors: patch tokens through the blocks, class attention in the head."""

from __future__ import annotations

import torch
from torch import nn

from ._base import Borrowed, PatchTokenAdapter, register_adapter

__all__ = ["CaitAdapter"]


def _cait_stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.pos_drop(self.patch_embed(x) + self.pos_embed)


def _cait_head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(self.forward_cls(x)))


@register_adapter
class CaitAdapter(PatchTokenAdapter):
    """timm CaiT: the self-attention blocks are the blocks (patch tokens on a grid, no class
    token: CaiT adds it late); the class-attention blocks belong to the head."""

    model_class = "timm.models.cait:Cait"
    stem_names = ("patch_embed", "pos_embed", "pos_drop")
    stem_fn = _cait_stem
    head_names = ("cls_token", "blocks_token_only", "norm", "head_drop", "head")

    def stem(self) -> nn.Module:
        return Borrowed(self.model, list(self.stem_names), type(self).stem_fn)

    def blocks(self) -> list[nn.Module]:
        return list(self.model.blocks)

    def head(self) -> nn.Module:
        return Borrowed(self.model, list(self.head_names), _cait_head, methods=("forward_cls", "forward_head"))
