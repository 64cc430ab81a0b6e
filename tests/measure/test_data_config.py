"""ImageFolder data takes the anchor's own timm data config (interpolation, crop_pct, mean,
std), not fixed ImageNet defaults."""

import argparse
import os
import re

import pytest
import timm
import torch
from torchvision import transforms as T

from stitchnas.errors import StitchnasError
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


def test_a_space_files_data_paths_are_relative_to_the_file(tmp_path, monkeypatch):
    """`data: {root: DIR}` (or `name: DIR`) in a space file is found from any working directory,
    relative to the file as its anchors' checkpoints are; a --data-root given on the command line
    stays relative to the working directory; a name that is neither a data set nor a folder is
    left for the data set's own error."""
    from stitchnas.measure import space_data

    make_image_tree(tmp_path / "project" / "images")
    text = load_space("tiny_test").path.read_text().replace("data: {name: digits}\n", "")
    (tmp_path / "project" / "root.yaml").write_text(text + "data: {name: imagefolder, root: images}\n")
    (tmp_path / "project" / "name.yaml").write_text(text + "data: {name: images}\n")
    (tmp_path / "project" / "typo.yaml").write_text(text + "data: {name: cifar}\n")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "images").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    images = str(tmp_path / "project" / "images")
    for file in ("root.yaml", "name.yaml"):
        spec = space_data(load_space(tmp_path / "project" / file))
        assert spec.name == "imagefolder" and spec.root == images
        assert load_datasets(spec)[2] == 3
    given = space_data(load_space(tmp_path / "project" / "root.yaml"), root="images")
    assert given.root == "images"
    with pytest.raises(StitchnasError, match="^unknown dataset 'cifar': use one of"):
        space_data(load_space(tmp_path / "project" / "typo.yaml"))


def test_a_folder_named_like_a_data_set_does_not_hide_it(tmp_path, monkeypatch):
    """A folder called digits (or fashion_mnist: where a user keeps its IDX files) in the working
    directory does not turn the data set's name into an ImageFolder, neither from the space file
    nor from --data; the folder is still reachable as ./digits."""
    from stitchnas.measure import space_data

    make_image_tree(tmp_path / "digits")
    (tmp_path / "s.yaml").write_text(load_space("tiny_test").path.read_text() + "data: {name: digits}\n")
    monkeypatch.chdir(tmp_path)
    space = load_space(tmp_path / "s.yaml")
    assert space_data(space).name == "digits"
    assert space_data(space, name="digits").name == "digits"
    folder = space_data(space, name=f".{os.sep}digits")
    assert folder.name == "imagefolder" and folder.root == f".{os.sep}digits"


def test_an_image_folders_training_augmentation_is_the_space_files_to_choose(tmp_path):
    """`data: {augment}`: timm's training transform by default (random crops: two reads differ),
    `none` the validation transform for training images too, a mapping timm's options over its
    defaults (a certain flip of the whole image: the mirror of no flip)."""
    from stitchnas.measure import space_data

    make_image_tree(tmp_path / "images")
    text = load_space("tiny_test").path.read_text().replace("data: {name: digits}\n", "")
    text = text.replace("input_size: [1, 28, 28]", "input_size: [3, 28, 28]")
    assert "input_size: [3, 28, 28]" in text

    def train_and_val(augment: str):
        path = tmp_path / f"s{len(list(tmp_path.glob('*.yaml')))}.yaml"
        path.write_text(text + f"data: {{name: images{augment}}}\n")
        train, val, _ = load_datasets(space_data(load_space(path)))
        return train, val

    train, _ = train_and_val("")
    torch.manual_seed(0)
    assert not torch.equal(train[0][0], train[0][0])
    train, val = train_and_val(", augment: none")
    assert torch.equal(train[0][0], train[0][0])
    assert [type(op) for op in train.transform.transforms] == [type(op) for op in val.transform.transforms]
    whole = ", augment: {{scale: [1, 1], ratio: [1, 1], color_jitter: null, hflip: {}}}"
    kept, mirrored = train_and_val(whole.format(0))[0], train_and_val(whole.format(1))[0]
    assert torch.equal(kept[0][0], kept[0][0]) and torch.equal(mirrored[0][0], kept[0][0].flip(-1))


