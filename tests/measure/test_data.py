"""Tests for stitchnas.measure data loading: real loading of digits, Fashion-MNIST files and image folders."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from support import make_image_tree
import torch

from stitchnas.measure import (DATASET_NAMES, DataSpec, calibration_batch, load_datasets, make_loader, read_idx)
from stitchnas.errors import StitchnasError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not FASHION_DIR.is_dir(), reason="dataset-fashion-mnist is not installed"
)
IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    """Write a uint8 array in IDX format (the layout of the official files)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def write_fake_fashion(directory: Path, n_train: int = 40, n_val: int = 20, compress: bool = False):
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_val, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_val) % 10,
    }
    for name, array in arrays.items():
        write_idx(directory / f"{name}{suffix}", array, compress)
    return arrays


# --------------------------------------------------------------------------- DataSpec


def test_dataspec_validates_and_normalises_fields():
    spec = DataSpec("digits", input_size=[1, 8, 8])
    assert spec.input_size == (1, 8, 8)
    with pytest.raises(StitchnasError, match="unknown dataset 'cifar'.*fashion_mnist, digits, imagefolder"):
        DataSpec("cifar")
    with pytest.raises(StitchnasError, match="input_size"):
        DataSpec("digits", input_size=(28, 28))
    with pytest.raises(StitchnasError, match="train_subset"):
        DataSpec("digits", train_subset=0)
    assert set(DATASET_NAMES) == {"fashion_mnist", "digits", "imagefolder"}


# --------------------------------------------------------------------------- digits


def test_digits_shapes_dtypes_and_labels():
    train, val, k = load_datasets(DataSpec("digits", input_size=(1, 8, 8)))
    assert k == 10
    assert len(train) + len(val) == 1797
    assert abs(len(val) - 0.2 * 1797) < 2
    x, y = train[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32
    assert int(y) in range(10)
    labels = torch.tensor([int(val[i][1]) for i in range(len(val))])
    assert labels.min() >= 0 and labels.max() <= 9
    # Stratified: every class appears in val with roughly its share (~36 each).
    counts = torch.bincount(labels, minlength=10)
    assert counts.min() >= 30
    # Normalised with train statistics: roughly zero mean, unit std over the train split.
    xs = calibration_batch(train, len(train))
    assert abs(xs.mean().item()) < 1e-3 and abs(xs.std().item() - 1) < 1e-2


def test_digits_split_depends_on_seed_and_is_deterministic():
    a, _, _ = load_datasets(DataSpec("digits", input_size=(1, 8, 8), seed=1))
    b, _, _ = load_datasets(DataSpec("digits", input_size=(1, 8, 8), seed=1))
    c, _, _ = load_datasets(DataSpec("digits", input_size=(1, 8, 8), seed=2))
    xa, xb, xc = (calibration_batch(d, 64) for d in (a, b, c))
    assert torch.equal(xa, xb)
    assert not torch.equal(xa, xc)


def test_digits_resized_to_three_channels():
    train, val, _ = load_datasets(DataSpec("digits", input_size=(3, 32, 32), val_subset=10))
    x, _ = train[3]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x[0], x[1]) and torch.equal(x[0], x[2])
    assert len(val) == 10


def test_subsets_are_deterministic_and_capped(caplog):
    spec = DataSpec("digits", input_size=(1, 8, 8), train_subset=100, val_subset=50, seed=3)
    t1, v1, _ = load_datasets(spec)
    t2, v2, _ = load_datasets(spec)
    assert (len(t1), len(v1)) == (100, 50)
    assert torch.equal(calibration_batch(t1, 100), calibration_batch(t2, 100))
    assert torch.equal(t1.targets, t2.targets)
    other, _, _ = load_datasets(DataSpec("digits", input_size=(1, 8, 8), train_subset=100, seed=4))
    assert not torch.equal(calibration_batch(t1, 100), calibration_batch(other, 100))
    big_spec = DataSpec("digits", input_size=(1, 8, 8), train_subset=10**6, val_subset=10**6)
    with caplog.at_level("WARNING", logger="stitchnas"):
        big, bigval, _ = load_datasets(big_spec)
    assert len(big) + len(bigval) == 1797
    assert f"a subset of 1000000 asked of {len(bigval)} images: using all {len(bigval)}" in caplog.text
    # the whole split is labelled as such, not as a subset of it
    assert big_spec.label(len(bigval)) == "digits:val" and spec.label(len(v1)) == "digits:val:subset50"


