"""CNNs and hierarchical models: staged adapters, layout-converting stitching layers, stage rules."""

import pytest
import timm
import torch
from support import write_space

from stitchnas.anchors import (AnchorSpec, FeatureSpec, adapter_for, create_anchor_model, stitch_problem)
from stitchnas.measure import DataSpec, load_datasets, make_loader
from stitchnas.errors import StitchnasError
from stitchnas.measure import measure
from stitchnas.network import RouteModule, StitchedNetwork, reconstruction_error
from stitchnas.costs import Profiler, count_flops, count_params
from stitchnas.space import boundary_stages, get_rule
from stitchnas.space import load_space
from stitchnas.network import StitchingLayer, flatten_positions, least_squares_fit
from stitchnas.measure import StitchTrainConfig, train_stitched

R18 = ("{{name: {name}, model: resnet18, kwargs: {{in_chans: 1, num_classes: 10, channels: {ch}, "
       "stem_type: deep, stem_width: 8}}}}")
R50 = ("{{name: {name}, model: resnet50, kwargs: {{in_chans: 1, num_classes: 10, channels: {ch}, "
       "stem_type: deep, stem_width: 8}}}}")
SWIN = ("{name: swin, model: swin_tiny_patch4_window7_224, kwargs: {img_size: 32, window_size: 4, "
        "embed_dim: 16, depths: [2, 2], num_heads: [1, 2], in_chans: 1, num_classes: 10}}")
LEVIT = ("{name: levit, model: levit_128s, kwargs: {img_size: 64, embed_dim: [16, 24, 32], key_dim: 8, "
         "num_heads: [2, 3, 4], depth: [2, 2, 2], in_chans: 1, num_classes: 10}}")


def cnn_space(tmp_path, rule="{type: two_way, pairs: nearest, max_stitches: 1}"):
    """Two tiny ResNets on 1x32x32: a ResNet-18 (BasicBlocks, 8 blocks) and a ResNet-50
    (Bottlenecks, 16 blocks); feature maps 8x8, 4x4, 2x2, 1x1."""
    text = (f"name: tiny_cnn\ninput_size: [1, 32, 32]\nanchors:\n"
            f"  - {R18.format(name='r18', ch=[4, 8, 16, 32])}\n"
            f"  - {R50.format(name='r50', ch=[4, 8, 16, 32])}\n"
            f"rule: {rule}\n")
    return load_space(write_space(tmp_path, text, "tiny_cnn.yaml"))


def cnn_swin_space(tmp_path, rule="{type: two_way, pairs: nearest, max_stitches: 2}"):
    """A tiny ResNet-18 feeding a two-stage Swin (8x8 NHWC, 4x4 NHWC) and back."""
    text = (f"name: tiny_cnn_swin\ninput_size: [1, 32, 32]\nanchors:\n"
            f"  - {R18.format(name='r18', ch=[8, 16, 32, 64])}\n  - {SWIN}\nrule: {rule}\n")
    return load_space(write_space(tmp_path, text, "tiny_cnn_swin.yaml"))


def timm_families_space(tmp_path):
    """Four more timm families on 1x32x32: EVA-02 (rotary tokens with a class token) feeding
    another EVA-02, and a PVTv2 (NHWC), a PoolFormer (NCHW) and an MLP-Mixer (tokens, no class
    token) stitched across families at equal resolutions."""
    eva = ("{{name: {name}, model: eva02_tiny_patch14_224, kwargs: {{img_size: 32, patch_size: 8, "
           "embed_dim: {dim}, depth: 2, num_heads: 2, in_chans: 1, num_classes: 10}}}}")
    pvt = ("{name: pvt, model: pvt_v2_b0, kwargs: {embed_dims: [8, 16, 24, 32], depths: [1, 2, 1, 1], "
           "num_heads: [1, 1, 1, 1], in_chans: 1, num_classes: 10}}")
    text = ("name: timm_families\ninput_size: [1, 32, 32]\nanchors:\n"
            f"  - {eva.format(name='eva_a', dim=16)}\n  - {eva.format(name='eva_b', dim=32)}\n"
            f"  - {pvt}\n"
            "  - {name: pool, model: poolformer_s12, kwargs: {in_chans: 1, num_classes: 10}}\n"
            "  - {name: mix, model: mixer_s16_224, kwargs: {img_size: 32, in_chans: 1, num_classes: 10}}\n"
            "rule: {type: two_way, pairs: all, max_stitches: 1}\n")
    return load_space(write_space(tmp_path, text, "timm_families.yaml"))


