"""timm's EfficientFormer (v1) family as anchors (NCHW between blocks).

EfficientFormer's last stage flattens its map into tokens part-way (a ``Flat`` module among its
blocks) and runs attention blocks on them. The flattening is a pure reshape, so each token block
piece flattens its NCHW input, runs the block and puts the tokens back on the map: every
boundary is a feature map, and the final norm (over tokens) joins the head.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import StitchnasError
from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["EfficientFormerAdapter"]


class TokenBlock(nn.Module):
    """A block that runs on flattened tokens, NCHW in and out."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        y = self.block(x.flatten(2).transpose(1, 2))
        return y.transpose(1, 2).reshape(n, y.shape[-1], h, w)


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.stem(x)


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x.flatten(2).transpose(1, 2)))


@register_adapter
class EfficientFormerAdapter(StagedAdapter):
    """timm EfficientFormer: a stage's downsample joins its first block; the ``Flat`` step is
    dropped from the pieces and the blocks after it run on tokens inside NCHW pieces."""

    model_class = "timm.models.efficientformer:EfficientFormer"

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["stem"], _stem)

    def stages(self):
        from timm.models.efficientformer import Flat

        out, flat = [], False
        for i, stage in enumerate(self.model.stages):
            blocks = []
            for block in stage.blocks:
                if isinstance(block, Flat):
                    flat = True
                    continue
                blocks.append(TokenBlock(block) if flat else block)
            if not blocks:
                raise StitchnasError(f"EfficientFormer stage {i} has no blocks to cut; register an AnchorAdapter "
                                     "for this variant")
            down = None if isinstance(stage.downsample, nn.Identity) else stage.downsample
            out.append((down, blocks))
        if not flat:
            raise StitchnasError("this EfficientFormer variant never flattens to tokens, which its head expects; "
                                 "register an AnchorAdapter for it")
        return out

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["norm", "head_drop", "head", "head_dist"], _head, methods=("forward_head",))