@pytest.mark.parametrize("augment, error", [
    ("heavy", "key 'augment' must be timm, none, or a mapping of timm's training-transform options"),
    ("{hflip: 2}", "key 'augment' option 'hflip' must be probability 0..1, got 2"),
    ("{scale: [0.5]}", "option 'scale' must be [min, max] area share"),
    ("{flip: 0}", "has unknown option 'flip' (did you mean"),
])
def test_a_bad_augment_is_one_line_when_the_space_loads(tmp_path, augment, error):
    path = tmp_path / "s.yaml"
    text = load_space("tiny_test").path.read_text().replace("data: {name: digits}\n", "")
    path.write_text(text + f"data: {{name: images, augment: {augment}}}\n")
    with pytest.raises(StitchnasError, match=re.escape(error)):
        load_space(path)


def test_augment_on_a_built_in_data_set_is_refused_and_dropped_for_one_given_instead(tmp_path):
    """The built-in sets are never augmented: `augment` beside one is refused, not ignored; a
    built-in given on the command line instead of the file's folder runs without it; a timm policy
    that timm cannot read is one line when the data loads."""
    from stitchnas.measure import space_data

    make_image_tree(tmp_path / "images")
    text = load_space("tiny_test").path.read_text().replace("data: {name: digits}\n", "")
    (tmp_path / "builtin.yaml").write_text(text + "data: {name: digits, augment: timm}\n")
    with pytest.raises(StitchnasError, match="`augment: timm` in its data section applies to ImageFolder data only; digits is a built-in set"):
        space_data(load_space(tmp_path / "builtin.yaml"))
    (tmp_path / "folder.yaml").write_text(text + "data: {name: images, augment: {auto_augment: bogus}}\n")
    space = load_space(tmp_path / "folder.yaml")
    assert space_data(space, name="digits").augment is None
    with pytest.raises(StitchnasError, match="timm cannot build the training transform with augment"):
        load_datasets(space_data(space))
    with pytest.raises(StitchnasError, match="applies to ImageFolder data only"):
        DataSpec("digits", augment="timm")


