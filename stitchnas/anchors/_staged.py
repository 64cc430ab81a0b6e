"""Anchor adapters for staged models: CNNs and hierarchical transformers.

A staged model is a stem, then stages of blocks (each stage may open with a downsampling
module), then a head. Its adapter cuts it into the same three kinds of pieces as a ViT's, so the
rest of stitchnas needs nothing new:

* **blocks** are the finest units whose boundaries carry a well-defined feature map: each
  ResNet BasicBlock/Bottleneck, ConvNeXt block, RegNet block, EfficientNet/MobileNet block,
  Swin block and LeViT block (attention + MLP residuals). A stage's own downsampling module
  (Swin's patch merging, ConvNeXt's and LeViT's downsample) is fused with the stage's first
  block, so a stage's first block changes the resolution and every block boundary lies inside
  a stage, after one of its blocks (or right after the stem).
* **layout** is the features' memory layout between blocks: ``nchw`` for CNNs, ``nhwc`` for
  Swin (timm's stages run channels-last), ``tokens`` for LeViT (with its token grid), so
  :class:`~stitchnas.anchors.FeatureSpec` knows the spatial resolution at every boundary.

Stitching is legal between boundaries of equal spatial resolution (see
:func:`stitchnas.anchors.stitch_problem`); the stitching layer converts between layouts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._base import AnchorAdapter, Borrowed

__all__ = ["StagedAdapter", "forward_head", "forward_stem"]


class StagedAdapter(AnchorAdapter):
    """Base of staged adapters: subclasses name the stem's and head's modules and list the stages.

    ``stem_names``/``head_names``: the model attributes the stem and head use (shared, not
    copied); ``stem_fn``/``head_fn``: how they run (timm's own code where possible);
    :meth:`stages`: ``(downsample or None, [blocks])`` per stage.
    """

    layout = "nchw"
    stem_names: tuple[str, ...] = ()
    head_names: tuple[str, ...] = ()
    methods: tuple[str, ...] = ("forward_head",)
    stem_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    head_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor]

    def stages(self) -> list[tuple[nn.Module | None, list[nn.Module]]]:
        raise NotImplementedError

    def stem(self) -> nn.Module:
        return Borrowed(self.model, list(self.stem_names), type(self).stem_fn, methods=self.methods)

    def blocks(self) -> list[nn.Module]:
        out: list[nn.Module] = []
        self.stage_depths: list[int] = []
        for down, blocks in self.stages():
            blocks = list(blocks)
            if not blocks:
                continue
            if down is not None and not isinstance(down, nn.Identity):
                blocks[0] = nn.Sequential(down, blocks[0])
            out += blocks
            self.stage_depths.append(len(blocks))
        return out

    def head(self) -> nn.Module:
        return Borrowed(self.model, list(self.head_names), type(self).head_fn, methods=self.methods)



def forward_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The head of most staged models: timm's own ``forward_head``."""
    return self.forward_head(x)


def forward_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The stem of models whose stem is one module named ``stem`` (ConvNeXt, RegNet)."""
    return self.stem(x)