# --------------------------------------------------------------------------- loaders & calibration


def test_loader_order_is_reproducible_from_seed():
    train, _, _ = load_datasets(DataSpec("digits", input_size=(1, 8, 8), train_subset=200))

    def order(seed):
        return torch.cat([y for _, y in make_loader(train, 32, shuffle=True, seed=seed)])

    assert torch.equal(order(7), order(7))
    assert not torch.equal(order(7), order(8))
    batches = list(make_loader(train, 32, shuffle=False))
    assert torch.equal(torch.cat([y for _, y in batches]), train.targets)
    x, y = batches[0]
    assert x.shape == (32, 1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert len(list(make_loader(train, 32, shuffle=True, drop_last=True))) == 200 // 32


def test_calibration_batch_is_deterministic():
    train, _, _ = load_datasets(DataSpec("digits", input_size=(3, 16, 16)))
    a = calibration_batch(train, 20, seed=5)
    assert a.shape == (20, 3, 16, 16) and a.dtype == torch.float32
    assert torch.equal(a, calibration_batch(train, 20, seed=5))
    assert not torch.equal(a, calibration_batch(train, 20, seed=6))
    assert calibration_batch(train, 10**6).shape[0] == len(train)
    with pytest.raises(StitchnasError, match="positive"):
        calibration_batch(train, 0)


# --------------------------------------------------------------------------- Fashion-MNIST files


@pytest.mark.parametrize("compress", [False, True])
def test_fashion_mnist_from_idx_files(tmp_path, compress):
    arrays = write_fake_fashion(tmp_path, compress=compress)
    train, val, k = load_datasets(DataSpec("fashion_mnist", root=str(tmp_path)))
    assert (len(train), len(val), k) == (40, 20, 10)
    x, y = train[1]
    expected = (arrays["train-images-idx3-ubyte"][1] / 255.0 - 0.2860) / 0.3530
    assert x.shape == (1, 28, 28)
    assert np.allclose(x[0].numpy(), expected, atol=1e-5)
    assert int(y) == 1 and y.dtype == torch.int64


def test_read_idx_roundtrip(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", array)
    assert np.array_equal(read_idx(tmp_path / "a.idx"), array)


def test_missing_fashion_mnist_dir_explains_install(tmp_path):
    with pytest.raises(StitchnasError) as info:
        load_datasets(DataSpec("fashion_mnist", root=str(tmp_path)))
    message = str(info.value)
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert str(tmp_path) in message and "\n" not in message


@pytest.mark.parametrize(
    "payload",
    [b"this is not an idx file at all", b"\x1f\x8b\x08garbage-gzip", bytes([0, 0, 8, 3, 0, 0, 0, 9]) + b"\0" * 20],
    ids=["bad-magic", "bad-gzip", "truncated"],
)
def test_corrupt_idx_file_is_named(tmp_path, payload):
    write_fake_fashion(tmp_path)
    bad = tmp_path / "train-labels-idx1-ubyte"
    bad.write_bytes(payload)
    with pytest.raises(StitchnasError) as info:
        load_datasets(DataSpec("fashion_mnist", root=str(tmp_path)))
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_fashion_mnist_env_var_is_used(tmp_path, monkeypatch):
    write_fake_fashion(tmp_path, n_train=12, n_val=6)
    monkeypatch.setenv("STITCHNAS_FASHION_MNIST", str(tmp_path))
    train, val, _ = load_datasets(DataSpec("fashion_mnist"))
    assert (len(train), len(val)) == (12, 6)


@needs_fashion
def test_debian_fashion_mnist_subsets_and_resize():
    spec = DataSpec("fashion_mnist", root=str(FASHION_DIR), input_size=(3, 32, 32),
                    train_subset=500, val_subset=200, seed=1)
    train, val, k = load_datasets(spec)
    assert (len(train), len(val), k) == (500, 200, 10)
    x, y = train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x[0], x[2])
    assert train.targets.min() >= 0 and train.targets.max() <= 9
    assert len(torch.unique(train.targets)) == 10
    again, _, _ = load_datasets(spec)
    assert torch.equal(train.targets, again.targets)
    assert torch.equal(calibration_batch(train, 16), calibration_batch(again, 16))


@needs_fashion
def test_debian_fashion_mnist_full_sizes():
    train, val, k = load_datasets(DataSpec("fashion_mnist", root=str(FASHION_DIR)))
    assert (len(train), len(val), k) == (60000, 10000, 10)
    assert torch.equal(torch.bincount(train.targets), torch.full((10,), 6000))
    x, _ = val[0]
    assert x.shape == (1, 28, 28)


# --------------------------------------------------------------------------- image folders


@pytest.mark.parametrize("input_size", [(3, 32, 32), (1, 16, 16)])
def test_imagefolder_loads(tmp_path, input_size):
    make_image_tree(tmp_path)
    train, val, k = load_datasets(DataSpec("imagefolder", root=str(tmp_path), input_size=input_size))
    assert k == 3 and len(train) == 9 and len(val) == 9
    for dataset in (train, val):
        x, y = dataset[4]
        assert x.shape == input_size and x.dtype == torch.float32
        assert y == 1  # sorted classes: cat=0, dog=1, fox=2
    xb, yb = next(iter(make_loader(train, 4, shuffle=True)))
    assert xb.shape == (4, *input_size)
    cal = calibration_batch(train, 5, seed=2)  # augmented, yet reproducible
    assert torch.equal(cal, calibration_batch(train, 5, seed=2))
    sub, _, _ = load_datasets(DataSpec("imagefolder", root=str(tmp_path), input_size=input_size, train_subset=4))
    assert len(sub) == 4


def test_imagefolder_missing_val_errors(tmp_path):
    make_image_tree(tmp_path, parts=("train",))
    with pytest.raises(StitchnasError, match=r"no val/ subfolder.*train/<class>"):
        load_datasets(DataSpec("imagefolder", root=str(tmp_path), input_size=(3, 32, 32)))


def test_imagefolder_missing_root_errors(tmp_path):
    with pytest.raises(StitchnasError, match="does not exist"):
        load_datasets(DataSpec("imagefolder", root=str(tmp_path / "nope"), input_size=(3, 32, 32)))
    with pytest.raises(StitchnasError, match="--data-root"):
        load_datasets(DataSpec("imagefolder", input_size=(3, 32, 32)))


def test_imagefolder_empty_and_mismatched_classes_error(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    (tmp_path / "val" / "a").mkdir(parents=True)
    with pytest.raises(StitchnasError, match="no usable images"):
        load_datasets(DataSpec("imagefolder", root=str(tmp_path), input_size=(3, 32, 32)))
    other = tmp_path / "other"
    make_image_tree(other, classes=("a", "b"), parts=("train",))
    make_image_tree(other, classes=("a", "c"), parts=("val",))
    with pytest.raises(StitchnasError, match="different class folders"):
        load_datasets(DataSpec("imagefolder", root=str(other), input_size=(3, 32, 32)))


def test_a_download_in_the_cache_folder_is_found(tmp_path, monkeypatch):
    """Not installed system-wide and no $STITCHNAS_FASHION_MNIST: the files torchvision downloaded
    into <cache>/data (its FashionMNIST/raw layout) are read, without downloading again."""
    import stitchnas.measure._fashion as fashion

    raw = tmp_path / "cache" / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    write_fake_fashion(raw, compress=True)
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(fashion.FASHION_MNIST_ENV, raising=False)
    monkeypatch.setattr(fashion, "FASHION_MNIST_SYSTEM_DIR", str(tmp_path / "not-installed"))
    monkeypatch.setattr(fashion, "_try_download", lambda cache: pytest.fail(f"downloaded into {cache}"))
    files = fashion.locate_fashion_mnist(None)
    assert {p.parent for p in files.values()} == {raw}