def more_timm_families_space(tmp_path):
    """Six more timm families on 1x32x32, stitched at equal resolutions: two PiTs (class token
    beside a pooled patch grid, 8x8 then 4x4 and 2x2) and, across families, an MViTv2 (tokens
    pooled from 8x8 to 1x1 inside its blocks), a ConViT (4x4 tokens, a class token after its
    second block), VGG (NCHW, a block per
    convolution), a ViT with relative position in its blocks (4x4 tokens, no class token) and a
    SAM encoder (NHWC 4x4, windowed and global blocks)."""
    pit = ("{{name: {name}, model: pit_ti_224, kwargs: {{img_size: 32, patch_size: 4, stride: 4, "
           "base_dims: [{dim}, {dim}, {dim}], depth: [1, 2, 1], heads: [2, 2, 2], in_chans: 1, num_classes: 10}}}}")
    vgg = "{name: vgg, model: vgg11, kwargs: {mlp_ratio: 0.01, in_chans: 1, num_classes: 10}}"
    relpos = ("{name: relpos, model: vit_relpos_small_patch16_224, kwargs: {img_size: 32, patch_size: 8, "
              "embed_dim: 16, depth: 2, num_heads: 2, in_chans: 1, num_classes: 10}}")
    sam = ("{name: sam, model: samvit_base_patch16, kwargs: {img_size: 32, patch_size: 8, embed_dim: 16, depth: 2, "
           "num_heads: 2, window_size: 2, global_attn_indexes: [1], neck_chans: 8, in_chans: 1, num_classes: 10}}")
    convit = ("{name: convit, model: convit_tiny, kwargs: {img_size: 32, patch_size: 8, embed_dim: 8, depth: 3, "
              "num_heads: 2, local_up_to_layer: 2, in_chans: 1, num_classes: 10}}")
    text = ("name: more_timm_families\ninput_size: [1, 32, 32]\nanchors:\n"
            f"  - {pit.format(name='pit_a', dim=4)}\n  - {pit.format(name='pit_b', dim=8)}\n"
            f"  - {vgg}\n  - {relpos}\n  - {sam}\n  - {convit}\n"
            "  - {name: mvit, model: mvitv2_tiny, kwargs: {img_size: [32, 32], in_chans: 1, num_classes: 10}}\n"
            "rule: {type: two_way, pairs: all, max_stitches: 1}\n")
    return load_space(write_space(tmp_path, text, "more_timm_families.yaml"))


def nest_hiera_cnn_space(tmp_path):
    """A tiny ResNet-18, a NesT (its tokens blocked inside each level) and a Hiera (its tokens
    unrolled) on 1x64x64: 16x16 .. 2x2 maps, every NesT and Hiera block boundary shown in
    spatial order, so each stitches as a feature map."""
    text = ("name: nest_hiera_cnn\ninput_size: [1, 64, 64]\nanchors:\n"
            f"  - {R18.format(name='r18', ch=[8, 16, 24, 32])}\n"
            "  - {name: nest, model: nest_tiny, kwargs: {img_size: 64, in_chans: 1, num_classes: 10}}\n"
            "  - {name: hiera, model: hiera_tiny_224, kwargs: {img_size: 64, in_chans: 1, num_classes: 10}}\n"
            "rule: {type: two_way, pairs: nearest, max_stitches: 1}\n")
    return load_space(write_space(tmp_path, text, "nest_hiera_cnn.yaml"))


def volo_hieradet_cnn_space(tmp_path):
    """A tiny ResNet-18, a VOLO (NHWC 8x8 and 4x4; class attention in the head) and SAM 2's
    HieraDet (NHWC 16x16 .. 2x2) on 1x64x64."""
    text = ("name: volo_hieradet_cnn\ninput_size: [1, 64, 64]\nanchors:\n"
            f"  - {R18.format(name='r18', ch=[8, 16, 24, 32])}\n"
            "  - {name: volo, model: volo_d1_224, kwargs: {img_size: 64, in_chans: 1, num_classes: 10}}\n"
            "  - {name: hdet, model: hieradet_small, kwargs: {in_chans: 1, num_classes: 10}}\n"
            "rule: {type: two_way, pairs: nearest, max_stitches: 1}\n")
    return load_space(write_space(tmp_path, text, "volo_hieradet_cnn.yaml"))


def efficientformer_cnn_space(tmp_path):
    """A tiny ResNet-18 and an EfficientFormer-L1 (its last stage's token blocks shown as NCHW
    maps) on 1x224x224, where EfficientFormer's attention biases were built."""
    text = ("name: efficientformer_cnn\ninput_size: [1, 224, 224]\nanchors:\n"
            f"  - {R18.format(name='r18', ch=[8, 16, 24, 32])}\n"
            "  - {name: eff, model: efficientformer_l1, kwargs: {in_chans: 1, num_classes: 10}}\n"
            "rule: {type: two_way, pairs: nearest, max_stitches: 1}\n")
    return load_space(write_space(tmp_path, text, "efficientformer_cnn.yaml"))


def naflex_space(tmp_path):
    """Two NaFlexViTs (4x4 patches of 1x32x32 and four register tokens), 16 and 32 wide, on
    whole images."""
    naflex = ("{{name: {name}, model: naflexvit_base_patch16_gap, kwargs: {{patch_size: 8, embed_dim: {dim}, "
              "depth: 3, num_heads: 2, in_chans: 1, num_classes: 10}}}}")
    text = ("name: naflex\ninput_size: [1, 32, 32]\nanchors:\n"
            f"  - {naflex.format(name='a', dim=16)}\n  - {naflex.format(name='b', dim=32)}\n"
            "rule: {type: two_way, pairs: nearest, max_stitches: 2}\n")
    return load_space(write_space(tmp_path, text, "naflex.yaml"))


def list_boundary_space(tmp_path):
    """A tiny ResNet-18, a DPN-68 (residual and dense paths in one map) and a SelecSLS-42B (each
    boundary the block's output with its stage's skip, concatenated) on 1x64x64, every pair
    stitched once."""
    text = ("name: list_boundaries\ninput_size: [1, 64, 64]\nanchors:\n"
            f"  - {R18.format(name='r18', ch=[8, 16, 24, 32])}\n"
            "  - {name: dpn, model: dpn68, kwargs: {in_chans: 1, num_classes: 10}}\n"
            "  - {name: sls, model: selecsls42b, kwargs: {in_chans: 1, num_classes: 10}}\n"
            "rule: {type: two_way, pairs: all, max_stitches: 1}\n")
    return load_space(write_space(tmp_path, text, "list_boundaries.yaml"))


