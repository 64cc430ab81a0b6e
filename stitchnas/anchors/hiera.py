"""timm's Hiera family as anchors (NHWC between blocks).

Hiera runs its blocks on *unrolled* tokens: a fixed permutation that puts the tokens each later
query pooling merges next to one another, which changes as stages pool. That order is Hiera's
private business, so every boundary is shown in spatial order (NHWC, what timm's own ``reroll``
gives for intermediate features): each block piece puts its input into the order that block
expects, runs it and puts the result back in spatial order. Both are index permutations computed
once from the model's own ``reroll``, so the pieces reproduce timm exactly and Hiera stitches to
any feature map of the same resolution.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import StitchnasError
from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["HieraAdapter"]

_POSITION = ("pos_embed", "pos_embed_win", "pos_embed_spatial", "pos_embed_temporal")  # any of them


def _spatial_order(model: nn.Module, block: int) -> torch.Tensor:
    """Token indices that put block ``block``'s output (unrolled) into row-major spatial order."""
    n = math.prod(model.reroll.schedule[block][1])
    index = torch.arange(n, dtype=torch.float64).view(1, n, 1)
    return model.reroll(index, block).reshape(-1).long()


class Reordered(nn.Module):
    """A Hiera piece between spatial-order boundaries: ``inverse`` puts the NHWC input's tokens
    into the piece's unrolled order (None: the piece makes its own), ``order`` puts its output back
    in spatial order (None: the output is not tokens, as the head's)."""

    def __init__(self, fn: nn.Module, inverse: torch.Tensor | None, order: torch.Tensor | None,
                 grid: tuple[int, int] | None) -> None:
        super().__init__()
        self.fn = fn
        self.register_buffer("inverse", inverse, persistent=False)
        self.register_buffer("order", order, persistent=False)
        self.grid = grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inverse is not None:
            x = x.flatten(1, 2)[:, self.inverse]
        x = self.fn(x)
        if self.order is not None:
            x = x[:, self.order].unflatten(1, self.grid)
        return x


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(x)


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.unroll(self._pos_embed(self.patch_embed(x)))


@register_adapter
class HieraAdapter(StagedAdapter):
    """timm Hiera: the patch embedding, position embedding and unrolling are the stem; a stage's
    query pooling is inside its first block; the head takes the last block's tokens. Masked
    inputs (patch dropout) and video (3-D) Hieras are refused in one line."""

    model_class = "timm.models.hiera:Hiera"
    layout = "nhwc"

    def __init__(self, model: nn.Module) -> None:
        if len(model.tokens_spatial_shape) != 2:
            raise StitchnasError(f"a {len(model.tokens_spatial_shape)}-D (video) Hiera cannot be stitched: "
                                 "stitchnas stitches image models; use a 2-D Hiera")
        if model.patch_drop_rate > 0:
            raise StitchnasError("a Hiera with patch_drop_rate > 0 drops tokens while training, which "
                                 "stitching cannot follow: build the anchor with patch_drop_rate=0")
        super().__init__(model)

    def _grid(self, block: int) -> tuple[int, int]:
        return tuple(self.model.reroll.schedule[block][1])

    def _orders(self, block: int) -> tuple[torch.Tensor, torch.Tensor]:
        order = _spatial_order(self.model, block)
        return order, torch.argsort(order)

    def stem(self) -> nn.Module:
        order, _ = self._orders(0)  # the stem's tokens are in the first block's input order
        return Reordered(Borrowed(self.model, ["patch_embed", "unroll", *_POSITION], _stem,
                                  methods=("_pos_embed",)), None, order, self._grid(0))

    def stages(self):
        ends = list(self.model.stage_ends)
        blocks, stages, start = list(self.model.blocks), [], 0
        for end in ends:
            pieces = []
            for i in range(start, end + 1):
                _, inverse = self._orders(max(i - 1, 0))
                order, _ = self._orders(i)
                pieces.append(Reordered(blocks[i], inverse, order, self._grid(i)))
            stages.append((None, pieces))
            start = end + 1
        return stages

    def head(self) -> nn.Module:
        _, inverse = self._orders(len(self.model.blocks) - 1)
        return Reordered(Borrowed(self.model, ["head"], _head, methods=("forward_head",)), inverse, None, None)
