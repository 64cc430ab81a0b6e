"""An anchor's ``init:``: the weights its training starts from, e.g. ImageNet weights fine-tuned
to a data set of another class count, whose classifier starts afresh; the trained anchor goes to
its ``checkpoint:``, never over the file it started from."""

import re

import pytest
import timm
import torch

from stitchnas.anchors import init_anchor
from stitchnas.errors import StitchnasError
from stitchnas.measure import AnchorTrainConfig, train_anchors
from stitchnas.space import load_space
from support import write_space

KW = dict(img_size=8, patch_size=2, in_chans=1, depth=2, num_heads=2)


def _vit(classes: int, dim: int = 16, model: str = "vit_tiny_patch16_224"):
    return timm.create_model(model, **dict(KW, embed_dim=dim, num_classes=classes))


def _space(tmp_path, s_init: str, l_init: str = "", grow: bool = False, same: bool = False):
    kwargs = ", ".join(f"{k}: {v}" for k, v in KW.items())
    anchors = []
    for name, dim, init in (("s", 16, s_init), ("l", 32, l_init)):
        where = f"init: {init}, " if init else ""
        ckpt = init if same and init else f"trained_{name}.pt"
        anchors.append(f"  - {{name: {name}, model: vit_tiny_patch16_224, {where}checkpoint: {ckpt}, "
                       f"kwargs: {{{kwargs}, embed_dim: {dim}, num_classes: 10}}}}")
    grown = ", grow: true" if grow else ""
    return write_space(tmp_path, "name: init_test\ninput_size: [1, 8, 8]\nanchors:\n" + "\n".join(anchors)
                       + f"\nrule: {{type: two_way}}\ndata: {{name: digits}}\n"
                       f"training: {{anchors: {{epochs: 1{grown}}}}}\n")


def test_training_starts_from_init_with_a_new_classifier_and_leaves_the_file_alone(tmp_path):
    """With a learning rate too small to move them, the trained anchor's weights are the file's
    but the classifier, new for the data's 10 classes; the init file is untouched and the
    checkpoint is a new file. An anchor without init trains from scratch as before."""
    torch.manual_seed(0)
    pretrained = _vit(1000)
    torch.save(pretrained.state_dict(), tmp_path / "in1k_s.pt")
    before = (tmp_path / "in1k_s.pt").read_bytes()
    space = load_space(_space(tmp_path, "in1k_s.pt"))
    assert space.anchors[0].init == str(tmp_path / "in1k_s.pt") and space.anchors[1].init is None
    lines = []
    train_anchors(space, cfg=AnchorTrainConfig(epochs=1, lr=1e-12, train_subset=256, val_subset=64),
                  log=lines.append)
    trained = torch.load(tmp_path / "trained_s.pt")
    assert trained["head.weight"].shape == (10, 16)
    kept = [k for k in trained if not k.startswith("head.")]
    assert kept and all(torch.allclose(trained[k], pretrained.state_dict()[k], atol=1e-6) for k in kept)
    assert (tmp_path / "in1k_s.pt").read_bytes() == before
    assert any(re.search(r"anchor s: started from .*in1k_s.pt, classifier \(head.bias, head.weight\) new "
                         r"for 10 classes", line) for line in lines)
    scratch = torch.load(tmp_path / "trained_l.pt")
    assert not any("started from" in line and "anchor l" in line for line in lines)
    assert scratch["head.weight"].shape == (10, 32)
    with pytest.raises(StitchnasError, match="already have weights: .*; training them again would replace them"):
        train_anchors(space)


def test_init_of_the_same_class_count_keeps_its_classifier_and_an_official_release_is_converted(tmp_path):
    """A file of the anchor's class count starts it whole; a DeiT-III release in its original
    layout (gamma_1) is read as timm reads it, its classifier of another count dropped."""
    torch.manual_seed(0)
    same = _vit(10)
    torch.save(same.state_dict(), tmp_path / "same.pt")
    spec = load_space(_space(tmp_path, "same.pt")).anchors[0]
    model = _vit(10)
    assert init_anchor(model, spec).startswith("started from") and "classifier" not in init_anchor(model, spec)
    assert all(torch.equal(v, same.state_dict()[k]) for k, v in model.state_dict().items())

    deit = timm.create_model("deit3_small_patch16_224", **dict(KW, embed_dim=16, num_classes=1000))
    official = {re.sub(r"ls([12])\.gamma", r"gamma_\1", k): v for k, v in deit.state_dict().items()}
    torch.save({"model": official}, tmp_path / "deit3.pth")
    text = _space(tmp_path, "deit3.pth").read_text().replace("vit_tiny_patch16_224", "deit3_small_patch16_224")
    spec = load_space(write_space(tmp_path, text, "deit3.yaml")).anchors[0]
    model = timm.create_model("deit3_small_patch16_224", **dict(KW, embed_dim=16, num_classes=10))
    note = init_anchor(model, spec)
    assert note.endswith("new for 10 classes (timm's reading)")
    state = model.state_dict()
    assert torch.equal(state["blocks.0.ls1.gamma"], deit.state_dict()["blocks.0.ls1.gamma"])
    assert state["head.weight"].shape == (10, 16)


