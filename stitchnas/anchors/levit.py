"""timm's LeViT family as anchors (tokens with a grid between blocks)."""

from __future__ import annotations

import torch
from torch import nn

from ._base import register_adapter
from ._staged import StagedAdapter, forward_head


__all__ = ["LevitAdapter"]


def _levit_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = self.stem(x)
    return x if self.use_conv else x.flatten(2).transpose(1, 2)


@register_adapter
class LevitAdapter(StagedAdapter):
    """timm LeViT (distilled too): a block is one LevitBlock (attention + MLP residuals), as in
    SN-Net's LeViT stitching; a stage's attention-downsample joins its first block. Features are
    tokens on a known grid (``use_conv`` models: NCHW)."""

    layout = "tokens"
    model_class = "timm.models.levit:Levit"
    stem_names = ("stem",)
    head_names = ("head", "head_dist")
    stem_fn = _levit_stem
    head_fn = forward_head

    def __init__(self, model: nn.Module) -> None:
        self.layout = "nchw" if getattr(model, "use_conv", False) else "tokens"
        super().__init__(model)

    def stages(self):
        return [(st.downsample, list(st.blocks)) for st in self.model.stages]

    def token_grid(self, boundary: int) -> tuple[int, int] | None:
        def resolution(block: nn.Module, entering: bool):
            if isinstance(block, nn.Sequential):  # downsample + first block of a stage
                block = block[0].attn_downsample if entering else block[1]
                return getattr(block, "resolution", None) if entering else block.attn.resolution
            return block.attn.resolution

        try:
            if boundary < self.depth:
                return tuple(resolution(self.block_modules[boundary], entering=True))
            return tuple(resolution(self.block_modules[-1], entering=False))
        except AttributeError:  # pragma: no cover - another timm layout
            return None
