"""timm's ConViT family as anchors: tokens between blocks, the class token from the first
self-attention block on."""

from __future__ import annotations

import torch
from torch import nn

from ._base import Borrowed, PatchTokenAdapter, register_adapter
from ._spec import FeatureSpec

__all__ = ["ConVitAdapter"]


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x = self.patch_embed(x)
    if self.use_pos_embed:
        x = x + self.pos_embed
    return self.pos_drop(x)


def _add_class_token(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


@register_adapter
class ConVitAdapter(PatchTokenAdapter):
    """timm ConVit: gated positional self-attention blocks run on patch tokens alone; the class
    token joins the first plain self-attention block (``local_up_to_layer``), so boundaries
    before it are plain grids and later ones carry one class token."""

    model_class = "timm.models.convit:ConVit"

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["patch_embed", "pos_embed", "pos_drop"], _stem)

    def blocks(self) -> list[nn.Module]:
        blocks = list(self.model.blocks)
        first = self.model.local_up_to_layer
        if self.model.cls_token is not None and first < len(blocks):
            blocks[first] = nn.Sequential(Borrowed(self.model, ["cls_token"], _add_class_token), blocks[first])
        return blocks

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["norm", "head_drop", "head"], _head, methods=("forward_head",))

    def _spec(self, x: torch.Tensor, boundary: int) -> FeatureSpec:
        shape = tuple(int(s) for s in x.shape[1:])
        grid = self.token_grid(boundary)
        prefix = int(self.model.cls_token is not None and boundary > self.model.local_up_to_layer)
        if grid is None or shape[0] != prefix + grid[0] * grid[1]:
            return FeatureSpec("tokens", shape)  # the model runs at another size than it was built for
        return FeatureSpec("tokens", shape, tuple(int(g) for g in grid), prefix)
