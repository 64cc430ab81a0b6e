"""Anchor adapters for staged models: CNNs and hierarchical transformers.

A staged model is a stem, then stages of blocks (each stage may open with a downsampling
module), then a head. Its adapter cuts it into the same three kinds of pieces as a ViT's, so the
rest of stitchnas needs nothing new:

* **blocks** are the finest units whose boundaries carry a well-defined feature map: each
  ResNet BasicBlock/Bottleneck, ConvNeXt block, RegNet block, EfficientNet/MobileNet block,
  Swin block and LeViT block (attention + MLP residuals). A stage's own downsampling module
  (Swin's patch merging, ConvNeXt's and LeViT's downsample) is fused with the stage's first
  block, so a stage's first block changes the resolution and every block boundary lies inside
  a stage, after one of its blocks (or right after the stem).
* **layout** is the features' memory layout between blocks: ``nchw`` for CNNs, ``nhwc`` for
  Swin (timm's stages run channels-last), ``tokens`` for LeViT (with its token grid), so
  :class:`~stitchnas.anchors.FeatureSpec` knows the spatial resolution at every boundary.

Stitching is legal between boundaries of equal spatial resolution (see
:func:`stitchnas.anchors.stitch_problem`); the stitching layer converts between layouts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._base import AnchorAdapter, _Borrowed, register_adapter

__all__ = ["ConvNeXtAdapter", "EfficientNetAdapter", "LevitAdapter", "MobileNetV3Adapter", "RegNetAdapter",
           "ResNetAdapter", "StagedAdapter", "SwinAdapter"]


class StagedAdapter(AnchorAdapter):
    """Base of staged adapters: subclasses name the stem's and head's modules and list the stages.

    ``stem_names``/``head_names``: the model attributes the stem and head use (shared, not
    copied); ``stem_fn``/``head_fn``: how they run (timm's own code where possible);
    :meth:`stages`: ``(downsample or None, [blocks])`` per stage.
    """

    layout = "nchw"
    stem_names: tuple[str, ...] = ()
    head_names: tuple[str, ...] = ()
    methods: tuple[str, ...] = ("forward_head",)
    stem_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    head_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor]

    model_class: str = ""  # "module:Class" of the timm model family

    @classmethod
    def handles(cls, model: nn.Module) -> bool:
        import importlib

        module, name = cls.model_class.split(":")
        try:
            klass = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):  # pragma: no cover - older timm
            return False
        return isinstance(model, klass)

    def stages(self) -> list[tuple[nn.Module | None, list[nn.Module]]]:
        raise NotImplementedError

    def stem(self) -> nn.Module:
        return _Borrowed(self.model, list(self.stem_names), type(self).stem_fn, methods=self.methods)

    def blocks(self) -> list[nn.Module]:
        out: list[nn.Module] = []
        self.stage_depths: list[int] = []
        for down, blocks in self.stages():
            blocks = list(blocks)
            if not blocks:
                continue
            if down is not None and not isinstance(down, nn.Identity):
                blocks[0] = nn.Sequential(down, blocks[0])
            out += blocks
            self.stage_depths.append(len(blocks))
        return out

    def head(self) -> nn.Module:
        return _Borrowed(self.model, list(self.head_names), type(self).head_fn, methods=self.methods)


def _head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(x)


# ---- CNNs ----------------------------------------------------------------------------------
def _resnet_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.maxpool(self.act1(self.bn1(self.conv1(x))))


@register_adapter
class ResNetAdapter(StagedAdapter):
    """timm ResNet / ResNeXt / SE-ResNet (``layer1..layerN``): one block per BasicBlock/Bottleneck."""

    model_class = "timm.models.resnet:ResNet"
    stem_names = ("conv1", "bn1", "act1", "maxpool")
    head_names = ("global_pool", "fc")
    stem_fn = _resnet_stem
    head_fn = _head

    def stages(self):
        out, i = [], 1
        while isinstance(getattr(self.model, f"layer{i}", None), nn.Module):
            out.append((None, list(getattr(self.model, f"layer{i}"))))
            i += 1
        return out


def _convnext_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.stem(x)


def _convnext_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm_pre(x))


@register_adapter
class ConvNeXtAdapter(StagedAdapter):
    """timm ConvNeXt: stem, stages (downsample + ConvNeXt blocks), norm_pre and head."""

    model_class = "timm.models.convnext:ConvNeXt"
    stem_names = ("stem",)
    head_names = ("norm_pre", "head")
    stem_fn = _convnext_stem
    head_fn = _convnext_head

    def stages(self):
        return [(st.downsample, list(st.blocks)) for st in self.model.stages]


def _regnet_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.final_conv(x))


@register_adapter
class RegNetAdapter(StagedAdapter):
    """timm RegNet (RegNetX/Y/Z-style ``s1..s4`` stages of blocks b1..bN)."""

    model_class = "timm.models.regnet:RegNet"
    stem_names = ("stem",)
    head_names = ("final_conv", "head")
    stem_fn = _convnext_stem
    head_fn = _regnet_head

    def stages(self):
        out, i = [], 1
        while isinstance(getattr(self.model, f"s{i}", None), nn.Module):
            out.append((None, list(getattr(self.model, f"s{i}").children())))
            i += 1
        return out


def _effnet_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.bn1(self.conv_stem(x))


def _effnet_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.bn2(self.conv_head(x)))


@register_adapter
class EfficientNetAdapter(StagedAdapter):
    """timm EfficientNet / MixNet / MNASNet family (``blocks``: stages of blocks)."""

    model_class = "timm.models.efficientnet:EfficientNet"
    stem_names = ("conv_stem", "bn1")
    head_names = ("conv_head", "bn2", "global_pool", "classifier")
    stem_fn = _effnet_stem
    head_fn = _effnet_head

    def stages(self):
        return [(None, list(stage)) for stage in self.model.blocks]


@register_adapter
class MobileNetV3Adapter(StagedAdapter):
    """timm MobileNetV3 (head: pooling, then conv_head, norm, act, classifier)."""

    model_class = "timm.models.mobilenetv3:MobileNetV3"
    stem_names = ("conv_stem", "bn1")
    head_names = ("global_pool", "conv_head", "norm_head", "act2", "flatten", "classifier")
    stem_fn = _effnet_stem
    head_fn = _head

    def stages(self):
        return [(None, list(stage)) for stage in self.model.blocks]


# ---- hierarchical transformers --------------------------------------------------------------
def _swin_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.patch_embed(x)


def _swin_head(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(self.norm(x))


@register_adapter
class SwinAdapter(StagedAdapter):
    """timm Swin Transformer (v1): NHWC features; a stage's patch merging joins its first block."""

    layout = "nhwc"
    model_class = "timm.models.swin_transformer:SwinTransformer"
    stem_names = ("patch_embed",)
    head_names = ("norm", "head")
    stem_fn = _swin_stem
    head_fn = _swin_head

    def stages(self):
        return [(st.downsample, list(st.blocks)) for st in self.model.layers]

    def default_input_size(self) -> tuple[int, int, int]:
        pe = self.model.patch_embed
        return (pe.proj.in_channels, *pe.img_size)


def _levit_stem(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = self.stem(x)
    return x if self.use_conv else x.flatten(2).transpose(1, 2)


@register_adapter
class LevitAdapter(StagedAdapter):
    """timm LeViT (distilled too): a block is one LevitBlock (attention + MLP residuals), as in
    SN-Net's LeViT stitching; a stage's attention-downsample joins its first block. Features are
    tokens on a known grid (``use_conv`` models: NCHW)."""

    layout = "tokens"
    model_class = "timm.models.levit:Levit"
    stem_names = ("stem",)
    head_names = ("head", "head_dist")
    stem_fn = _levit_stem
    head_fn = _head

    def __init__(self, model: nn.Module) -> None:
        self.layout = "nchw" if getattr(model, "use_conv", False) else "tokens"
        super().__init__(model)

    def stages(self):
        return [(st.downsample, list(st.blocks)) for st in self.model.stages]

    def token_grid(self, boundary: int) -> tuple[int, int] | None:
        def resolution(block: nn.Module, entering: bool):
            if isinstance(block, nn.Sequential):  # downsample + first block of a stage
                block = block[0].attn_downsample if entering else block[1]
                return getattr(block, "resolution", None) if entering else block.attn.resolution
            return block.attn.resolution

        try:
            if boundary < self.depth:
                return tuple(resolution(self.block_modules[boundary], entering=True))
            return tuple(resolution(self.block_modules[-1], entering=False))
        except AttributeError:  # pragma: no cover - another timm layout
            return None
