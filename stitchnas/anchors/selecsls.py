"""timm's SelecSLS family as anchors (NCHW between blocks).

SelecSLS blocks pass a list: their output and the skip made by their stage's first block, which
every later block of the stage concatenates. A boundary shows that list as one NCHW map, the two
concatenated along channels (after a stage's first block, whose output is its own skip, just
that map); each block piece splits it again. Concatenating and splitting cost no FLOPs, so the
pieces reproduce timm exactly and SelecSLS stitches to any feature map of the same resolution.
"""

from __future__ import annotations

import torch
from torch import nn

from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["SelecSlsAdapter"]


class ListBlock(nn.Module):
    """A SelecSLS block between single-map boundaries: ``skip`` is how many trailing channels of
    its input are a stage's skip (0: the input is one block's output alone, a stage's first
    block's, which the next block also takes as its skip)."""

    def __init__(self, block: nn.Module, skip: int) -> None:
        super().__init__()
        self.block = block
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.skip:
            x = [x[:, :-self.skip], x[:, -self.skip:]]
        else:
            x = [x, x]
        out = self.block(x)
        return out[0] if self.block.is_first else torch.cat(out, 1)


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.stem(x)


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    if self.skip:  # the last block's output, without its stage's skip
        x = x[:, :-self.skip]
    return self.forward_head(self.head(x))


@register_adapter
class SelecSlsAdapter(StagedAdapter):
    """timm SelecSLS: a stage starts at each block that makes a new skip (``is_first``); the
    head convolutions join the head."""

    model_class = "timm.models.selecsls:SelecSls"

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["stem"], _stem)

    def _pieces(self) -> tuple[list[list[nn.Module]], int]:
        """The blocks as pieces, by stage, and how many skip channels the last boundary carries."""
        stages: list[list[nn.Module]] = []
        skip = incoming = 0  # the stage's skip channels; those of the boundary entering a block
        for block in self.model.features:
            if block.is_first:
                stages.append([])
                skip = block.conv6[0].out_channels
            stages[-1].append(ListBlock(block, incoming))
            incoming = 0 if block.is_first else skip
        return stages, incoming

    def stages(self):
        return [(None, blocks) for blocks in self._pieces()[0]]

    def head(self) -> nn.Module:
        piece = Borrowed(self.model, ["head", "global_pool", "head_drop", "fc"], _head, methods=("forward_head",))
        object.__setattr__(piece, "skip", self._pieces()[1])
        return piece
