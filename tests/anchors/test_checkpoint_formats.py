"""Anchor checkpoints in a family's original release format load as timm loads its own
downloads: DeiT-III's official files name layer scale ``gamma_1``/``gamma_2`` (timm:
``ls1.gamma``), which a plain state-dict load refuses."""

import logging
import re

import pytest
import timm
import torch

from stitchnas.errors import StitchnasError
from stitchnas.space import load_space
from support import write_space

KW = dict(img_size=32, patch_size=8, in_chans=3, num_classes=10, depth=2, num_heads=2)


def _space(tmp_path, s_file, l_file):
    return write_space(tmp_path, f"""
name: deit3_release
input_size: [3, 32, 32]
anchors:
  - {{name: s, model: deit3_small_patch16_224, checkpoint: {s_file}, kwargs: {dict(KW, embed_dim=32)}}}
  - {{name: l, model: deit3_small_patch16_224, checkpoint: {l_file}, kwargs: {dict(KW, embed_dim=64)}}}
rule: {{type: snnet_v2}}
""".replace("'", ""))


def _official(model) -> dict:
    """A timm DeiT-III's weights as facebookresearch/deit releases them: under 'model', layer
    scale as gamma_1 and gamma_2."""
    return {"model": {re.sub(r"ls([12])\.gamma", r"gamma_\1", k): v for k, v in model.state_dict().items()}}


def test_an_official_deit3_release_loads_as_timm_converts_it(tmp_path, caplog):
    torch.manual_seed(0)
    models = [timm.create_model("deit3_small_patch16_224", **dict(KW, embed_dim=d)).eval() for d in (32, 64)]
    for name, model in zip("sl", models):
        torch.save(_official(model), tmp_path / f"{name}.pth")
    raw = timm.create_model("deit3_small_patch16_224", **dict(KW, embed_dim=32))
    with pytest.raises(RuntimeError, match="ls1.gamma"):
        raw.load_state_dict(torch.load(tmp_path / "s.pth")["model"])  # what a plain load says
    space = load_space(_space(tmp_path, tmp_path / "s.pth", tmp_path / "l.pth"))
    with caplog.at_level(logging.INFO, logger="stitchnas"):
        loaded = space.create_models()
    x = torch.randn(2, 3, 32, 32)
    for model, again in zip(models, loaded):
        assert torch.equal(model(x), again(x))
    assert "converted by timm's loader for deit3_small_patch16_224" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # renamed, nothing resized


def test_a_release_of_another_width_is_still_the_one_line_error(tmp_path):
    """timm's conversion is tried only as a second reading; a file that fits neither way gets
    the plain load's message."""
    torch.manual_seed(0)
    wide = timm.create_model("deit3_small_patch16_224", **dict(KW, embed_dim=64))
    torch.save(_official(wide), tmp_path / "wide.pth")
    space = load_space(_space(tmp_path, tmp_path / "wide.pth", tmp_path / "wide.pth"))
    with pytest.raises(StitchnasError, match=r"anchor 's': checkpoint .*wide.pth does not fit timm model "
                                             r"'deit3_small_patch16_224'"):
        space.create_models()


def test_a_lenient_timm_loader_that_would_leave_a_weight_random_is_not_used(tmp_path):
    """timm loads DLA leniently (pretrained_strict=False): a file missing one conv weight would
    load with that weight at its random start. The conversion is refused instead, and the plain
    load's error stands; the global random state is untouched either way."""
    from stitchnas.anchors import AnchorSpec
    from stitchnas.anchors._base import _converted_by_timm

    model = timm.create_model("dla34", num_classes=10)
    state = model.state_dict()
    torch.save(state, tmp_path / "full.pth")
    state.pop("level5.tree1.conv1.weight")
    torch.save(state, tmp_path / "partial.pth")
    spec = AnchorSpec("a", "dla34", kwargs={"num_classes": 10})
    torch.manual_seed(0)
    assert _converted_by_timm(model, spec, tmp_path / "partial.pth") is None
    assert _converted_by_timm(model, spec, tmp_path / "full.pth") is not None
    after = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(1))


