"""timm's RegNet family as anchors."""

from __future__ import annotations

import torch
from torch import nn

from ._base import register_adapter
from ._staged import StagedAdapter, forward_stem


__all__ = ["RegNetAdapter"]


def _regnet_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.final_conv(x))


@register_adapter
class RegNetAdapter(StagedAdapter):
    """timm RegNet (RegNetX/Y/Z-style ``s1..s4`` stages of blocks b1..bN)."""

    model_class = "timm.models.regnet:RegNet"
    stem_names = ("stem",)
    head_names = ("final_conv", "head")
    stem_fn = forward_stem
    head_fn = _regnet_head

    def stages(self):
        out, i = [], 1
        while isinstance(getattr(self.model, f"s{i}", None), nn.Module):
            out.append((None, list(getattr(self.model, f"s{i}").children())))
            i += 1
        return out
