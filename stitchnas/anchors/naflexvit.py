"""timm's NaFlexViT family as anchors, on whole images (tokens between blocks).

On a batch of whole images NaFlexViT is a plain ViT whose position embedding is resized to the
image's patch grid: the embedding (and its prefix tokens) is the stem, its blocks run on tokens,
and pooling joins the head. Its NaFlex mode (patch lists of varying size) is not stitched: the
stitched network takes images. Rotary embeddings and patch dropout are refused in one line.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import StitchnasError
from ._base import AnchorAdapter, Borrowed, register_adapter

__all__ = ["NaFlexVitAdapter"]


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x, _ = self.embeds(x)
    return self.norm_pre(x)


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


@register_adapter
class NaFlexVitAdapter(AnchorAdapter):
    """timm NaFlexVit on whole images: embedding, blocks, pooling head."""

    model_class = "timm.models.naflexvit:NaFlexVit"
    layout = "tokens"

    def __init__(self, model: nn.Module) -> None:
        if model.rope is not None:
            raise StitchnasError("a NaFlexViT with a rotary embedding cannot be stitched yet (its blocks share "
                                 "one embedding made from the whole image's grid); use one without rope")
        if model.patch_drop is not None:
            raise StitchnasError("a NaFlexViT with patch_drop_rate > 0 drops tokens while training, which "
                                 "stitching cannot follow: build the anchor with patch_drop_rate=0")
        super().__init__(model)

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["embeds", "norm_pre"], _stem)

    def blocks(self) -> list[nn.Module]:
        return list(self.model.blocks)

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["norm", "attn_pool", "fc_norm", "head_drop", "head"], _head,
                        methods=("forward_head", "_pool"))

    def prefix_tokens(self) -> int:
        return int(self.model.num_prefix_tokens)

    def feature_specs(self, input_size: tuple[int, ...]) -> list:
        self._input_size = tuple(input_size)  # NaFlexViT resizes to any image: its grid is the input's
        return super().feature_specs(input_size)

    def token_grid(self, boundary: int) -> tuple[int, int] | None:
        _, h, w = getattr(self, "_input_size", None) or self.default_input_size()
        ph, pw = self.model.embeds.patch_size
        return (h // ph, w // pw)
