"""timm's VOLO family as anchors (NHWC between blocks).

VOLO runs outlooker then transformer stages on NHWC maps, adding its position embedding before
the third entry of its network; the class-attention blocks that follow start from a class
token, so (as CaiT's) they belong to the head and every block boundary is a plain map.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import StitchnasError
from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["VoloAdapter"]

_POS_AT = 2  # timm adds the position embedding before network[2]


def _stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.patch_embed(x).permute(0, 2, 3, 1)


def _entry(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    """A stage's entry: its downsample (if any), then the position embedding where timm adds it."""
    if self.downsample is not None:
        x = self.downsample(x)
    if self.with_pos and self.pos_embed is not None:
        x = self.pos_drop(x + self.pos_embed)
    return x


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    x = x.reshape(x.shape[0], -1, x.shape[-1])
    if self.post_network is not None:
        x = self.forward_cls(x)
    return self.forward_head(self.norm(x))


@register_adapter
class VoloAdapter(StagedAdapter):
    """timm VOLO: a downsample joins the next stage's first block, as does the position
    embedding; the class-attention blocks, the auxiliary head and the norm join the head."""

    model_class = "timm.models.volo:VOLO"
    layout = "nhwc"

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["patch_embed"], _stem)

    def stages(self):
        from timm.models.volo import Downsample

        out, pending = [], None
        for idx, entry in enumerate(self.model.network):
            if isinstance(entry, Downsample):
                if idx == _POS_AT or pending is not None:
                    raise StitchnasError("this VOLO variant's network does not alternate stages and downsamples "
                                         "as timm's configurations do; register an AnchorAdapter for it")
                pending = entry
                continue
            pre = None
            if pending is not None or idx == _POS_AT:
                pre = Borrowed(self.model, ["pos_embed", "pos_drop"] if idx == _POS_AT else [], _entry)
                if pending is not None:
                    pre.downsample = pending
                else:
                    object.__setattr__(pre, "downsample", None)
                object.__setattr__(pre, "with_pos", idx == _POS_AT)
            out.append((pre, list(entry)))
            pending = None
        return out

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["post_network", "cls_token", "aux_head", "norm", "head_drop", "head"], _head,
                        methods=("forward_cls", "forward_head"))