def cnn_levit_space(tmp_path):
    """A tiny ResNet-18 (16x16 .. 2x2 maps) and a tiny LeViT (4x4, 2x2, 1x1 tokens) on 1x64x64."""
    text = (f"name: tiny_cnn_levit\ninput_size: [1, 64, 64]\nanchors:\n"
            f"  - {R18.format(name='r18', ch=[8, 16, 24, 32])}\n  - {LEVIT}\n"
            "rule: {type: two_way, pairs: nearest, max_stitches: 2}\n")
    return load_space(write_space(tmp_path, text, "tiny_cnn_levit.yaml"))


# ---- adapters ---------------------------------------------------------------------------------
def check_adapter(m, input_size: tuple[int, int, int]):
    """The adapter of ``m`` reproduces it (1e-5), its pieces partition the parameters, it knows the
    resolution at every boundary, and its pieces count the same FLOPs as the whole model (timm's
    attention kernels included); returns the adapter and its feature specs."""
    ad = adapter_for(m)
    route = RouteModule(ad.stem_module, [ad.block_modules], [], ad.head_module).eval()
    x = torch.randn(2, *input_size)
    with torch.no_grad():
        assert torch.allclose(route(x), m(x), atol=1e-5)
    ids = [id(p) for piece in [ad.stem_module, *ad.block_modules, ad.head_module] for p in piece.parameters()]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in m.parameters()}
    specs = ad.feature_specs(input_size)
    assert len(specs) == ad.depth + 1 and all(s.resolution is not None for s in specs)
    assert sum(getattr(ad, "stage_depths", [ad.depth])) == ad.depth
    assert count_flops(route, x[:1]) == count_flops(m, x[:1])
    return ad, specs