def _convnext_release(state: dict) -> dict:
    """timm's ConvNeXt names as facebookresearch/ConvNeXt releases them."""
    out = {}
    for k, v in state.items():
        k = re.sub(r"stages\.(\d+)\.blocks\.(\d+)", r"stages.\1.\2", k.replace("stem.", "downsample_layers.0."))
        k = re.sub(r"stages\.(\d+)\.downsample\.(\d+)", r"downsample_layers.\1.\2", k)
        out[k.replace("conv_dw", "dwconv").replace("mlp.fc", "pwconv").replace("head.fc.", "head.")
             .replace("head.norm", "norm")] = v
    return {"model": out}


def _swin_release(state: dict) -> dict:
    """timm's Swin names as microsoft/Swin-Transformer releases them: each patch merging at the
    end of its stage, the head without .fc, an attention mask saved as a buffer."""
    out = {re.sub(r"layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k)
           .replace("head.fc.", "head."): v for k, v in state.items()}
    out["layers.0.blocks.1.attn_mask"] = torch.zeros(4, 16, 16)
    return {"model": out}


@pytest.mark.parametrize("model_name, kwargs, release", [
    ("convnext_atto", dict(dims=(8, 16, 24, 32), depths=(1, 1, 2, 1), num_classes=10), _convnext_release),
    ("swin_tiny_patch4_window7_224", dict(img_size=32, window_size=4, embed_dim=16, depths=(2, 2),
                                          num_heads=(1, 2), num_classes=10), _swin_release),
])
def test_convnext_and_swin_releases_are_converted(tmp_path, model_name, kwargs, release):
    from stitchnas.anchors import AnchorSpec
    from stitchnas.anchors._base import load_checkpoint

    torch.manual_seed(0)
    model = timm.create_model(model_name, **kwargs).eval()
    torch.save(release(model.state_dict()), tmp_path / "release.pth")
    fresh = timm.create_model(model_name, **kwargs).eval()
    with pytest.raises(RuntimeError):
        fresh.load_state_dict(torch.load(tmp_path / "release.pth")["model"])
    load_checkpoint(fresh, AnchorSpec("a", model_name, kwargs=kwargs, checkpoint=str(tmp_path / "release.pth")))
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model(x), fresh(x))


def test_a_release_for_another_image_size_is_resized_with_a_warning(tmp_path, caplog):
    """timm resamples a position embedding made for another grid (as for its own downloads at a
    new size); the anchor then is not the file's network, and the log says so."""
    from stitchnas.anchors import AnchorSpec
    from stitchnas.anchors._base import load_checkpoint

    torch.manual_seed(0)
    big = timm.create_model("deit3_small_patch16_224", **dict(KW, img_size=64, embed_dim=32))
    torch.save(_official(big), tmp_path / "at64.pth")
    spec = AnchorSpec("s", "deit3_small_patch16_224", kwargs=dict(KW, embed_dim=32),
                      checkpoint=str(tmp_path / "at64.pth"))
    small = timm.create_model("deit3_small_patch16_224", **dict(KW, embed_dim=32))
    with caplog.at_level(logging.INFO, logger="stitchnas"):
        load_checkpoint(small, spec)
    assert small.pos_embed.shape[1] == 16 and torch.equal(small.blocks[0].ls1.gamma, big.blocks[0].ls1.gamma)
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "timm resized pos_embed to fit" in warned[0].getMessage()


