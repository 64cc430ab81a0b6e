"""timm's MlpMixer family as anchors: MLP-Mixer, ResMLP, gMLP (tokens on a grid, no class token)."""

from __future__ import annotations

import torch
from torch import nn

from ._base import Borrowed, PatchTokenAdapter, register_adapter

__all__ = ["MlpMixerAdapter"]


def _mixer_stem(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.stem(x)


def _mixer_head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


@register_adapter
class MlpMixerAdapter(PatchTokenAdapter):
    """timm MlpMixer (MLP-Mixer, ResMLP, gMLP): patch tokens on the stem's grid, no prefix
    tokens, so their boundaries stitch to feature maps of the same resolution too."""

    patch_attr = "stem"

    model_class = "timm.models.mlp_mixer:MlpMixer"

    def stem(self) -> nn.Module:
        return Borrowed(self.model, ["stem"], _mixer_stem)

    def blocks(self) -> list[nn.Module]:
        return list(self.model.blocks)

    def head(self) -> nn.Module:
        return Borrowed(self.model, ["norm", "head_drop", "head"], _mixer_head, methods=("forward_head",))