def test_a_checkpoint_of_another_class_count_points_to_init(tmp_path):
    """What a user meets first: an ImageNet file as the checkpoint of a 10-class anchor."""
    torch.save(_vit(1000).state_dict(), tmp_path / "in1k_s.pt")
    text = _space(tmp_path, "").read_text().replace("checkpoint: trained_s.pt", "checkpoint: in1k_s.pt")
    space = load_space(write_space(tmp_path, text, "ckpt.yaml"))
    with pytest.raises(StitchnasError, match=r"checkpoint .*in1k_s.pt has a classifier of 1000 classes, the "
                                             r"anchor 10: to fine-tune it on this data, give the file as the "
                                             r"anchor's `init:` and a new `checkpoint:` path"):
        space.create_models()


def test_bad_inits_are_one_line(tmp_path):
    torch.save(_vit(1000, dim=48).state_dict(), tmp_path / "wide.pt")
    spec = load_space(_space(tmp_path, "wide.pt")).anchors[0]
    with pytest.raises(StitchnasError, match=r"init .*wide.pt does not fit timm model 'vit_tiny_patch16_224' "
                                             r"with kwargs .* beyond its classifier"):
        init_anchor(_vit(10), spec)
    spec = load_space(_space(tmp_path, "missing.pt")).anchors[0]
    with pytest.raises(StitchnasError, match=r"init .*missing.pt does not exist; fix the anchor's init path"):
        init_anchor(_vit(10), spec)
    with pytest.raises(StitchnasError, match="anchor 0 'init' is its 'checkpoint': training would overwrite"):
        load_space(_space(tmp_path, "wide.pt", same=True))
    with pytest.raises(StitchnasError, match="anchor 0 'init' must be a path string"):
        load_space(write_space(tmp_path, _space(tmp_path, "wide.pt").read_text().replace("init: wide.pt",
                                                                                         "init: 3"), "n.yaml"))
    torch.save(_vit(10, dim=32).state_dict(), tmp_path / "l.pt")
    with pytest.raises(StitchnasError, match=r"anchor\(s\) \['l'\] of .* start from their `init:` weights, "
                                             "which growing would replace"):
        train_anchors(load_space(_space(tmp_path, "", "l.pt", grow=True)))


def test_init_is_in_no_hash():
    """Where an anchor's weights started is how they were made, as the training recipe is: a
    space's hashes, which measured rows and checkpoints carry, do not change with it."""
    import yaml

    from stitchnas.space import SearchSpace

    space = load_space("tiny_test")
    doc = yaml.safe_load(space.path.read_text())
    doc["anchors"][0]["init"] = "somewhere.pt"
    started = SearchSpace.from_dict(doc, path=space.path)
    assert started.anchors[0].init and started.content_hash == space.content_hash
    assert started.structure_hash == space.structure_hash


def test_run_fine_tunes_anchors_from_init_and_says_so(tmp_path, monkeypatch):
    from stitchnas.workflows import run

    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    torch.save(_vit(1000).state_dict(), tmp_path / "in1k_s.pt")
    text = _space(tmp_path, "in1k_s.pt").read_text() + (
        "run: {initial: 3, rounds: 0, val_subset: 64, proxy_images: 0, targets: [flops], trials: 20}\n")
    report = run(load_space(write_space(tmp_path, text, "run.yaml")), log=lambda m: None)
    assert report.steps[0].done == "trained s, l (1 epoch(s); s from their init: weights)"
    assert torch.load(tmp_path / "trained_s.pt")["head.weight"].shape == (10, 16)


def test_init_made_for_another_image_size_is_resized_by_timm_and_says_so(tmp_path):
    big = timm.create_model("vit_tiny_patch16_224", **dict(KW, img_size=16, embed_dim=16, num_classes=1000))
    torch.save(big.state_dict(), tmp_path / "big.pt")
    spec = load_space(_space(tmp_path, "big.pt")).anchors[0]
    model = _vit(10)
    note = init_anchor(model, spec)
    assert note.endswith("new for 10 classes (timm's reading; resized to fit: pos_embed)")
    assert torch.equal(model.state_dict()["blocks.1.mlp.fc1.weight"], big.state_dict()["blocks.1.mlp.fc1.weight"])


def test_run_without_a_recipe_names_the_anchors_that_would_start_from_init(tmp_path, monkeypatch):
    from stitchnas.workflows import run

    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    torch.save(_vit(1000).state_dict(), tmp_path / "in1k_s.pt")
    text = _space(tmp_path, "in1k_s.pt").read_text().replace("training: {anchors: {epochs: 1}}\n", "")
    with pytest.raises(StitchnasError, match=r"have no trained weights and the space has no training.anchors "
                                             r"section to train them with \(s would start from their `init:` "
                                             r"weights\): add one \(e.g. `training: \{anchors: \{epochs: 4\}\}`\)"):
        run(load_space(write_space(tmp_path, text, "norecipe.yaml")), log=lambda m: None)