def test_a_training_scripts_checkpoint_with_its_options_loads_its_model(tmp_path):
    """DeiT's, DeiT-III's and ConvNeXt's training scripts save the weights under 'model' beside
    the optimizer, an EMA copy and their options as an argparse.Namespace ('args'), which a
    weights-only load refused as 'Python objects other than tensors'. The options load as the
    plain attributes they are; anything else still does not."""
    import argparse

    from stitchnas.anchors import AnchorSpec
    from stitchnas.anchors._base import load_checkpoint

    kwargs = dict(KW, embed_dim=32)
    torch.manual_seed(0)
    model = timm.create_model("deit3_small_patch16_224", **kwargs)
    other = timm.create_model("deit3_small_patch16_224", **kwargs)  # the EMA copy: other weights
    torch.save({"model": model.state_dict(), "model_ema": other.state_dict(),
                "optimizer": torch.optim.AdamW(model.parameters()).state_dict(), "epoch": 3,
                "scaler": {"scale": 65536.0}, "args": argparse.Namespace(lr=5e-4, model="deit3_small")},
               tmp_path / "checkpoint.pth")
    fresh = timm.create_model("deit3_small_patch16_224", **kwargs)
    load_checkpoint(fresh, AnchorSpec("s", "deit3_small_patch16_224", kwargs=kwargs,
                                      checkpoint=str(tmp_path / "checkpoint.pth")))
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("wrap", [
    lambda m: torch.compile(m),                                  # _orig_mod.
    lambda m: torch.compile(torch.nn.DataParallel(m)),           # _orig_mod.module.
])
def test_weights_saved_through_torch_compile_or_data_parallel_load(tmp_path, wrap):
    from stitchnas.anchors import AnchorSpec
    from stitchnas.anchors._base import load_checkpoint

    kwargs = dict(KW, embed_dim=32)
    torch.manual_seed(0)
    model = timm.create_model("deit3_small_patch16_224", **kwargs)
    state = wrap(model).state_dict()
    assert not any(k.startswith("blocks.") for k in state)  # the wrappers' prefixes are there
    torch.save(state, tmp_path / "wrapped.pth")
    fresh = timm.create_model("deit3_small_patch16_224", **kwargs)
    load_checkpoint(fresh, AnchorSpec("s", "deit3_small_patch16_224", kwargs=kwargs,
                                      checkpoint=str(tmp_path / "wrapped.pth")))
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in model.state_dict().items())


def _jax_vit_npz(model, path) -> None:
    """A timm ViT's weights as Google's JAX ViT releases (.npz) hold them: the inverse of timm's
    own reader, vision_transformer._load_weights."""
    import numpy as np

    dim = model.embed_dim
    heads = model.blocks[0].attn.num_heads
    w = {"embedding/kernel": model.patch_embed.proj.weight.permute(2, 3, 1, 0),
         "embedding/bias": model.patch_embed.proj.bias, "cls": model.cls_token,
         "Transformer/posembed_input/pos_embedding": model.pos_embed,
         "Transformer/encoder_norm/scale": model.norm.weight, "Transformer/encoder_norm/bias": model.norm.bias,
         "head/kernel": model.head.weight.T, "head/bias": model.head.bias}
    for i, block in enumerate(model.blocks):
        p = f"Transformer/encoderblock_{i}/"
        w[p + "LayerNorm_0/scale"], w[p + "LayerNorm_0/bias"] = block.norm1.weight, block.norm1.bias
        w[p + "LayerNorm_2/scale"], w[p + "LayerNorm_2/bias"] = block.norm2.weight, block.norm2.bias
        for n, (weight, bias) in enumerate(zip(block.attn.qkv.weight.chunk(3), block.attn.qkv.bias.chunk(3))):
            name = ("query", "key", "value")[n]
            w[f"{p}MultiHeadDotProductAttention_1/{name}/kernel"] = weight.T.reshape(dim, heads, -1)
            w[f"{p}MultiHeadDotProductAttention_1/{name}/bias"] = bias.reshape(heads, -1)
        w[p + "MultiHeadDotProductAttention_1/out/kernel"] = block.attn.proj.weight.reshape(dim, heads, -1).permute(1, 2, 0)
        w[p + "MultiHeadDotProductAttention_1/out/bias"] = block.attn.proj.bias
        for r, fc in enumerate((block.mlp.fc1, block.mlp.fc2)):
            w[f"{p}MlpBlock_3/Dense_{r}/kernel"], w[f"{p}MlpBlock_3/Dense_{r}/bias"] = fc.weight.T, fc.bias
    np.savez(path, **{k: v.detach().numpy() for k, v in w.items()})


VIT = dict(img_size=32, patch_size=8, in_chans=3, embed_dim=32, depth=2, num_heads=2)


