"""timm's Twins family as anchors (PCPVT, SVT): NHWC features between blocks."""

from __future__ import annotations

import torch
from torch import nn

from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["TwinsAdapter"]


class TwinsStem(nn.Module):
    """The first stage's patch embedding and dropout; tokens laid out NHWC."""

    def __init__(self, embed: nn.Module, drop: nn.Module) -> None:
        super().__init__()
        self.embed, self.drop = embed, drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, size = self.embed(x)
        return self.drop(x).reshape(x.shape[0], *size, -1)


class TwinsBlock(nn.Module):
    """One Twins block on NHWC features, given the grid it needs; a later stage's first block
    runs the stage's patch embedding (NCHW in) and dropout first, each stage's first block the
    positional convolution (PEG) after, as timm's forward does."""

    def __init__(self, block: nn.Module, embed: nn.Module | None = None, drop: nn.Module | None = None,
                 peg: nn.Module | None = None) -> None:
        super().__init__()
        self.embed, self.drop, self.block, self.peg = embed, drop, block, peg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embed is not None:
            x, size = self.embed(x.permute(0, 3, 1, 2))
            x = self.drop(x)
        else:
            size = (x.shape[1], x.shape[2])
            x = x.reshape(x.shape[0], -1, x.shape[-1])
        x = self.block(x, size)
        if self.peg is not None:
            x = self.peg(x, size)
        return x.reshape(x.shape[0], *size, -1)


def _twins_head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x.flatten(1, 2)))


@register_adapter
class TwinsAdapter(StagedAdapter):
    """timm Twins (PCPVT, SVT): NHWC between blocks; a stage's patch embedding joins its first
    block, with the positional convolution that follows that block."""

    layout = "nhwc"
    model_class = "timm.models.twins:Twins"

    def stem(self) -> nn.Module:
        return TwinsStem(self.model.patch_embeds[0], self.model.pos_drops[0])

    def stages(self):
        m = self.model
        out = []
        for i, (embed, drop, blocks, peg) in enumerate(zip(m.patch_embeds, m.pos_drops, m.blocks, m.pos_block)):
            first = TwinsBlock(blocks[0], embed if i else None, drop if i else None, peg)
            out.append((None, [first, *(TwinsBlock(b) for b in list(blocks)[1:])]))
        return out

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["norm", "head_drop", "head"], _twins_head, methods=("forward_head",))
