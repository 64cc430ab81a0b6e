"""Anchors grown by depth (training.anchors.grow): the deeper anchor starts as the one before it."""

import pytest
import timm
import torch
from timm.models.mlp_mixer import MlpMixer

from support import run_cli, tiny_anchor, write_space
from stitchnas.errors import StitchnasError
from stitchnas.measure import DataSpec, train_anchors
from stitchnas.measure._grow import check_same_function, grow_by_depth
from stitchnas.space import load_space

DIGITS = DataSpec("digits", input_size=(1, 28, 28))


def vit(depth, dim=16, seed=0):
    torch.manual_seed(seed)
    return timm.create_model("vit_tiny_patch16_224", img_size=28, patch_size=7, in_chans=1, num_classes=10,
                             embed_dim=dim, depth=depth, num_heads=2).eval()


@pytest.mark.parametrize("small, deep", [(2, 4), (2, 3), (3, 8), (4, 4)])
def test_a_grown_model_computes_the_smaller_ones_function(small, deep):
    a, b = vit(small), vit(deep, seed=1)
    x = torch.randn(5, 1, 28, 28)
    before = b(x)
    grow_by_depth(a, b)
    with torch.no_grad():
        assert torch.allclose(a(x), b(x), atol=1e-5) and not torch.allclose(before, b(x), atol=1e-3)
    kept = [k * deep // small for k in range(small)]
    for k, i in enumerate(kept):  # each block where the rule puts it, the others identities
        assert all(torch.equal(p, q) for p, q in zip(a.blocks[k].parameters(), b.blocks[i].parameters()))
    for i in set(range(deep)) - set(kept):
        assert not b.blocks[i].attn.proj.weight.any() and not b.blocks[i].mlp.fc2.bias.any()
        assert b.blocks[i].attn.qkv.weight.any()  # the rest keeps its initialisation: gradients flow


@pytest.mark.parametrize("deep, message", [
    (lambda: vit(4, dim=32),
     "cls_token is shaped \\[1, 1, 32\\] where 'small' has \\[1, 1, 16\\].*one width"),
    (lambda: vit(1), "has 1 blocks, fewer than the 2 of 'small'.*shallow to deep"),
    (lambda: timm.create_model("resnet18", num_classes=10),
     "one is a ResNet with 4 runs of blocks, the other a ViT with 1.*one width and kind"),
    (lambda: MlpMixer(img_size=28, patch_size=7, in_chans=1, num_classes=10, num_blocks=4, embed_dim=16),
     "'deep' is not a model grow knows"),
    (lambda: timm.create_model("vit_tiny_patch16_224", img_size=28, patch_size=7, in_chans=1, num_classes=10,
                               embed_dim=16, depth=4, num_heads=2, init_values=1e-5),
     "it has blocks.0.ls1.gamma, which 'small' lacks"),
])
def test_anchors_that_cannot_grow_are_one_line_errors(deep, message):
    with pytest.raises(StitchnasError, match=f"training.anchors.grow: .*{message}"):
        grow_by_depth(vit(2), deep())


def resnet(layers, arch="resnet18", seed=0):
    torch.manual_seed(seed)
    model = timm.create_model(arch, in_chans=1, num_classes=10, channels=[8, 16, 32, 64], stem_type="deep",
                              stem_width=8, layers=layers)
    with torch.no_grad():  # BatchNorm statistics of a trained model, not the identity's defaults
        model.train()(torch.randn(32, 1, 28, 28))
    return model.eval()


def convnext(depths, seed=0):
    torch.manual_seed(seed)
    return timm.create_model("convnext_atto", in_chans=1, num_classes=10, depths=depths).eval()


@pytest.mark.parametrize("make, small, deep", [
    (resnet, [1, 1, 1, 1], [2, 2, 2, 2]),
    (resnet, [2, 2, 2, 2], [3, 4, 6, 3]),
    (lambda layers, seed=0: resnet(layers, "resnet50", seed), [1, 1, 1, 1], [2, 3, 2, 4]),
    (convnext, [1, 1, 1, 1], [2, 2, 3, 2]),
])
def test_cnns_grow_stage_by_stage(make, small, deep):
    """ResNets (Basic and Bottleneck blocks) and ConvNeXts grow within each stage: the deeper
    model computes the smaller one's function, its extra blocks start as identities."""
    a, b = make(small), make(deep, seed=1)
    size = (1, 64, 64) if make is convnext else (1, 28, 28)  # ConvNeXt's stages downsample 32x
    x = torch.randn(3, *size)
    with torch.no_grad():
        before = b(x)
        grow_by_depth(a, b)
        assert torch.allclose(a(x), b(x), atol=1e-5) and not torch.allclose(before, b(x), atol=1e-3)
    check_same_function(a, b, size)
    runs = [getattr(b, f"layer{i}") for i in range(1, 5)] if hasattr(b, "layer1") else [s.blocks for s in b.stages]
    for d, D, run in zip(small, deep, runs):
        for i in set(range(D)) - {k * D // d for k in range(d)}:
            last = run[i].mlp.fc2 if hasattr(run[i], "mlp") else getattr(run[i], "bn3", None) or run[i].bn2
            assert not last.weight.any() and not last.bias.any()


def test_a_grown_model_that_is_not_the_smaller_function_is_one_line():
    a, b = resnet([1, 1, 1, 1]), resnet([2, 2, 2, 2], seed=1)
    grow_by_depth(a, b)
    with torch.no_grad():
        b.layer2[1].bn2.weight.fill_(1.0)
    with pytest.raises(StitchnasError, match="anchor 'l' grown from 's' does not compute its function"):
        check_same_function(a, b, (1, 28, 28), "s", "l")


def _space(folder, grow):
    text = (f"name: digits_grow\ninput_size: [1, 28, 28]\nanchors:\n"
            f"  - {tiny_anchor('s', 16, depth=2)[:-1]}, checkpoint: s.pt}}\n"
            f"  - {tiny_anchor('l', 16, depth=4)[:-1]}, checkpoint: l.pt}}\n"
            "rule: {type: two_way}\n"
            f"training:\n  anchors: {{epochs: 1, batch_size: 64, lr: 1.0e-9, grow: {str(grow).lower()}}}\n")
    return load_space(write_space(folder, text))


@pytest.mark.parametrize("grow", [True, False])
def test_train_anchors_starts_a_grown_anchor_from_the_trained_one_before_it(tmp_path, grow):
    """With a learning rate too small to move anything, the grown anchor still computes the first
    anchor's function after its training, and so has its accuracy; trained apart, it does not."""
    from stitchnas.anchors import create_anchor_model

    space = _space(tmp_path, grow)
    results = train_anchors(space, DIGITS, log=lambda m: None)  # the space's recipe: lr 1e-9
    s, l = (create_anchor_model(spec) for spec in space.anchors)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(s(x), l(x), atol=1e-4) == grow
    assert (results[1].acc1 == results[0].acc1) == grow


def test_grow_in_the_space_file_is_checked_and_reaches_the_cli(tmp_path, capsys):
    space = _space(tmp_path, True)
    assert space.extra["training"]["anchors"]["grow"] is True
    text = (tmp_path / "space.yaml").read_text().replace("grow: true", "grow: 1")
    bad = write_space(tmp_path, text, "bad.yaml")
    code, _, err = run_cli(capsys, "train-anchors", bad, "--data", "digits")
    assert code == 2 and "grow" in err and len(err.strip().splitlines()) == 1


def test_train_anchors_grow_flag_grows_a_space_that_does_not_say_so(tmp_path, capsys):
    from stitchnas.anchors import create_anchor_model

    space = _space(tmp_path, False)
    code, _, err = run_cli(capsys, "train-anchors", space.path, "--data", "digits", "--grow", "--quiet")
    assert code == 0, err
    s, l = (create_anchor_model(spec) for spec in space.anchors)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(s(x), l(x), atol=1e-4)
    text = space.path.read_text().replace("embed_dim: 16, depth: 4", "embed_dim: 32, depth: 4")
    wide = write_space(tmp_path, text, "wide.yaml")
    code, out, err = run_cli(capsys, "train-anchors", wide, "--data", "digits", "--grow", "--force")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1
    assert "training.anchors.grow: anchor 'l' cannot start from 's'" in err


def test_train_anchors_grows_a_resnet_family_stage_by_stage(tmp_path, capsys):
    """A ResNet space with grow trains end to end (the grown anchor is checked on a batch against
    the one before it); a deeper anchor with fewer blocks in a stage is one line before training."""
    def anchor(name, layers):
        return (f"  - {{name: {name}, model: resnet18, checkpoint: {name}.pt, kwargs: {{in_chans: 1, "
                f"num_classes: 10, channels: [8, 8, 16, 16], layers: {layers}}}}}\n")
    text = ("name: digits_resnet_grow\ninput_size: [1, 28, 28]\nanchors:\n" + anchor("s", "[1, 1, 1, 1]")
            + anchor("l", "[2, 1, 2, 1]") + "rule: {type: two_way}\n"
            "training:\n  anchors: {epochs: 1, batch_size: 64, grow: true}\n")
    path = write_space(tmp_path, text)
    code, _, err = run_cli(capsys, "train-anchors", path, "--data", "digits", "--quiet")
    assert code == 0, err
    assert (tmp_path / "s.pt").is_file() and (tmp_path / "l.pt").is_file()
    short = write_space(tmp_path, text.replace("[2, 1, 2, 1]", "[2, 1, 0, 1]").replace("l.pt", "l2.pt"),
                        "short.yaml")
    code, out, err = run_cli(capsys, "train-anchors", short, "--data", "digits", "--only-missing")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert "anchor 'l' has 0 blocks in layer3, fewer than the 1 of 's'" in err
