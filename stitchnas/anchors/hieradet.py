"""timm's HieraDet family (SAM 2's image encoder, as a classifier) as anchors (NHWC between blocks).

Unlike Hiera, HieraDet runs its blocks on NHWC maps, windowing inside each block, so it cuts
like a plain staged model: the patch and position embeddings are the stem, the blocks group into
stages at timm's ``stage_ends`` (a stage's query pooling is inside its first block), and the head
takes the last map.
"""

from __future__ import annotations

import torch
from torch import nn

from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["HieraDetAdapter"]


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self._pos_embed(self.patch_embed(x))


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(x)


@register_adapter
class HieraDetAdapter(StagedAdapter):
    """timm HieraDet: stages end at timm's ``stage_ends``."""

    model_class = "timm.models.hieradet_sam2:HieraDet"
    layout = "nhwc"

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["patch_embed", "pos_embed", "pos_embed_window"], _stem,
                        methods=("_pos_embed",))

    def stages(self):
        blocks, out, start = list(self.model.blocks), [], 0
        for end in self.model.stage_ends:
            out.append((None, blocks[start:end + 1]))
            start = end + 1
        return out

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["head"], _head, methods=("forward_head",))
