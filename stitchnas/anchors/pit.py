"""timm's PiT family (Pooling-based Vision Transformer) as anchors: tokens between blocks."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["PitAdapter"]


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x = self.pos_drop(self.patch_embed(x) + self.pos_embed)
    return torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x.flatten(2).transpose(1, 2)), dim=1)


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


class ClassTokens(nn.Module):
    """The first ``prefix`` tokens (PiT's head reads the class tokens only)."""

    def __init__(self, prefix: int) -> None:
        super().__init__()
        self.prefix = prefix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :self.prefix]


class PitStageEntry(nn.Module):
    """What a PiT stage does before its blocks, on tokens: the pooling (class tokens by a linear
    map, the patch map by a strided convolution on its ``grid``) and the stage's norm."""

    def __init__(self, stage: nn.Module, prefix: int, grid: tuple[int, int]) -> None:
        super().__init__()
        self.pool, self.norm, self.prefix, self.grid = stage.pool, stage.norm, prefix, grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            cls, x = x[:, :self.prefix], x[:, self.prefix:]
            x = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *self.grid)
            x, cls = self.pool(x, cls)
            x = torch.cat((cls, x.flatten(2).transpose(1, 2)), dim=1)
        return self.norm(x)


@register_adapter
class PitAdapter(StagedAdapter):
    """timm PoolingVisionTransformer (distilled too): a block is one transformer block; a stage's
    pooling and norm join its first block. Between blocks the class token(s) and the patch tokens
    travel as one token sequence on the stage's grid."""

    layout = "tokens"
    model_class = "timm.models.pit:PoolingVisionTransformer"

    def _grids(self) -> list[tuple[int, int]]:
        """The patch grid each stage runs on (the input size is fixed by ``pos_embed``)."""
        grid = tuple(self.model.pos_embed.shape[-2:])
        grids = []
        for st in self.model.transformers:
            if st.pool is not None:
                conv = st.pool.conv
                grid = tuple((g + 2 * p - k) // s + 1 for g, p, k, s in
                             zip(grid, conv.padding, conv.kernel_size, conv.stride))
            grids.append(grid)
        return grids

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["patch_embed", "pos_embed", "pos_drop", "cls_token"], _stem)

    def stages(self):
        prefix, out = self.prefix_tokens(), []
        before = tuple(self.model.pos_embed.shape[-2:])
        for st, grid in zip(self.model.transformers, self._grids()):
            out.append((PitStageEntry(st, prefix, before), list(st.blocks)))
            before = grid
        return out

    def head(self) -> nn.Module:
        names = [n for n in self.model._modules if n not in ("patch_embed", "pos_drop", "transformers")]
        return nn.Sequential(ClassTokens(self.prefix_tokens()),
                             Borrowed(self.model, names, _head, methods=("forward_head",)))

    def default_input_size(self) -> tuple[int, int, int]:
        embed = self.model.patch_embed  # its img_size: timm's data config does not follow it
        return (embed.conv.in_channels, *embed.img_size)

    def token_grid(self, boundary: int) -> tuple[int, int] | None:
        if boundary == 0:
            return tuple(self.model.pos_embed.shape[-2:])
        ends = itertools.accumulate(self.stage_depths)  # boundary b follows block b - 1
        return next(g for g, end in zip(self._grids(), ends) if boundary <= end)

    def prefix_tokens(self) -> int:
        return int(self.model.cls_token.shape[1])