@pytest.mark.parametrize("model, kwargs, size", [
    ("resnet18", {"channels": [8, 16, 32, 64]}, 32),
    ("resnet50", {"channels": [4, 8, 16, 32], "stem_type": "deep", "stem_width": 8}, 32),
    ("swin_tiny_patch4_window7_224", {"img_size": 32, "window_size": 4, "embed_dim": 16,
                                      "depths": (2, 2), "num_heads": (1, 2)}, 32),
    ("levit_128s", {"img_size": 64, "embed_dim": (16, 24, 32), "key_dim": 8, "num_heads": (2, 3, 4),
                    "depth": (2, 2, 2)}, 64),
    ("convnext_atto", {"dims": (8, 16, 24, 32), "depths": (1, 1, 2, 1)}, 32),
    ("regnetx_002", {}, 32),
    ("efficientnet_b0", {}, 32),
    ("mobilenetv3_small_050", {}, 32),
    ("eva02_tiny_patch14_224", {"img_size": 28, "patch_size": 7, "embed_dim": 32, "depth": 2, "num_heads": 2}, 28),
    ("vit_base_patch16_rope_reg1_gap_256", {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2,
                                            "num_heads": 2}, 32),
    ("cait_xxs24_224", {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2}, 32),
    ("caformer_s18", {}, 32),
    ("poolformer_s12", {}, 32),
    ("mixer_s16_224", {"img_size": 32}, 32),
    ("resmlp_12_224", {"img_size": 32}, 32),
    ("pvt_v2_b0", {"embed_dims": (8, 16, 24, 32), "depths": (1, 2, 1, 1), "num_heads": (1, 1, 1, 1)}, 64),
    ("pvt_v2_b2_li", {"embed_dims": (8, 16, 24, 32), "depths": (1, 2, 1, 1), "num_heads": (1, 1, 1, 1)}, 64),
    ("xcit_nano_12_p16_224", {"img_size": 32}, 32),
    ("beit_base_patch16_224", {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2}, 32),
    ("densenet121", {}, 64),
    ("twins_svt_small", {"depths": (1, 1, 2, 1)}, 64),
    ("vgg11_bn", {"mlp_ratio": 0.01}, 32),
    ("pit_ti_224", {"img_size": 64, "depth": (1, 2, 1)}, 64),
    ("pit_ti_distilled_224", {"img_size": 64, "depth": (1, 1, 1)}, 64),
    ("vit_relpos_small_patch16_224", {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2,
                                      "num_heads": 2}, 32),
    ("vit_relpos_base_patch16_clsgap_224", {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2,
                                            "num_heads": 2}, 32),
    ("convit_tiny", {"img_size": 32, "patch_size": 8, "embed_dim": 16, "depth": 4, "num_heads": 2,
                     "local_up_to_layer": 2}, 32),
    ("visformer_tiny", {"img_size": 64}, 64),
    ("nest_tiny", {"img_size": 32}, 32),
    ("nest_tiny_jx", {"img_size": 64}, 64),
    ("hiera_tiny_224", {"img_size": 64}, 64),
    ("hiera_small_abswin_256", {"img_size": 64}, 64),
    ("hieradet_small", {}, 64),
    ("volo_d1_224", {"img_size": 64}, 64),
    ("efficientformer_l1", {}, 224),
    ("naflexvit_base_patch16_gap", {"patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2}, 32),
    ("naflexvit_base_patch16_map", {"patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2}, 32),
    ("dpn68", {}, 64),
    ("dpn68b", {}, 64),
    ("selecsls42b", {}, 64),
    ("selecsls60", {}, 64),
    ("mvitv2_tiny", {"img_size": (64, 64)}, 64),
    ("mvitv2_small_cls", {"img_size": (64, 64)}, 64),
    ("samvit_base_patch16", {"img_size": 64, "patch_size": 8, "embed_dim": 32, "depth": 4, "num_heads": 2,
                             "window_size": 4, "global_attn_indexes": (1, 3), "neck_chans": 16}, 64),
])
def test_adapters_reproduce_timm_and_partition_parameters(model, kwargs, size):
    torch.manual_seed(0)
    check_adapter(timm.create_model(model, num_classes=10, in_chans=1, **kwargs).eval(), (1, size, size))


STAGED_FAMILY_MODELS = {  # a small instance of every row of staged_families.STAGED_FAMILIES: (model, input size)
    "SwinV2Adapter": ("swinv2_tiny_window8_256", 256), "MambaOutAdapter": ("mambaout_femto", 64),
    "EdgeNeXtAdapter": ("edgenext_xx_small", 64), "InceptionNeXtAdapter": ("inception_next_atto", 64),
    "StarNetAdapter": ("starnet_s1", 64), "FasterNetAdapter": ("fasternet_t0", 64),
    "RepVitAdapter": ("repvit_m0_9", 64), "DaVitAdapter": ("davit_tiny", 64),
    "ResNetV2Adapter": ("resnetv2_18", 64), "FocalNetAdapter": ("focalnet_tiny_srf", 64),
    "NextViTAdapter": ("nextvit_small", 64), "HGNetAdapter": ("hgnet_tiny", 64),
    "EfficientVitAdapter": ("efficientvit_b0", 64), "MaxxVitAdapter": ("coatnet_0_224", 224),
    "NormFreeNetAdapter": ("dm_nfnet_f0", 64), "EfficientFormerV2Adapter": ("efficientformerv2_s0", 224),
    "SwiftFormerAdapter": ("swiftformer_xs", 64), "SHViTAdapter": ("shvit_s1", 64),
    "Sequencer2dAdapter": ("sequencer2d_s", 64), "CPUBoneAdapter": ("cpubone_b0_bfrobust", 64),
    "EfficientVitMsraAdapter": ("efficientvit_m0", 64), "LowFormerAdapter": ("lowformer_b0", 64),
    "IFormerAdapter": ("iformer_t", 64), "CspNextAdapter": ("cspnext_s", 64), "CSATv2Adapter": ("csatv2", 64),
    "LCNetV2Adapter": ("lcnetv2_small", 64), "GhostNetAdapter": ("ghostnet_050", 64),
    "RepGhostNetAdapter": ("repghostnet_050", 64), "XceptionAlignedAdapter": ("xception41", 64),
    "VovNetAdapter": ("ese_vovnet19b_dw", 64), "TinyVitAdapter": ("tiny_vit_5m_224", 224),
    "RexNetAdapter": ("rexnet_100", 64), "CspNetAdapter": ("cs3darknet_s", 64),
    "ByobNetAdapter": ("mobilevit_xxs", 64), "FastVitAdapter": ("fastvit_sa12", 64),
    "SwinV2CrAdapter": ("swinv2_cr_tiny_224", 224), "SENetAdapter": ("legacy_seresnet18", 64),
    "InceptionResnetV2Adapter": ("inception_resnet_v2", 96), "InceptionV3Adapter": ("inception_v3", 96),
    "InceptionV4Adapter": ("inception_v4", 96), "TResNetAdapter": ("tresnet_m", 64),
    "XceptionAdapter": ("legacy_xception", 96), "DLAAdapter": ("dla34", 64),
    "ConvMixerAdapter": ("convmixer_1024_20_ks9_p14", 64), "RDNetAdapter": ("rdnet_tiny", 64),
    "GlobalContextVitAdapter": ("gcvit_xxtiny", 224),
}


def test_every_staged_family_row_has_a_tested_model():
    from stitchnas.anchors.staged_families import STAGED_FAMILIES

    assert {f.adapter for f in STAGED_FAMILIES} == set(STAGED_FAMILY_MODELS)


@pytest.mark.parametrize("adapter", sorted(STAGED_FAMILY_MODELS))
def test_staged_family_rows_reproduce_timm(adapter):
    """Each row of the table: timm's output, a partition of the parameters, feature maps of the
    declared layout at every boundary, and the same FLOPs counted in pieces as whole."""
    model, size = STAGED_FAMILY_MODELS[adapter]
    torch.manual_seed(0)
    ad, specs = check_adapter(timm.create_model(model, num_classes=10).eval(), (3, size, size))
    assert type(ad).__name__ == adapter
    assert specs[-1].resolution[0] <= specs[0].resolution[0] <= size  # ConvMixer: one resolution
    assert len(ad.stage_depths) > 1


def test_a_family_without_adapter_is_refused_in_one_line_naming_where_the_adapters_are_listed(tmp_path):
    text = ("input_size: [3, 32, 32]\nanchors:\n  - {name: r, model: hrnet_w18_small}\n"
            "  - {name: s, model: hrnet_w18_small}\nrule: {type: two_way}\n")
    with pytest.raises(StitchnasError, match=r"anchor 'r' \(hrnet_w18_small\): no anchor adapter for "
                                             r"HighResolutionNet \(timm.models.hrnet\); the \d+ adapters "
                                             r".*stitchnas bench adapters") as info:
        assert load_space(write_space(tmp_path, text)).candidates
    assert "\n" not in str(info.value)


def test_a_stage_with_modules_the_table_does_not_know_is_refused_in_one_line():
    m = timm.create_model("resnetv2_18")
    m.stages[1].extra = torch.nn.Identity()
    with pytest.raises(StitchnasError, match=r"stage 1 \(ResNetStage\) has modules \['extra'\]") as info:
        adapter_for(m)
    assert "\n" not in str(info.value)


def test_feature_specs_know_layout_and_resolution_at_every_boundary():
    r18 = adapter_for(create_anchor_model(AnchorSpec("r", "resnet18"), weights=False, device="meta"))
    specs = r18.feature_specs((3, 224, 224))
    assert [s.resolution[0] for s in specs] == [56, 56, 56, 28, 28, 14, 14, 7, 7]
    assert specs[3] == FeatureSpec("nchw", (128, 28, 28)) and specs[3].channels == 128
    swin = adapter_for(create_anchor_model(AnchorSpec("s", "swin_tiny_patch4_window7_224"), weights=False,
                                           device="meta"))
    specs = swin.feature_specs((3, 224, 224))
    assert swin.stage_depths == [2, 2, 6, 2]  # patch merging joins each stage's first block
    assert [s.resolution[0] for s in specs] == [56, 56, 56, 28, 28] + [14] * 6 + [7, 7]
    assert specs[3] == FeatureSpec("nhwc", (28, 28, 192)) and specs[3].positions == 784
    levit = adapter_for(timm.create_model("levit_192").eval())
    specs = levit.feature_specs((3, 224, 224))
    assert levit.stage_depths == [4, 4, 4]
    assert [s.grid for s in specs] == [(14, 14)] * 5 + [(7, 7)] * 4 + [(4, 4)] * 4
    assert specs[5].is_map and specs[5].shape == (49, 288)
    vit = adapter_for(timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1))
    spec = vit.feature_specs((3, 32, 32))[0]
    assert (spec.grid, spec.prefix, spec.is_map) == ((4, 4), 1, False)


# ---- legal and illegal stitch points ------------------------------------------------------------
def test_stitches_join_only_equal_resolutions(tmp_path):
    for space in (cnn_space(tmp_path), cnn_swin_space(tmp_path), cnn_levit_space(tmp_path)):
        assert len(space) > len(space.anchors)
        for c in space.candidates:
            for j in c.route.junctions:
                src, dst = space.feature_specs[j.src][j.src_end], space.feature_specs[j.dst][j.dst_start]
                assert src.resolution == dst.resolution, (space.name, c.route)
                assert stitch_problem(src, dst) is None


def test_different_resolutions_are_rejected_with_one_line(tmp_path):
    # snnet_v2 cuts by relative depth and ignores stages: ResNet-18 after block 2 (8x8) feeding
    # ResNet-50 at block 6 (4x4) is not a legal stitch
    with pytest.raises(StitchnasError, match=r"spatial resolutions differ \(8x8 vs 4x4\).*do not resample") as info:
        assert cnn_space(tmp_path, rule="{type: snnet_v2}").candidates
    assert "\n" not in str(info.value) and "cannot stitch r18 after block" in str(info.value)
    with pytest.raises(StitchnasError, match="same stages"):
        assert cnn_swin_space(tmp_path, rule="{type: snnet_stages}").candidates
    cls = FeatureSpec("tokens", (17, 16), grid=(4, 4), prefix=1)
    assert "prefix token(s) (class, distillation, register)" in stitch_problem(cls, FeatureSpec("nchw", (8, 4, 4)))
    assert stitch_problem(FeatureSpec("tokens", (16, 8), grid=(4, 4)), FeatureSpec("nhwc", (4, 4, 3))) is None
    distilled, registers = (FeatureSpec("tokens", (18, 32), grid=(4, 4), prefix=2),
                            FeatureSpec("tokens", (21, 64), grid=(4, 4), prefix=5))  # DeiT-distilled, ViT + 4 registers
    assert "the same number of prefix tokens: class, distillation and register" in stitch_problem(distilled, registers)
    vit = ("{model: vit_tiny_patch16_224, kwargs: {img_size: 32, patch_size: 8, in_chans: 1, num_classes: 10, "
           "embed_dim: 16, depth: 2, num_heads: 2}}")
    text = (f"input_size: [1, 32, 32]\nanchors:\n  - {R18.format(name='r', ch=[8, 16, 32, 64])}\n"
            f"  - {vit}\nrule: {{type: two_way}}\n")
    with pytest.raises(StitchnasError, match=r"share no block boundary to stitch at.*1 prefix token\(s\) \(class, distillation, register\)"):
        assert load_space(write_space(tmp_path, text)).candidates  # a 4x4 map, but the ViT has a class token
    with pytest.raises(ValueError, match="grid"):
        StitchingLayer(8, 8, in_layout="tokens", out_layout="nchw")


def test_two_way_maps_stage_to_stage():
    def specs(depths, res, layout="nchw"):
        def spec(r):
            return FeatureSpec(layout, (8, r, r) if layout == "nchw" else (r, r, 8))

        return [spec(res[0])] + [spec(r) for n, r in zip(depths, res) for _ in range(n)]

    r18, swin_t = specs([2, 2, 2, 2], [56, 28, 14, 7]), specs([2, 2, 6, 2], [56, 28, 14, 7], "nhwc")
    assert [(st.start, st.blocks) for st in boundary_stages(swin_t)] == [(0, 2), (2, 2), (4, 6), (10, 2)]
    rule = get_rule({"type": "two_way", "max_stitches": 1})
    routes = {str(c.route) for c in rule.enumerate((8, 12), [r18, swin_t])}
    # ResNet-18 after 1 of its 2 blocks of stage 2 -> Swin-T after 3 of its 6; stage ends map to ends
    assert {"0[0:5]>1[7:12]", "0[0:6]>1[10:12]", "0[0:7]>1[11:12]", "1[0:7]>0[5:8]",
            "1[0:6]>0[5:8]", "1[0:8]>0[5:8]", "1[0:9]>0[6:8]"} <= routes
    for c in rule.enumerate((8, 12), [r18, swin_t]):
        for j in c.route.junctions:
            feats = [r18, swin_t]
            assert feats[j.src][j.src_end].resolution == feats[j.dst][j.dst_start].resolution
    # a plain ViT is one stage: the same routes as the depth-only rule
    vit = [FeatureSpec("tokens", (17, 8), (4, 4), 1)] * 7
    vit2 = [FeatureSpec("tokens", (17, 16), (4, 4), 1)] * 13
    rule = get_rule({"type": "two_way", "window": 3})
    assert rule.enumerate((6, 12), [vit, vit2]) == rule.enumerate((6, 12))


# ---- stitching layers ---------------------------------------------------------------------------
def test_layout_conversion_round_trips():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 4, 5)

    def identity(layer):
        layer.set_weights(torch.eye(6), torch.zeros(6))
        return layer

    to_tokens = identity(StitchingLayer(6, 6, in_layout="nchw", out_layout="tokens"))
    back = identity(StitchingLayer(6, 6, in_layout="tokens", out_layout="nchw", grid=(4, 5)))
    tokens = to_tokens(x)
    assert tokens.shape == (2, 20, 6) and torch.equal(tokens, x.flatten(2).transpose(1, 2))
    assert torch.equal(back(tokens), x)
    to_nhwc = identity(StitchingLayer(6, 6, in_layout="nchw", out_layout="nhwc"))
    from_nhwc = identity(StitchingLayer(6, 6, in_layout="nhwc", out_layout="nchw"))
    assert torch.equal(to_nhwc(x), x.permute(0, 2, 3, 1)) and torch.equal(from_nhwc(to_nhwc(x)), x)
    conv = StitchingLayer(6, 3, in_layout="nchw")
    assert isinstance(conv.linear, torch.nn.Conv2d) and conv(x).shape == (2, 3, 4, 5)
    # rows line up across layouts: least squares fits NCHW features to NHWC/token targets exactly
    w, b = torch.randn(3, 6), torch.randn(3)
    y_nhwc = torch.einsum("bchw,oc->bhwo", x, w) + b
    fit_w, fit_b = least_squares_fit([(flatten_positions(x, "nchw"), flatten_positions(y_nhwc, "nhwc"))])
    layer = StitchingLayer(6, 3, in_layout="nchw", out_layout="nhwc")
    layer.set_weights(fit_w, fit_b)
    assert torch.allclose(layer(x), y_nhwc, atol=1e-4)
    low = StitchingLayer(6, 3, rank=2, in_layout="nchw")
    low.set_weights(w, b)
    with torch.no_grad():
        low.lora_b.weight.fill_(0.1)
    w_eff, b_eff = low.effective_weight()
    assert torch.allclose(low(x), torch.einsum("bchw,oc->bohw", x, w_eff) + b_eff[:, None, None], atol=1e-5)
    assert {n for n, p in low.named_parameters() if p.requires_grad} == {"lora_a.weight", "lora_b.weight"}


def test_least_squares_1x1_beats_random_initialisation(tmp_path):
    # random-weight anchors: a tiny Swin's random features are nearly unrelated to a ResNet's, so
    # across families least squares only has to win; between the two ResNets it wins clearly
    for space, factor in ((cnn_space(tmp_path), 0.9), (cnn_swin_space(tmp_path), 1.0)):
        torch.manual_seed(0)
        net = StitchedNetwork(space, space.create_models(weights=False)).eval()
        images = torch.randn(16, 1, 32, 32)
        feats = net.boundary_features(images)
        ls_err = net.init_least_squares(images)
        assert set(ls_err) == set(space.layer_shapes)
        for key, junctions in space.layer_junctions.items():
            layer = space.layer_shapes[key].build()
            rand = sum(reconstruction_error(layer, feats[j.src][j.src_end], feats[j.dst][j.dst_start])
                       for j in junctions) / len(junctions)
            assert ls_err[key] < factor * rand, (space.name, key)


def test_switching_and_standalone_routes_agree_across_layouts(tmp_path):
    space = cnn_swin_space(tmp_path)
    torch.manual_seed(0)
    net = StitchedNetwork(space, space.create_models(weights=False)).eval()
    assert {(s.layout, s.out_layout) for s in space.layer_shapes.values()} == {("nchw", "nhwc"), ("nhwc", "nchw")}
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        for c in space.candidates:
            net.reset_stitch_id(c.id)
            y = net(x)
            assert y.shape == (2, 10) and torch.equal(y, net.route_module(c.id)(x))


# ---- profiling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [cnn_space, cnn_swin_space, cnn_levit_space, timm_families_space,
                                  more_timm_families_space, nest_hiera_cnn_space,
                                  list_boundary_space, volo_hieradet_cnn_space, efficientformer_cnn_space,
                                  naflex_space])
