"""Staged timm families that are stem -> stages (downsample, blocks) -> final norm -> head.

Many timm families share one shape: ``forward_features`` runs a stem, then stages that each run
an optional ``downsample`` and a sequence of ``blocks`` (or are a plain ``nn.Sequential`` of
blocks, or one block), then optionally a final norm or convolution; ``forward_head`` does the
rest. For them an adapter is one row of :data:`STAGED_FAMILIES`: the model class, the stem's
and final modules' attribute names, the stages' attribute(s) and the layout between blocks. The
head is every other top-level module, so the pieces partition the parameters by construction;
each row is tested to reproduce timm (tests/anchors/test_staged.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import StitchnasError
from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["STAGED_FAMILIES", "StagedFamily"]


@dataclass(frozen=True)
class StagedFamily:
    """One staged timm family: ``adapter`` is the registered class name."""

    adapter: str
    model_class: str  # "module:Class"
    stem: tuple[str, ...] = ("stem",)  # model attributes run in order before the first stage
    stages: str | tuple[str, ...] = "stages"  # one attribute holding the stages, or one per stage
    final: tuple[str, ...] = ()  # model attributes run after the last stage, before forward_head
    layout: str = "nchw"
    downsample: tuple[str, ...] = ("downsample",)  # stage attributes run in order before its blocks
    channels_last: tuple[str, ...] = ()  # stage classes whose blocks run NHWC between NCHW ends
    whole_stages: bool = False  # each stage is one block (its blocks are not a chain: CSP stages)
    downsample_channels_last: bool = False  # in channels_last stages, the downsample runs NHWC too

    @property
    def stage_attributes(self) -> tuple[str, ...]:
        """The model attributes the stages live in (one holding them all, or one per stage)."""
        return (self.stages,) if isinstance(self.stages, str) else self.stages


STAGED_FAMILIES: tuple[StagedFamily, ...] = (
    StagedFamily("SwinV2Adapter", "timm.models.swin_transformer_v2:SwinTransformerV2",
                 stem=("patch_embed",), stages="layers", final=("norm",), layout="nhwc"),
    StagedFamily("MambaOutAdapter", "timm.models.mambaout:MambaOut", layout="nhwc"),
    StagedFamily("EdgeNeXtAdapter", "timm.models.edgenext:EdgeNeXt", final=("norm_pre",)),
    StagedFamily("InceptionNeXtAdapter", "timm.models.inception_next:MetaNeXt"),
    StagedFamily("StarNetAdapter", "timm.models.starnet:StarNet", final=("norm",)),
    StagedFamily("FasterNetAdapter", "timm.models.fasternet:FasterNet", stem=("patch_embed",)),
    StagedFamily("RepVitAdapter", "timm.models.repvit:RepVit"),
    StagedFamily("DaVitAdapter", "timm.models.davit:DaVit", final=("norm_pre",)),
    StagedFamily("ResNetV2Adapter", "timm.models.resnetv2:ResNetV2", final=("norm",)),
    StagedFamily("FocalNetAdapter", "timm.models.focalnet:FocalNet", stages="layers", final=("norm",)),
    StagedFamily("NextViTAdapter", "timm.models.nextvit:NextViT", final=("norm",)),
    StagedFamily("HGNetAdapter", "timm.models.hgnet:HighPerfGpuNet"),
    StagedFamily("EfficientVitAdapter", "timm.models.efficientvit_mit:EfficientVit"),
    StagedFamily("MaxxVitAdapter", "timm.models.maxxvit:MaxxVit", final=("norm",)),
    StagedFamily("NormFreeNetAdapter", "timm.models.nfnet:NormFreeNet", final=("final_conv", "final_act")),
    StagedFamily("EfficientFormerV2Adapter", "timm.models.efficientformer_v2:EfficientFormerV2", final=("norm",)),
    StagedFamily("SwiftFormerAdapter", "timm.models.swiftformer:SwiftFormer", final=("norm",)),
    StagedFamily("SHViTAdapter", "timm.models.shvit:SHViT", stem=("patch_embed",)),
    StagedFamily("Sequencer2dAdapter", "timm.models.sequencer:Sequencer2d", final=("norm",), layout="nhwc"),
    StagedFamily("CPUBoneAdapter", "timm.models.cpubone:CPUBone"),
    StagedFamily("EfficientVitMsraAdapter", "timm.models.efficientvit_msra:EfficientVitMsra", stem=("patch_embed",)),
    StagedFamily("LowFormerAdapter", "timm.models.lowformer:LowFormer"),
    StagedFamily("IFormerAdapter", "timm.models.iformer:IFormer"),
    StagedFamily("CspNextAdapter", "timm.models.cspnext:CspNext"),
    StagedFamily("CSATv2Adapter", "timm.models.csatv2:CSATv2", stem=("stem_dct",)),
    StagedFamily("LCNetV2Adapter", "timm.models.lcnetv2:LCNetV2"),
    StagedFamily("GhostNetAdapter", "timm.models.ghostnet:GhostNet", stem=("conv_stem", "bn1", "act1"), stages="blocks"),
    StagedFamily("RepGhostNetAdapter", "timm.models.repghost:RepGhostNet", stem=("conv_stem", "bn1", "act1"),
                 stages="blocks"),
    StagedFamily("VovNetAdapter", "timm.models.vovnet:VovNet", downsample=("pool",)),
    StagedFamily("ByobNetAdapter", "timm.models.byobnet:ByobNet", final=("final_conv",)),
    StagedFamily("FastVitAdapter", "timm.models.fastvit:FastVit", final=("final_conv",),
                 downsample=("downsample", "pos_emb")),
    StagedFamily("TinyVitAdapter", "timm.models.tiny_vit:TinyVit", stem=("patch_embed",),
                 channels_last=("TinyVitStage",)),
    StagedFamily("SwinV2CrAdapter", "timm.models.swin_transformer_v2_cr:SwinTransformerV2Cr",
                 stem=("patch_embed",), channels_last=("SwinTransformerV2CrStage",),
                 downsample_channels_last=True),
    StagedFamily("SENetAdapter", "timm.models.senet:SENet", stem=("layer0", "pool0"),
                 stages=("layer1", "layer2", "layer3", "layer4")),
    StagedFamily("InceptionResnetV2Adapter", "timm.models.inception_resnet_v2:InceptionResnetV2",
                 stem=("conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b", "conv2d_4a", "maxpool_5a"),
                 stages=("mixed_5b", "repeat", "mixed_6a", "repeat_1", "mixed_7a", "repeat_2", "block8"),
                 final=("conv2d_7b",)),
    StagedFamily("InceptionV3Adapter", "timm.models.inception_v3:InceptionV3",
                 stem=("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Pool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                       "Pool2"),
                 stages=("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                         "Mixed_7a", "Mixed_7b", "Mixed_7c")),
    StagedFamily("InceptionV4Adapter", "timm.models.inception_v4:InceptionV4", stem=(), stages="features"),
    StagedFamily("TResNetAdapter", "timm.models.tresnet:TResNet", stem=(), stages="body"),
    StagedFamily("XceptionAdapter", "timm.models.xception:Xception",
                 stem=("conv1", "bn1", "act1", "conv2", "bn2", "act2"),
                 stages=tuple(f"block{i}" for i in range(1, 13)),
                 final=("conv3", "bn3", "act3", "conv4", "bn4", "act4")),
    StagedFamily("DLAAdapter", "timm.models.dla:DLA", stem=("base_layer",),
                 stages=tuple(f"level{i}" for i in range(6)), whole_stages=True),
    StagedFamily("ConvMixerAdapter", "timm.models.convmixer:ConvMixer", stages="blocks", whole_stages=True),
    StagedFamily("RexNetAdapter", "timm.models.rexnet:RexNet", stages="features"),
    StagedFamily("CspNetAdapter", "timm.models.cspnet:CspNet", whole_stages=True),
    StagedFamily("RDNetAdapter", "timm.models.rdnet:RDNet", stages="dense_stages", final=("norm_pre",)),
    StagedFamily("GlobalContextVitAdapter", "timm.models.gcvit:GlobalContextVit", whole_stages=True),
    StagedFamily("XceptionAlignedAdapter", "timm.models.xception_aligned:XceptionAligned", stages="blocks",
                 final=("act",)),
)


def _run(names: tuple[str, ...]):
    def fn(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
        for name in names:
            x = getattr(self, name)(x)
        return x

    return fn


def _head(final: tuple[str, ...]):
    run = _run(final)

    def fn(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(run(self, x))

    return fn


class ChannelsLastBlock(nn.Module):
    """A block that runs channels-last inside an NCHW stage (TinyViT's): NCHW in and out, as at
    every other boundary, so stitching sees one layout."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _FamilyAdapter(StagedAdapter):
    family: StagedFamily

    def stem(self) -> nn.Module:
        return Borrowed(self.model, list(self.family.stem), _run(self.family.stem))

    def stages(self):
        out = []
        named = self.family.stages
        stages = getattr(self.model, named) if isinstance(named, str) else [getattr(self.model, a) for a in named]
        for i, st in enumerate(stages):
            if self.family.whole_stages:
                out.append((None, [st]))
            elif hasattr(st, "blocks"):
                unknown = set(st._modules) - {*self.family.downsample, "blocks"}
                if unknown:
                    raise StitchnasError(
                        f"{type(self.model).__name__} stage {i} ({type(st).__name__}) has modules "
                        f"{sorted(unknown)} besides its downsample and blocks, which {type(self).__name__} "
                        "cannot cut; register an AnchorAdapter for this variant")
                blocks = list(st.blocks)
                pre = [getattr(st, n) for n in self.family.downsample
                       if not isinstance(getattr(st, n, None), (nn.Identity, type(None)))]
                if type(st).__name__ in self.family.channels_last:
                    if pre and self.family.downsample_channels_last:
                        blocks[0], pre = nn.Sequential(*pre, blocks[0]), []
                    blocks = [ChannelsLastBlock(b) for b in blocks]
                out.append((pre[0] if len(pre) == 1 else nn.Sequential(*pre) if pre else None, blocks))
            elif isinstance(st, (nn.Sequential, nn.ModuleList)):
                out.append((None, list(st)))
            else:  # a stage that is one block (Xception's modules)
                out.append((None, [st]))
        return out

    def default_input_size(self) -> tuple[int, int, int]:
        if not self.family.stem:  # the stem's layers are blocks (Inception-v4): timm's data config
            return super().default_input_size()
        return self.patch_input_size(getattr(self.model, self.family.stem[0]))

    def head(self) -> nn.Module:
        taken = {*self.family.stem, *self.family.stage_attributes}
        names = [n for n in self.model._modules if n not in taken]
        return Borrowed(self.model, names, _head(self.family.final), methods=("forward_head",))


def _register(family: StagedFamily) -> type[StagedAdapter]:
    doc = (f"timm {family.model_class.split(':')[1]}: {family.layout} between blocks; a stage's "
           "downsample joins its first block (a row of stitchnas.anchors.staged_families.STAGED_FAMILIES).")
    cls = type(family.adapter, (_FamilyAdapter,), {
        "__doc__": doc, "__module__": __name__, "family": family, "model_class": family.model_class,
        "layout": family.layout})
    return register_adapter(cls)


for _family in STAGED_FAMILIES:
    globals()[_family.adapter] = _register(_family)
