"""timm's Eva family as anchors: EVA, EVA-02 and the rotary-position ViTs (``vit_*_rope_*``)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import StitchnasError
from ._base import Borrowed, PatchTokenAdapter, register_adapter

__all__ = ["EvaAdapter"]


def _eva_stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x = self.patch_embed(x)
    x, _ = self._pos_embed(x)  # the rotary embedding is the blocks' business (EvaBlock)
    return self.norm_pre(x)


def _eva_head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


class EvaBlock(nn.Module):
    """One Eva block with the model's rotary embedding passed in, as timm's forward does.

    The rotary module holds buffers only (no parameters), so every block may register it: the
    pieces still partition the model's parameters, and moving a piece moves its embedding.
    """

    def __init__(self, block: nn.Module, rope: nn.Module | None, grid: tuple[int, int]) -> None:
        super().__init__()
        self.block = block
        self.rope = rope
        self.grid = grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rope is None:
            return self.block(x)
        rope = self.rope.get_embed() if hasattr(self.rope, "feat_shape") else \
            self.rope.get_embed(shape=self.grid)
        return self.block(x, rope=rope)


@register_adapter
class EvaAdapter(PatchTokenAdapter):
    """timm's Eva: EVA, EVA-02, ``vit_*_rope_*``; tokens with class/register tokens, like ViT's.

    Refused in one line: depth-dependent rotary embeddings (``rope_mixed``: their frequencies are
    parameters every block shares), dynamic image sizes (the grid must be known per boundary)
    and patch dropout with a rotary embedding (the kept patches' embeddings would be lost).
    """

    model_class = "timm.models.eva:Eva"

    def __init__(self, model: nn.Module) -> None:
        kind = type(model).__name__
        if getattr(model, "rope_mixed", False):
            raise StitchnasError(f"{kind} with rope_mixed=True cannot be stitched: its rotary "
                                 "frequencies are parameters shared by every block; use an axial "
                                 "rope model (rope_type 'cat', e.g. vit_base_patch16_rope_224)")
        if getattr(model, "dynamic_img_size", False):
            raise StitchnasError(f"{kind} with dynamic_img_size=True cannot be stitched: the token "
                                 "grid must be fixed; build it with the space's img_size instead")
        if getattr(model, "patch_drop", None) is not None and getattr(model, "rope", None) is not None:
            raise StitchnasError(f"{kind} with patch_drop_rate > 0 and a rotary embedding cannot be "
                                 "stitched: dropped patches would need their embeddings dropped "
                                 "across pieces; build it with patch_drop_rate=0")
        super().__init__(model)

    def stem(self) -> nn.Module:
        names = ["patch_embed", "cls_token", "reg_token", "pos_embed", "pos_drop", "patch_drop",
                 "norm_pre", "rope"]
        return Borrowed(self.model, names, _eva_stem, methods=("_pos_embed",))

    def blocks(self) -> list[nn.Module]:
        grid = tuple(self.model.patch_embed.grid_size)
        return [EvaBlock(blk, self.model.rope, grid) for blk in self.model.blocks]

    def head(self) -> nn.Module:
        names = ["norm", "attn_pool", "fc_norm", "head_drop", "head"]
        return Borrowed(self.model, names, _eva_head, methods=("forward_head", "pool"))

    def prefix_tokens(self) -> int:
        return int(getattr(self.model, "num_prefix_tokens", 0))