def test_composed_flops_equal_whole_traces_for_every_candidate(tmp_path, make):
    space = make(tmp_path)
    costs = Profiler(space).profile()
    net = StitchedNetwork(space, space.create_models(weights=False, device="uninitialized"))
    x = torch.zeros(1, *space.input_size)
    for c in costs:
        m = net.route_module(c.id)
        assert (c.flops, c.params) == (count_flops(m, x), count_params(m)), c.route


@pytest.mark.parametrize("model, flops, params", [
    ("resnet18", 1_819_065_856, 11_689_512),
    ("resnet50", 4_111_512_576, 25_557_032),
    ("swin_tiny_patch4_window7_224", 4_509_194_496, 28_288_354),
    ("levit_192", 661_663_808, 10_947_069),  # both heads (class and distillation), averaged
    ("pit_ti_224", 702_020_096, 4_847_272),  # PiT paper: 0.7 GFLOPs, 4.9M
    ("mvitv2_tiny", 4_704_241_152, 24_173_320),  # MViTv2 paper: 4.7 GFLOPs, 24M (plain fvcore: ...136,
    #                                              its relative-position einsums rounded by numpy)
    ("vgg11", 7_609_094_144, 132_863_336),  # 7.6 GFLOPs, 132.9M
    ("nest_tiny", 5_827_172_352, 17_057_608),  # NesT paper: NesT-T 5.8 GFLOPs, 17M
    ("hiera_tiny_224", 4_914_193_920, 27_910_216),  # Hiera paper: Hiera-T 5 GFLOPs, 28M
    ("dpn92", 6_543_386_752, 37_668_392),  # DPN paper: DPN-92 6.5 GFLOPs, 37.7M
    ("efficientformer_l1", 1_302_113_344, 12_289_928),  # EfficientFormer paper: L1 1.3 GMACs, 12.3M
])
def test_published_anchor_flops(model, flops, params):
    m = create_anchor_model(AnchorSpec("a", model), weights=False, device="uninitialized")
    assert count_flops(m, torch.zeros(1, 3, 224, 224)) == flops
    assert count_params(m) == params


