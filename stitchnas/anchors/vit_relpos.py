"""timm's ViTs with relative position in every block (``vit_relpos_*``, ``vit_srelpos_*``) as
anchors: tokens between blocks, no absolute position embedding."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import StitchnasError
from ._base import Borrowed, PatchTokenAdapter, register_adapter

__all__ = ["ViTRelPosAdapter"]


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x = self.patch_embed(x)
    if self.cls_token is not None:
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
    return x


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


@register_adapter
class ViTRelPosAdapter(PatchTokenAdapter):
    """timm VisionTransformerRelPos: each block carries its relative position, so blocks are cut
    as they are; a relative position shared by all blocks (``vit_srelpos_*``,
    ``rel_pos_type`` shared) is refused in one line, since it belongs to every block at once."""

    model_class = "timm.models.vision_transformer_relpos:VisionTransformerRelPos"

    def __init__(self, model: nn.Module) -> None:
        if getattr(model, "shared_rel_pos", None) is not None:
            raise StitchnasError("VisionTransformerRelPos with a shared relative position "
                                 "(use_shared_rel_pos=True, vit_srelpos_*) cannot be stitched: its "
                                 "parameters belong to every block; use a per-block one (vit_relpos_*)")
        super().__init__(model)

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["patch_embed", "cls_token"], _stem)

    def blocks(self) -> list[nn.Module]:
        return list(self.model.blocks)

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["norm", "fc_norm", "head_drop", "head"], _head, methods=("forward_head",))

    def prefix_tokens(self) -> int:
        return int(getattr(self.model, "num_prefix_tokens", 0))
