"""ImageFolder data takes the anchor's own timm data config (interpolation, crop_pct, mean,
std), not fixed ImageNet defaults."""

import argparse

import timm
import torch
from torchvision import transforms as T

from stitchnas.measure import DataSpec, anchor_data_config, load_datasets
from stitchnas.space import load_space
from support import make_image_tree


def _ops(dataset):
    return {type(op).__name__: op for op in dataset.transform.transforms}


def test_imagefolder_uses_the_anchors_config(tmp_path):
    make_image_tree(tmp_path)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False)  # augreg: mean/std 0.5, bicubic, 0.9
    cfg = anchor_data_config(model, (3, 32, 32))
    assert cfg["mean"] == (0.5, 0.5, 0.5) != tuple(timm.data.IMAGENET_DEFAULT_MEAN)
    _, val, k = load_datasets(DataSpec("imagefolder", root=str(tmp_path), input_size=(3, 32, 32),
                                       data_config=cfg))
    ops = _ops(val)
    assert k == 3 and ops["Resize"].interpolation == T.InterpolationMode.BICUBIC
    assert ops["Resize"].size == int(32 / 0.9)  # crop_pct 0.9: resize to 35, centre-crop 32
    assert ops["Normalize"].mean.tolist() == [0.5] * 3 and ops["Normalize"].std.tolist() == [0.5] * 3
    x, _ = val[0]
    assert x.shape == (3, 32, 32)
    # without a config: timm's ImageNet defaults (bilinear, 0.875), as before
    _, plain, _ = load_datasets(DataSpec("imagefolder", root=str(tmp_path), input_size=(3, 32, 32)))
    ops = _ops(plain)
    assert ops["Resize"].interpolation == T.InterpolationMode.BILINEAR and ops["Resize"].size == int(32 / 0.875)
    assert torch.allclose(ops["Normalize"].mean, torch.tensor(timm.data.IMAGENET_DEFAULT_MEAN))
    train, _, _ = load_datasets(DataSpec("imagefolder", root=str(tmp_path), input_size=(3, 32, 32),
                                         data_config=cfg))
    names = [type(op).__name__ for op in train.transform.transforms]
    assert "RandomResizedCropAndInterpolation" in names and _ops(train)["Normalize"].mean.tolist() == [0.5] * 3


def test_a_spaces_first_anchor_gives_the_config_gray_input_averaged():
    deit = anchor_data_config(load_space("deit_tsb_v1"))  # built on the meta device: no weights
    assert deit["interpolation"] == "bicubic" and deit["crop_pct"] == 0.9
    assert deit["input_size"] == (3, 224, 224)
    gray = anchor_data_config(load_space("resnet18_swin_tiny"), (1, 64, 64))
    assert gray["input_size"] == (1, 64, 64) and gray["crop_pct"] == 0.95  # resnet18.a1_in1k
    assert gray["mean"] == (sum(timm.data.IMAGENET_DEFAULT_MEAN) / 3,)


def test_the_cli_and_run_pass_the_config_for_image_folders(tmp_path):
    from stitchnas.cli._measure import data_spec
    from stitchnas.workflows._run import _data_spec

    make_image_tree(tmp_path)
    space = load_space("deit_tsb_v1")
    spec = data_spec(argparse.Namespace(data=str(tmp_path), data_root=None), space)
    assert spec.name == "imagefolder" and spec.data_config["crop_pct"] == 0.9
    assert spec.data_config["interpolation"] == "bicubic"
    assert data_spec(argparse.Namespace(data="digits", data_root=None), space).data_config is None
    path = tmp_path / "with_data.yaml"
    path.write_text(space.path.read_text() + f"data: {{name: imagefolder, root: {tmp_path}}}\n")
    assert _data_spec(load_space(path)).data_config == spec.data_config