def test_fused_window_attention_is_counted_like_unfused():
    """timm runs Swin's window attention unfused by default; fused, plain fvcore would miss it."""
    from fvcore.nn import FlopCountAnalysis

    m = timm.create_model("swin_tiny_patch4_window7_224", img_size=32, window_size=4, embed_dim=16,
                          depths=(2, 2), num_heads=(1, 2)).eval()
    x = torch.zeros(1, 3, 32, 32)
    counts = []
    for fused in (False, True):
        for mod in m.modules():
            if hasattr(mod, "fused_attn"):
                mod.fused_attn = fused
        counts.append(count_flops(m, x))
    assert counts[0] == counts[1]
    blind = int(FlopCountAnalysis(m, x).unsupported_ops_warnings(False).total())
    assert blind < counts[1]


SNNET_PUBLISHED = {  # SN-Net's stitches_res files (flops by cfg_id): its ResNet/Swin, Swin and LeViT folders
    "resnet_18_50": [1819065856, 4111512576, 3755463680, 3767505920, 3547935744, 3134686208,
                     2915718144, 2928161792, 2709193728, 2490225664],
    "resnet18_swin_tiny": [1819065856, 4509194496, 4095543552, 3730713856, 3375768832, 3252235520,
                           2897290496, 2542345472],
    "levit_192_256": [661663808, 1133412864, 1020918272, 977741824, 934565376, 812300576, 791247040,
                      770193504],
    "swin_tsb_v1": [4509194496, 8768534784, 15467826176, 8797436160, 15220458496, 8797436160,
                    14619249664, 8797436160, 8442491136, 8442491136, 8087546112, 7732601088,
                    7732601088, 7377656064, 7022711040, 7022711040, 6667766016, 6312820992,
                    6312820992, 5957875968, 5602930944, 5602930944, 5247985920, 4893040896,
                    14026420224, 13753964544, 13481508864, 13209053184, 12936597504, 12664141824,
                    12391686144, 12119230464, 11846774784, 11574319104, 11301863424, 11029407744,
                    10756952064, 10484496384, 10212040704, 9939585024, 9667129344],
}


