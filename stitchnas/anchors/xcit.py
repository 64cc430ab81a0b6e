"""timm's XCiT family as anchors: patch tokens through the blocks, class attention in the head
(CaiT's cut, with the patch grid passed to each block)."""

from __future__ import annotations

import torch
from torch import nn

from ._base import Borrowed, register_adapter
from .cait import CaitAdapter

__all__ = ["XcitAdapter"]


def _xcit_stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x, (hp, wp) = self.patch_embed(x)
    if self.pos_embed is not None:
        x = x + self.pos_embed(x.shape[0], hp, wp).reshape(x.shape[0], -1, x.shape[1]).permute(0, 2, 1)
    return self.pos_drop(x)


class XcitBlock(nn.Module):
    """One XCiT block, given the patch grid it needs (timm passes it down the forward)."""

    def __init__(self, block: nn.Module, grid: tuple[int, int]) -> None:
        super().__init__()
        self.block = block
        self.grid = grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, *self.grid)


@register_adapter
class XcitAdapter(CaitAdapter):
    """timm XCiT: as CaiT, the cross-covariance blocks are the blocks (patch tokens on a grid, no
    class token) and the class-attention blocks belong to the head."""

    model_class = "timm.models.xcit:Xcit"
    stem_fn = _xcit_stem
    head_names = ("cls_token", "cls_attn_blocks", "norm", "head_drop", "head")

    def blocks(self) -> list[nn.Module]:
        grid = self.token_grid(0)
        return [XcitBlock(blk, grid) for blk in self.model.blocks]

    def default_input_size(self) -> tuple[int, int, int]:
        pe = self.model.patch_embed
        conv = next(m for m in pe.modules() if isinstance(m, nn.Conv2d))
        return (conv.in_channels, *pe.img_size)

    def token_grid(self, boundary: int) -> tuple[int, int] | None:
        pe = self.model.patch_embed
        return (pe.img_size[0] // pe.patch_size, pe.img_size[1] // pe.patch_size)