def test_an_image_folder_is_read_by_the_workers_its_space_or_command_asks_for(tmp_path):
    """`data: {workers: N}` (or --workers N) reads an ImageFolder in N processes, every loader of
    it (subsets too, and an epoch resumed part way); not augmented, the batches are the same as in
    this process. Workers start from a fork server, not forked from this threaded process (which
    Python 3.12+ warns can deadlock). The built-in sets are in memory: workers beside one are
    refused, dropped for one given instead."""
    import multiprocessing
    import warnings

    from tqdm.auto import tqdm

    from stitchnas.cli._measure import data_spec
    from stitchnas.measure import make_loader, space_data
    from stitchnas.measure._resume import batches_after

    make_image_tree(tmp_path / "images")
    text = load_space("tiny_test").path.read_text().replace("data: {name: digits}\n", "")
    text = text.replace("input_size: [1, 28, 28]", "input_size: [3, 28, 28]")
    (tmp_path / "w.yaml").write_text(text + "data: {name: images, augment: none, workers: 2}\n")
    space = load_space(tmp_path / "w.yaml")
    train, val, _ = load_datasets(space_data(space))
    loader = make_loader(torch.utils.data.Subset(train, [0, 2, 4]), 2, shuffle=True, seed=3)
    assert loader.num_workers == 2 and make_loader(val, 4, shuffle=False).num_workers == 2
    in_process = make_loader(torch.utils.data.Subset(train, [0, 2, 4]), 2, shuffle=True, seed=3, num_workers=0)
    if "forkserver" in multiprocessing.get_all_start_methods():
        assert loader.multiprocessing_context.get_start_method() == "forkserver"
    assert in_process.multiprocessing_context is None
    torch.ones(256, 256) @ torch.ones(256, 256)  # torch's own threads run in this process from here on
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for (x, y), (x0, y0) in zip(loader, in_process, strict=True):
            assert torch.equal(x, x0) and torch.equal(y, y0)
        rest = batches_after(make_loader(train, 2, shuffle=True, seed=5), train, 1)
        assert rest.num_workers == 2 and rest.multiprocessing_context is loader.multiprocessing_context
        whole = list(tqdm(make_loader(train, 2, shuffle=True, seed=5, num_workers=0), disable=True))  # as trained
        assert [y.tolist() for _, y in rest] == [y.tolist() for _, y in whole[1:]]
    assert not [w for w in caught if "fork()" in str(w.message)], [str(w.message) for w in caught]
    args = argparse.Namespace(data=None, data_root=None, workers=0)
    assert data_spec(args, space).workers == 0 and data_spec(argparse.Namespace(data=None, data_root=None,
                                                                                workers=None), space).workers == 2
    assert space_data(space, name="digits").workers == 0
    with pytest.raises(StitchnasError, match="workers 2 apply to ImageFolder data only; digits is loaded in memory"):
        data_spec(argparse.Namespace(data="digits", data_root=None, workers=2), space)
    (tmp_path / "b.yaml").write_text(text + "data: {name: digits, workers: 2}\n")
    with pytest.raises(StitchnasError, match="`workers: 2` in its data section applies to ImageFolder data only"):
        space_data(load_space(tmp_path / "b.yaml"))
    (tmp_path / "n.yaml").write_text(text + "data: {name: images, workers: -1}\n")
    with pytest.raises(StitchnasError, match="key 'workers' must be an integer >= 0 and <= 256, got -1"):
        load_space(tmp_path / "n.yaml")


def test_image_folder_options_beside_the_imagefolder_name_and_a_root(tmp_path):
    from stitchnas.measure import space_data

    make_image_tree(tmp_path / "images")
    text = load_space("tiny_test").path.read_text().replace("data: {name: digits}\n", "")
    (tmp_path / "s.yaml").write_text(text + "data: {name: imagefolder, root: images, augment: none, workers: 1}\n")
    spec = space_data(load_space(tmp_path / "s.yaml"))
    assert (spec.name, spec.augment, spec.workers) == ("imagefolder", "none", 1)


def test_a_distributed_epoch_resumes_in_its_sampler_order_with_seeded_workers():
    """Under torchrun the epoch's order is the DistributedSampler's (this rank's share); the
    loader is still make_loader's, so its workers' seeds come from the seed, and a resumed epoch
    skips the batches this rank already trained on."""
    from torch.utils.data import TensorDataset
    from torch.utils.data.distributed import DistributedSampler

    from stitchnas.measure import make_loader
    from stitchnas.measure._resume import batches_after

    data = TensorDataset(torch.arange(20), torch.arange(20))
    orders = []
    for rank in (0, 1):
        sampler = DistributedSampler(data, num_replicas=2, rank=rank, shuffle=True, seed=3, drop_last=True)
        sampler.set_epoch(2)
        loader = make_loader(data, 3, shuffle=True, seed=5, drop_last=True, sampler=sampler)
        assert loader.sampler is sampler and len(loader) == 3  # 10 of 20 per rank, whole batches of 3
        assert loader.generator.initial_seed() == 5  # the workers' base seeds are drawn from it
        whole = [y.tolist() for _, y in loader]
        assert [y.tolist() for _, y in batches_after(loader, data, 1)] == whole[1:]
        orders.append(sum(whole, []))
    assert not set(orders[0]) & set(orders[1]) and orders[0] != sorted(orders[0])  # shares, shuffled
