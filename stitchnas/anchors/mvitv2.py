"""timm's MViTv2 family (Multiscale Vision Transformers v2) as anchors: tokens between blocks."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import StitchnasError
from ._base import Borrowed, register_adapter
from ._spec import FeatureSpec
from ._staged import StagedAdapter

__all__ = ["MvitV2Adapter"]


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x, _ = self.patch_embed(x)
    if self.cls_token is not None:
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
    if self.pos_embed is not None:
        x = x + self.pos_embed
    return x


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


def square_grid(tokens: int, prefix: int) -> tuple[int, int]:
    """The (H, W) of ``tokens`` patch tokens after ``prefix`` ones, on a square input."""
    side = math.isqrt(tokens - prefix)
    if side * side != tokens - prefix:
        raise StitchnasError(f"MViTv2 anchors need square inputs: {tokens - prefix} patch tokens are no "
                             "square grid; use a square input_size")
    return side, side


class MvitBlock(nn.Module):
    """A MultiScaleBlock on tokens alone: it is handed the square patch grid its tokens lie on
    (timm passes it down the stage), and its pooled grid is not passed on (the next block
    reads it from the token count)."""

    def __init__(self, block: nn.Module, prefix: int) -> None:
        super().__init__()
        self.block, self.prefix = block, prefix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, list(square_grid(x.shape[1], self.prefix)))[0]


@register_adapter
class MvitV2Adapter(StagedAdapter):
    """timm MultiScaleVit: a block is one MultiScaleBlock (pooled attention; a stage's first
    block pools the grid and widens the channels), with or without a class token."""

    layout = "tokens"
    model_class = "timm.models.mvitv2:MultiScaleVit"

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["patch_embed", "cls_token", "pos_embed"], _stem)

    def stages(self):
        prefix = self.prefix_tokens()
        return [(None, [MvitBlock(b, prefix) for b in st.blocks]) for st in self.model.stages]

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["norm", "head"], _head, methods=("forward_head",))

    def default_input_size(self) -> tuple[int, int, int]:
        """The size it was built for (its relative positions are sized for it; timm's data
        config says 224 whatever ``img_size`` was): the first block's relative position table
        spans 2 * grid - 1 positions, times the patch stride."""
        proj = self.model.patch_embed.proj
        table = getattr(self.model.stages[0].blocks[0].attn, "rel_pos_h", None)
        if table is None:
            return super().default_input_size()
        grid = (table.shape[0] + 1) // 2
        return (proj.in_channels, grid * proj.stride[0], grid * proj.stride[1])

    def prefix_tokens(self) -> int:
        return int(self.model.cls_token is not None)

    def _spec(self, x: torch.Tensor, boundary: int) -> FeatureSpec:
        shape, prefix = tuple(int(s) for s in x.shape[1:]), self.prefix_tokens()
        return FeatureSpec("tokens", shape, square_grid(shape[0], prefix), prefix)
