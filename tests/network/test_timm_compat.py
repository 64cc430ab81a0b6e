"""A built or exported stitch speaks timm's model interface: pretrained_cfg / default_cfg,
num_classes, forward_features / forward_head, get_classifier / reset_classifier, so that
timm.data.resolve_model_data_config and create_transform work on it."""

import pytest
import timm.data
import torch
from PIL import Image
from torch import nn

from stitchnas.network import StitchedNetwork, build_model, export_model, load_exported, read_export_metadata
from stitchnas.space import load_space
from support import write_space

# two tiny ViTs whose timm data configs differ: vit_tiny (augreg: mean/std 0.5) and DeiT
# (ImageNet mean/std); both bicubic, crop 0.9
MIXED = """name: mixed_cfg
input_size: [3, 32, 32]
anchors:
  - {name: vit, model: vit_tiny_patch16_224, kwargs: {img_size: 32, patch_size: 8, num_classes: 7, embed_dim: 16, depth: 2, num_heads: 2}}
  - {name: deit, model: deit_tiny_patch16_224, kwargs: {img_size: 32, patch_size: 8, num_classes: 7, embed_dim: 32, depth: 2, num_heads: 2}}
rule: {type: two_way, pairs: nearest, max_stitches: 1}
"""
IMAGENET_MEAN = (0.485, 0.456, 0.406)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    space = load_space(write_space(tmp_path_factory.mktemp("space"), MIXED))
    torch.manual_seed(0)
    return space, StitchedNetwork(space, space.create_models(weights=False)).eval()


def _route(space, first, last):
    return next(c for c in space.candidates if c.route.first_anchor == first and c.route.last_anchor == last
                and c.route.num_stitches == 1)


def test_the_stem_anchor_owns_the_data_config_the_head_anchor_the_classes(mixed):
    space, net = mixed
    for first, last, mean in ((0, 1, (0.5, 0.5, 0.5)), (1, 0, IMAGENET_MEAN)):
        module = net.route_module(_route(space, first, last))
        cfg = timm.data.resolve_model_data_config(module)
        assert cfg == {"input_size": (3, 32, 32), "interpolation": "bicubic", "mean": mean,
                       "std": mean if first == 0 else (0.229, 0.224, 0.225), "crop_pct": 0.9,
                       "crop_mode": "center"}
        assert module.default_cfg is module.pretrained_cfg and module.pretrained_cfg["num_classes"] == 7
        transform = timm.data.create_transform(**cfg)
        image = Image.new("RGB", (50, 40), (255, 0, 0))
        x = transform(image)
        assert x.shape == (3, 32, 32)
        assert torch.allclose(x[0, 16, 16], torch.tensor((1 - mean[0]) / cfg["std"][0]), atol=1e-4)
        assert module(x[None]).shape == (1, 7)


def test_forward_features_head_and_pre_logits(mixed):
    space, net = mixed
    module = net.route_module(_route(space, 0, 1))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        feats = module.forward_features(x)
        assert feats.shape == (2, 17, 32)  # tokens of the head anchor (width 32)
        assert torch.equal(module.forward_head(feats), module(x))
        pre = module.forward_head(feats, pre_logits=True)
        assert pre.shape == (2, module.num_features) and module.num_features == 32
        assert torch.allclose(module.get_classifier()(pre), module(x), atol=1e-6)
    assert module.num_classes == 7 and isinstance(module.get_classifier(), nn.Linear)


def test_reset_classifier_changes_the_width_and_leaves_the_anchor_alone(mixed):
    space, net = mixed
    cand = _route(space, 1, 0)
    module = net.route_module(cand)
    x = torch.randn(2, 3, 32, 32)
    anchor_head = net.anchors[0].head
    module.reset_classifier(4)
    assert module(x).shape == (2, 4) and module.num_classes == 4 == module.pretrained_cfg["num_classes"]
    assert net.anchors[0].head is anchor_head and anchor_head.out_features == 7
    assert net.route_module(cand)(x).shape == (2, 7)  # other route modules keep the anchor's head
    module.reset_classifier(0)
    assert module(x).shape == (2, module.num_features) and isinstance(module.get_classifier(), nn.Identity)


def test_the_switchable_network_and_build_model_carry_the_config(mixed):
    space, net = mixed
    net.reset_stitch_id(_route(space, 1, 0).id)
    assert timm.data.resolve_model_data_config(net)["mean"] == IMAGENET_MEAN and net.num_classes == 7
    net.reset_stitch_id(_route(space, 0, 1).id)
    assert timm.data.resolve_model_data_config(net)["mean"] == (0.5, 0.5, 0.5)
    anchor = build_model("tiny_test", 0)
    cfg = timm.data.resolve_model_data_config(anchor)
    assert cfg["input_size"] == (1, 28, 28) and cfg["mean"] == (0.5,) and anchor.num_classes == 10


def test_timm_helpers_work_on_a_loaded_export(mixed, tmp_path):
    pytest.importorskip("onnx", reason="the 'export' extra")
    space, net = mixed
    module = net.route_module(_route(space, 1, 0))
    paths = export_model(module, tmp_path / "m", space.input_size)
    loaded = load_exported(paths[0])
    cfg = timm.data.resolve_model_data_config(loaded)
    assert cfg == timm.data.resolve_model_data_config(module)
    x = timm.data.create_transform(**cfg)(Image.new("RGB", (40, 40), (10, 200, 30)))[None]
    with torch.no_grad():
        assert torch.allclose(loaded(x), module(x), atol=1e-5)
    assert loaded.num_classes == 7 and loaded.default_cfg["input_size"] == (3, 32, 32)
    onnx_cfg = read_export_metadata(paths[1])["pretrained_cfg"]
    assert timm.data.resolve_data_config(pretrained_cfg=onnx_cfg) == cfg


def test_a_fashion_mnist_space_says_how_its_data_was_normalised(tmp_path):
    from stitchnas.measure import FASHION_MNIST_MEAN, FASHION_MNIST_STD

    text = load_space("tiny_test").path.read_text() + "data: {name: fashion_mnist}\n"
    space = load_space(write_space(tmp_path, text))
    module = StitchedNetwork(space, space.create_models(weights=False)).route_module(3)
    cfg = timm.data.resolve_model_data_config(module)
    assert cfg["mean"] == (FASHION_MNIST_MEAN,) and cfg["std"] == (FASHION_MNIST_STD,)
    assert cfg["crop_pct"] == 1.0 and cfg["interpolation"] == "bilinear"
