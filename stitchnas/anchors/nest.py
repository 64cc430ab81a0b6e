"""timm's NesT family as anchors (NCHW between blocks).

A NesT level pools, cuts its grid into square blocks of tokens (``blockify``), adds a position
embedding and runs transformer layers inside each block, then puts the grid back together. The
blocking is a pure reshape, so every layer boundary can be shown as the level's NCHW map: each
layer piece blocks its input, runs the layer and unblocks it again, which reproduces timm
exactly and lets NesT stitch to any feature map of the same resolution.
"""

from __future__ import annotations

import torch
from torch import nn

from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["NestAdapter"]


def _blocked(fn, block_size: int, x: torch.Tensor) -> torch.Tensor:
    """Runs ``fn`` on NCHW ``x`` cut into blocks, as a NesT level does, and returns NCHW."""
    from timm.models.nest import blockify, deblockify

    x = blockify(x.permute(0, 2, 3, 1), block_size)
    return deblockify(fn(x), block_size).permute(0, 3, 1, 2)


def _entry(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    """A level's entry: its pooling, then its position embedding (added per block)."""
    return _blocked(lambda t: t + self.pos_embed, self.block_size, self.pool(x))


class NestLayer(nn.Module):
    """One transformer layer of a NesT level, NCHW in and out."""

    def __init__(self, layer: nn.Module, block_size: int) -> None:
        super().__init__()
        self.layer = layer
        self.block_size = block_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _blocked(self.layer, self.block_size, x)


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.patch_embed(x)


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


@register_adapter
class NestAdapter(StagedAdapter):
    """timm NesT (and JX NesT): the patch embedding is the stem; a level's pooling and position
    embedding join its first layer; the final norm (over channels) joins the head."""

    model_class = "timm.models.nest:Nest"

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["patch_embed"], _stem)

    def stages(self):
        out = []
        for level in self.model.levels:
            layers = [NestLayer(layer, level.block_size) for layer in level.transformer_encoder]
            out.append((Borrowed(level, ["pool", "pos_embed"], _entry), layers))
        return out

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["norm", "global_pool", "head_drop", "head"], _head, methods=("forward_head",))

    def default_input_size(self) -> tuple[int, int, int]:
        return self.patch_input_size(self.model.patch_embed)
