"""timm's VisionTransformer family as anchors: ViT, DeiT (distilled too), DeiT-III."""

from __future__ import annotations

import torch
from torch import nn

from ._base import Borrowed, PatchTokenAdapter, register_adapter

__all__ = ["ViTAdapter"]


def _vit_stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x = self.patch_embed(x)
    x = self._pos_embed(x)
    x = self.patch_drop(x)
    return self.norm_pre(x)


def _vit_head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


@register_adapter
class ViTAdapter(PatchTokenAdapter):
    """timm's VisionTransformer family: ViT, DeiT (distilled too), DeiT-III."""

    model_class = "timm.models.vision_transformer:VisionTransformer"

    def stem(self) -> nn.Module:
        names = ["patch_embed", "cls_token", "reg_token", "pos_embed", "pos_drop", "patch_drop",
                 "norm_pre"]
        if hasattr(self.model, "dist_token"):
            names.append("dist_token")
        return Borrowed(self.model, names, _vit_stem, methods=("_pos_embed",))

    def blocks(self) -> list[nn.Module]:
        return list(self.model.blocks)

    def token_grid(self, boundary: int) -> tuple[int, int] | None:
        if getattr(self.model, "dynamic_img_size", False):
            return None
        return super().token_grid(boundary)

    def prefix_tokens(self) -> int:
        return int(getattr(self.model, "num_prefix_tokens", 0))

    def head(self) -> nn.Module:
        names = ["norm", "attn_pool", "fc_norm", "head_drop", "head", "head_dist"]
        return Borrowed(self.model, names, _vit_head, methods=("forward_head", "pool"))