@pytest.mark.parametrize("name", sorted(SNNET_PUBLISHED))
def test_bundled_snnet_spaces_match_published_flops_and_whole_traces(name):
    space = load_space(name)
    costs = Profiler(space).profile()
    assert [c.flops for c in costs] == SNNET_PUBLISHED[name]
    net = StitchedNetwork(space, space.create_models(weights=False, device="uninitialized"))
    x = torch.zeros(1, 3, 224, 224)
    stitched = costs[len(space.anchors):]
    for c in stitched[::max(1, len(stitched) // 8)]:  # about 8 whole traces: Swin-B's take seconds
        m = net.route_module(c.id)
        assert (c.flops, c.params) == (count_flops(m, x), count_params(m)), c.route


def test_snnet_stages_follows_snnet_order_and_layer_sharing():
    space = load_space("resnet_18_50")
    assert [str(c.route) for c in space.candidates] == [
        "0[0:8]", "1[0:16]", "0[0:3]>1[4:16]", "0[0:4]>1[5:16]", "0[0:4]>1[6:16]", "0[0:5]>1[8:16]",
        "0[0:5]>1[9:16]", "0[0:6]>1[10:16]", "0[0:6]>1[11:16]", "0[0:6]>1[12:16]"]
    # SN-Net's code gives the m-th stitch of a stage pair layer mapping[m] (nearest interpolation)
    assert [c.layer_keys[0] for c in space.candidates[2:]] == [
        "0>1@s1l0", "0>1@s1l0", "0>1@s1l1", "0>1@s2l0", "0>1@s2l0", "0>1@s2l0", "0>1@s2l1", "0>1@s2l1"]
    shape = space.layer_shapes["0>1@s1l0"]
    assert (shape.in_channels, shape.out_channels, shape.layout) == (128, 512, "nchw")
    swin = load_space("resnet18_swin_tiny").layer_shapes["0>1@s2l0"]
    assert (swin.in_channels, swin.out_channels, swin.layout, swin.out_layout) == (256, 384, "nchw", "nhwc")
    levit = load_space("levit_192_256")
    assert [c.layer_keys[0] for c in levit.candidates[2:]] == [
        "0>1@s0l0", "0>1@s0l1", "0>1@s0l2", "0>1@s1l0", "0>1@s1l1", "0>1@s1l2"]


# ---- training and measuring -----------------------------------------------------------------------
def test_cnn_to_swin_trains_and_measures(tmp_path):
    space = cnn_swin_space(tmp_path, rule="{type: two_way, max_stitches: 1}")
    data = DataSpec("digits", input_size=(1, 32, 32))
    cfg = StitchTrainConfig(epochs=1, batch_size=32, calib_size=64, max_steps=3)
    res = train_stitched(space, data, cfg, tmp_path / "st.pt", resume=False, log=lambda m: None)
    assert res.steps == 3 and set(res.ls_errors) == set(space.layer_shapes)
    _, val, _ = load_datasets(data)
    rows = measure(space, res.network, make_loader(val, 128, shuffle=False), [c.id for c in space.candidates],
                   dataset="digits:val", checkpoint=str(tmp_path / "st.pt"))
    costs = {c.id: c for c in Profiler(space).profile()}
    assert [(r.flops, r.params) for r in rows] == [(costs[r.id].flops, costs[r.id].params) for r in rows]


@pytest.mark.parametrize("make", [timm_families_space, more_timm_families_space, nest_hiera_cnn_space,
                                  list_boundary_space, volo_hieradet_cnn_space, efficientformer_cnn_space,
                                  naflex_space])
def test_more_timm_families_train_and_switch_like_standalone_routes(tmp_path, make):
    """EVA-02 (rotary embedding passed to each block piece), PVTv2, PoolFormer and MLP-Mixer;
    PiT, VGG, relative-position ViT and SAM; NesT and Hiera beside a ResNet; DPN and SelecSLS;
    VOLO and HieraDet; EfficientFormer; NaFlexViT: a few real training steps through every
    stitching layer, then every candidate run by switching equals its standalone route."""
    space = make(tmp_path)
    cfg = StitchTrainConfig(epochs=1, batch_size=16, calib_size=32, max_steps=2)
    res = train_stitched(space, DataSpec("digits", input_size=space.input_size), cfg, tmp_path / "st.pt",
                         resume=False, log=lambda m: None)
    assert res.steps == 2 and set(res.ls_errors) == set(space.layer_shapes)
    net = res.network.eval()
    x = torch.randn(2, *space.input_size)
    with torch.no_grad():
        for c in space.candidates:
            net.reset_stitch_id(c.id)
            y = net(x)
            assert y.shape == (2, 10) and torch.isfinite(y).all() and torch.equal(y, net.route_module(c.id)(x))


@pytest.mark.parametrize("kwargs, match", [
    ({"rope_type": "mixed"}, "rope_mixed=True cannot be stitched"),
    ({"dynamic_img_size": True}, "dynamic_img_size=True cannot be stitched"),
    ({"patch_drop_rate": 0.1}, "patch_drop_rate > 0 and a rotary embedding cannot be stitched"),
])
def test_eva_variants_that_cannot_be_cut_are_refused_in_one_line(kwargs, match):
    m = timm.create_model("vit_small_patch16_rope_224", img_size=32, patch_size=8, embed_dim=32, depth=2,
                          num_heads=2, **kwargs)
    with pytest.raises(StitchnasError, match=match) as info:
        adapter_for(m)
    assert "\n" not in str(info.value)


def test_a_naflexvit_with_a_rotary_embedding_is_refused_in_one_line():
    m = timm.create_model("naflexvit_base_patch16_gap", patch_size=8, embed_dim=32, depth=2, num_heads=2,
                          rope_type="axial")
    with pytest.raises(StitchnasError, match="NaFlexViT with a rotary embedding cannot be stitched") as info:
        adapter_for(m)
    assert "\n" not in str(info.value)


def test_a_hiera_that_drops_patches_is_refused_in_one_line():
    m = timm.create_model("hiera_tiny_224", img_size=64, patch_drop_rate=0.25)
    with pytest.raises(StitchnasError, match="patch_drop_rate > 0 .* build the anchor with patch_drop_rate=0") as info:
        adapter_for(m)
    assert "\n" not in str(info.value)


def test_a_vit_with_one_relative_position_for_all_blocks_is_refused_in_one_line():
    m = timm.create_model("vit_srelpos_small_patch16_224", img_size=32, patch_size=8, embed_dim=32, depth=2,
                          num_heads=2)
    with pytest.raises(StitchnasError, match="shared relative position .* cannot be stitched") as info:
        adapter_for(m)
    assert "\n" not in str(info.value)


def test_bundled_fmnist_resnet_space():
    space = load_space("fmnist_resnet")
    assert space.depths == (8, 8, 16) and len(space) == 39
    assert {s.layout for s in space.layer_shapes.values()} == {"nchw"}
    assert space.extra["data"] == {"name": "fashion_mnist"}
    assert all(a.checkpoint.endswith(f"anchors/fmnist_resnet/{a.name}.pt") for a in space.anchors)
