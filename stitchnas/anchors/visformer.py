"""timm's Visformer family as anchors (NCHW between blocks)."""

from __future__ import annotations

import torch
from torch import nn

from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["VisformerAdapter"]


def _embed(i: int):
    """Stage ``i``'s entry, as timm runs it: patch embedding, then position embedding (dropped out)."""
    embed, pos = f"patch_embed{i}", f"pos_embed{i}"

    def fn(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
        if i == 1 and self.stem is not None:
            x = self.stem(x)
        x = getattr(self, embed)(x)
        if getattr(self, pos, None) is not None:
            x = self.pos_drop(x + getattr(self, pos))
        return x

    return fn


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


@register_adapter
class VisformerAdapter(StagedAdapter):
    """timm Visformer: the stem, the first patch embedding and its position embedding are the
    stem; a later stage's patch embedding and position embedding join its first block."""

    model_class = "timm.models.visformer:Visformer"

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["stem", "patch_embed1", "pos_embed1", "pos_drop"], _embed(1))

    def stages(self):
        out = [(None, list(self.model.stage1))]
        for i in (2, 3):
            blocks = list(getattr(self.model, f"stage{i}"))
            if getattr(self.model, f"patch_embed{i}") is None:
                out.append((None, blocks))
                continue
            names = [f"patch_embed{i}", f"pos_embed{i}", "pos_drop"]
            out.append((Borrowed(self.model, names, _embed(i)), blocks))
        return out

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["norm", "global_pool", "head_drop", "head"], _head, methods=("forward_head",))

    def default_input_size(self) -> tuple[int, int, int]:
        first = self.model.stem[0] if self.model.stem is not None else self.model.patch_embed1.proj
        return (first.in_channels, *self.model.img_size)
