"""timm's BEiT family as anchors (BEiT, BEiT v2): ViT-like tokens with per-block relative
position bias."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import StitchnasError
from ._base import Borrowed, PatchTokenAdapter, register_adapter

__all__ = ["BeitAdapter"]


def _beit_stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x = self.patch_embed(x)
    x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
    if self.pos_embed is not None:
        x = x + self.pos_embed
    return self.pos_drop(x)


def _beit_head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


@register_adapter
class BeitAdapter(PatchTokenAdapter):
    """timm Beit: each block carries its own relative position bias, so blocks are cut as they
    are; a relative position bias shared by all blocks (``use_shared_rel_pos_bias``) is refused
    in one line, since its parameters belong to every block at once."""

    model_class = "timm.models.beit:Beit"

    def __init__(self, model: nn.Module) -> None:
        if getattr(model, "rel_pos_bias", None) is not None:
            raise StitchnasError("Beit with use_shared_rel_pos_bias=True cannot be stitched: the "
                                 "shared bias's parameters belong to every block; use per-block "
                                 "relative position bias (use_rel_pos_bias=True)")
        super().__init__(model)

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["patch_embed", "cls_token", "pos_embed", "pos_drop"], _beit_stem)

    def blocks(self) -> list[nn.Module]:
        return list(self.model.blocks)

    def head(self) -> nn.Module:
        names = ["norm", "fc_norm", "head_drop", "head"]
        return Borrowed(self.model, names, _beit_head, methods=("forward_head",))

    def prefix_tokens(self) -> int:
        return int(getattr(self.model, "num_prefix_tokens", 1))
