"""The second FLOPs path: torch's FlopCounterMode on the meta device, against fvcore.

The relation (docs/latency.md, "Two FLOPs paths"): ``torch_flops / 2 == fvcore - norms -
adaptive average pools - upsampling``, each by fvcore's own formula; stitchnas's fvcore handle
for fused attention counts what FlopCounterMode counts for attention's two matmuls on meta.
"""

from pathlib import Path

import pytest
import timm
import torch

from stitchnas.costs import MetaFlops, Profiler, count_flops, count_flops_meta
from stitchnas.errors import StitchnasError
from stitchnas.space import load_space

SPACES = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "search_spaces").glob("*.yaml"))


def test_every_bundled_space_is_covered():
    assert len(SPACES) >= 12 and "tiny_test" in SPACES and "resnet18_swin_tiny" in SPACES


@pytest.mark.parametrize("name", SPACES)
def test_meta_path_equals_fvcore_on_every_piece_of_every_bundled_space(name):
    """Every stem, block, head (anchors built on the meta device: no weights) and stitching
    layer counts the same by both paths, so every candidate's cost does too."""
    space = load_space(name)
    meta = Profiler(space, use_cache=False, progress=False, method="meta")
    fvcore = Profiler(space, progress=False)  # fvcore pieces other tests traced this session are reused
    assert meta.pieces() == fvcore.pieces()
    assert meta.cost(space.candidates[-1]) == fvcore.cost(space.candidates[-1])


def _fvcore_by_operator(model, size):
    from fvcore.nn import FlopCountAnalysis

    from stitchnas.costs import EXTRA_OP_HANDLES

    analysis = FlopCountAnalysis(model.eval(), torch.zeros(1, *size)).set_op_handle(**EXTRA_OP_HANDLES)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return dict(analysis.by_operator())


@pytest.mark.parametrize("name, kwargs, size, extras", [
    ("vit_tiny_patch16_224", dict(img_size=28, patch_size=7, in_chans=1, embed_dim=16, depth=4,
                                  num_heads=2), (1, 28, 28), {"layer_norm"}),
    ("resnet18", {}, (3, 64, 64), {"batch_norm", "adaptive_avg_pool2d"}),
    ("levit_128s", {}, (3, 224, 224), {"batch_norm"}),
    ("swin_tiny_patch4_window7_224", dict(depths=(1, 1, 1, 1)), (3, 224, 224), {"layer_norm"}),
])
def test_the_documented_relation_op_by_op(name, kwargs, size, extras):
    """FlopCounterMode counts 2 per multiply-add of matmuls, convolutions and attention; fvcore
    1, plus norms and pools: torch_flops / 2 == fvcore minus exactly those ops."""
    with torch.device("meta"):
        on_meta = timm.create_model(name, **kwargs)
    got = count_flops_meta(on_meta, size)
    by_op = _fvcore_by_operator(timm.create_model(name, **kwargs), size)
    norms_pools = {op: n for op, n in by_op.items() if op in ("layer_norm", "batch_norm", "group_norm",
                                                                "instance_norm", "adaptive_avg_pool2d")}
    assert set(norms_pools) == extras == set(got.fvcore_extra)
    assert got.torch_flops % 2 == 0
    assert got.torch_flops // 2 == sum(by_op.values()) - sum(norms_pools.values())
    assert got.fvcore_extra == norms_pools
    assert got.fvcore_flops == sum(by_op.values())


def test_layernorm_and_attention_terms_by_hand():
    """A 2-block ViT (17 tokens of width 16): fvcore's extra is 5 flops per LayerNorm element
    (2 per block + the final norm); attention's QK^T and AV are in both paths."""
    kwargs = dict(img_size=28, patch_size=7, in_chans=1, embed_dim=16, depth=2, num_heads=2, num_classes=10)
    with torch.device("meta"):
        model = timm.create_model("vit_tiny_patch16_224", **kwargs)
    tokens, dim, depth = 17, 16, 2
    got = count_flops_meta(model, (1, 28, 28))
    assert got.fvcore_extra == {"layer_norm": (2 * depth + 1) * tokens * dim * 5}
    real = timm.create_model("vit_tiny_patch16_224", **kwargs).eval()
    assert got.fvcore_flops == count_flops(real, torch.zeros(1, 1, 28, 28))
    # on real CPU tensors the fused attention kernel has no FlopCounterMode formula: it is missed
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as cpu, torch.no_grad():
        real(torch.zeros(1, 1, 28, 28))
    attention_macs = depth * 2 * tokens * tokens * dim
    assert cpu.get_total_flops() == got.torch_flops - 2 * attention_macs
    # a module with real weights is counted on meta copies, and left as it was
    assert count_flops_meta(real, (1, 28, 28)) == got
    assert all(not p.is_meta for p in real.parameters())


def test_batch_size_scales_and_bad_method_is_one_line():
    with torch.device("meta"):
        model = timm.create_model("resnet18", num_classes=3)
    one, four = count_flops_meta(model, (3, 32, 32)), count_flops_meta(model, (3, 32, 32), batch_size=4)
    assert isinstance(one, MetaFlops) and four.torch_flops == 4 * one.torch_flops
    assert four.fvcore_flops == 4 * one.fvcore_flops
    with pytest.raises(StitchnasError, match="unknown FLOPs method 'jit': use one of fvcore, meta"):
        Profiler(load_space("tiny_test"), method="jit")


def test_meta_profiles_are_cached_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path))
    space = load_space("tiny_test")
    meta, fvcore = Profiler(space, method="meta"), Profiler(space)
    assert meta.cache_path != fvcore.cache_path and meta.cache_path.name.endswith("-meta.json")
    assert meta.profile() == fvcore.profile()
    assert meta.cache_path.is_file() and Profiler(space, method="meta").pieces() == meta.pieces()
