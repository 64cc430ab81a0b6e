"""timm's XCiT family as anchors: patch tokens through the blocks, class attention in the head."""

from __future__ import annotations

import torch
from torch import nn

from ._base import AnchorAdapter, Borrowed, register_adapter

__all__ = ["XcitAdapter"]


def _xcit_stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x, (hp, wp) = self.patch_embed(x)
    if self.pos_embed is not None:
        x = x + self.pos_embed(x.shape[0], hp, wp).reshape(x.shape[0], -1, x.shape[1]).permute(0, 2, 1)
    return self.pos_drop(x)


def _xcit_head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(self.forward_cls(x)))


class XcitBlock(nn.Module):
    """One XCiT block, given the patch grid it needs (timm passes it down the forward)."""

    def __init__(self, block: nn.Module, grid: tuple[int, int]) -> None:
        super().__init__()
        self.block = block
        self.grid = grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, *self.grid)


@register_adapter
class XcitAdapter(AnchorAdapter):
    """timm XCiT: the cross-covariance blocks are the blocks (patch tokens on a grid, no class
    token: XCiT adds it late); the class-attention blocks belong to the head."""

    layout = "tokens"

    @classmethod
    def handles(cls, model: nn.Module) -> bool:
        from timm.models.xcit import Xcit

        return isinstance(model, Xcit)

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["patch_embed", "pos_embed", "pos_drop"], _xcit_stem)

    def blocks(self) -> list[nn.Module]:
        grid = self.token_grid(0)
        return [XcitBlock(blk, grid) for blk in self.model.blocks]

    def head(self) -> nn.Module:
        names = ["cls_token", "cls_attn_blocks", "norm", "head_drop", "head"]
        return Borrowed(self.model, names, _xcit_head, methods=("forward_cls", "forward_head"))

    def default_input_size(self) -> tuple[int, int, int]:
        pe = self.model.patch_embed
        conv = next(m for m in pe.modules() if isinstance(m, nn.Conv2d))
        return (conv.in_channels, *pe.img_size)

    def token_grid(self, boundary: int) -> tuple[int, int] | None:
        pe = self.model.patch_embed
        return (pe.img_size[0] // pe.patch_size, pe.img_size[1] // pe.patch_size)