def test_a_jax_npz_release_is_read_by_timms_own_loader(tmp_path, caplog):
    from stitchnas.anchors import AnchorSpec
    from stitchnas.anchors._base import load_checkpoint

    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", num_classes=10, **VIT).eval()
    _jax_vit_npz(model, tmp_path / "vit.npz")
    fresh = timm.create_model("vit_tiny_patch16_224", num_classes=10, **VIT).eval()
    with caplog.at_level(logging.INFO, logger="stitchnas"):
        load_checkpoint(fresh, AnchorSpec("s", "vit_tiny_patch16_224", kwargs=dict(VIT, num_classes=10),
                                          checkpoint=str(tmp_path / "vit.npz")))
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model(x), fresh(x))
    assert "read by timm's .npz loader" in caplog.text


def test_an_npz_whose_head_timm_would_skip_or_of_a_family_without_a_reader_is_refused(tmp_path):
    """timm's .npz reader leaves a head of another class count at its random start, silently:
    that is an error here. A family without an .npz reader says which families have one."""
    from stitchnas.anchors import AnchorSpec
    from stitchnas.anchors._base import load_checkpoint

    _jax_vit_npz(timm.create_model("vit_tiny_patch16_224", num_classes=10, **VIT), tmp_path / "vit.npz")
    five = dict(VIT, num_classes=5)
    with pytest.raises(StitchnasError, match=r"cannot read checkpoint .*vit.npz into timm model "
                                             r"'vit_tiny_patch16_224'.*left weights it did not find"):
        load_checkpoint(timm.create_model("vit_tiny_patch16_224", **five),
                        AnchorSpec("s", "vit_tiny_patch16_224", kwargs=five, checkpoint=str(tmp_path / "vit.npz")))
    with pytest.raises(StitchnasError, match="timm reads only for ViT, NaFlexViT and ResNetV2"):
        load_checkpoint(timm.create_model("resnet18", num_classes=10),
                        AnchorSpec("r", "resnet18", kwargs={"num_classes": 10}, checkpoint=str(tmp_path / "vit.npz")))


def test_a_conversion_is_said_once_and_timms_own_chatter_is_not(tmp_path, caplog):
    """Anchors load more than once per run: the conversion is logged once per file. timm warns
    about a one-channel stem against its three-channel configuration on every read; that stays
    quiet (a stem timm had to resize gets stitchnas's own warning)."""
    from stitchnas.anchors import AnchorSpec
    from stitchnas.anchors._base import load_checkpoint

    kwargs = dict(KW, in_chans=1, embed_dim=32)
    torch.manual_seed(0)
    torch.save(_official(timm.create_model("deit3_small_patch16_224", **kwargs)), tmp_path / "gray.pth")
    spec = AnchorSpec("s", "deit3_small_patch16_224", kwargs=kwargs, checkpoint=str(tmp_path / "gray.pth"))
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            load_checkpoint(timm.create_model("deit3_small_patch16_224", **kwargs), spec)
    assert caplog.text.count("converted by timm's loader") == 1
    assert not [r for r in caplog.records if r.name.startswith("timm") and r.levelno >= logging.WARNING]
    assert logging.getLogger("timm").level == logging.NOTSET  # restored


def test_a_release_for_a_local_dir_model_is_read_from_the_anchors_file_not_the_folders(tmp_path):
    """A `local-dir:` (or `hf-hub:`) model name makes timm load that source's own weights whatever
    file it is given; the conversion must read the anchor's checkpoint, here an official DeiT-III
    file beside a folder that holds other weights."""
    import json

    from safetensors.torch import save_file

    from stitchnas.anchors import AnchorSpec
    from stitchnas.anchors._base import load_checkpoint

    args = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "architecture": "deit3_small_patch16_224", "num_classes": 10, "model_args": args,
        "pretrained_cfg": {"input_size": [3, 32, 32], "num_classes": 10}}))
    torch.manual_seed(1)
    save_file(timm.create_model("deit3_small_patch16_224", num_classes=10, **args).state_dict(),
              str(folder / "model.safetensors"))
    torch.manual_seed(0)
    mine = timm.create_model("deit3_small_patch16_224", num_classes=10, **args).eval()
    torch.save(_official(mine), tmp_path / "mine.pth")
    fresh = timm.create_model(f"local-dir:{folder}").eval()
    load_checkpoint(fresh, AnchorSpec("s", f"local-dir:{folder}", checkpoint=str(tmp_path / "mine.pth")))
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(fresh(x), mine(x))
