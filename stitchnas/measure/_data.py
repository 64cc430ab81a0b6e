"""Datasets for training and evaluating small vision models on CPU.

Three sources, all behind :func:`load_datasets`:

* ``fashion_mnist``: the four official IDX files, parsed with numpy and kept in memory;
* ``digits``: scikit-learn's bundled 8x8 digits (no download, ideal for tests and quick modes);
* ``imagefolder``: any ``root/{train,val}/<class>/<image>`` tree, with timm's transforms and
  the data config of the space's first anchor (``timm.data.resolve_model_data_config``: its
  interpolation, crop_pct, mean and std), see :func:`anchor_data_config`.

Every dataset yields ``(image, label)`` with ``image`` a float32 tensor of shape
``DataSpec.input_size``, so a model never has to know where its data came from.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from ..errors import StitchnasError
from ._fashion import (FASHION_MNIST_CLASSES, FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_fashion_split,
                       locate_fashion_mnist)

__all__ = [
    "DATASET_NAMES",
    "DataSpec",
    "anchor_data_config",
    "calibration_batch",
    "load_datasets",
    "loader_workers",
    "make_loader",
]

DATASET_NAMES = ("fashion_mnist", "digits", "imagefolder")

# Pre-normalised (and pre-resized) images are cached when they fit in this many bytes;
# bigger inputs (e.g. 224x224) are transformed batch by batch at access time instead.
_PRECOMPUTE_LIMIT_BYTES = 512 * 2**20


@dataclass(frozen=True)
class DataSpec:
    """Which dataset to load and in what shape the model wants its images.

    ``input_size`` is (C, H, W); ``train_subset``/``val_subset`` keep that many samples
    (chosen with ``seed``) for quick runs; ``seed`` also fixes the digits train/val split.
    ``data_config``: timm's data config (interpolation, crop_pct, crop_mode, mean, std) for
    ``imagefolder`` transforms, e.g. :func:`anchor_data_config`; None: timm's ImageNet defaults.
    ``augment``: an ImageFolder's training images, as the space file's ``data: {augment}``:
    None or ``"timm"`` timm's training transform (random-resized crop, flip, colour jitter),
    ``"none"`` the validation transform, or a mapping of ``timm.data.create_transform`` options
    (``scale``, ``hflip``, ...) over timm's. The built-in sets are never augmented.
    ``workers``: processes decoding an ImageFolder's images for every loader of it (0: in this
    process); the built-in sets are tensors in memory and take none.
    """

    name: str
    root: str | None = None
    input_size: tuple[int, int, int] = (1, 28, 28)
    train_subset: int | None = None
    val_subset: int | None = None
    seed: int = 0
    data_config: dict | None = field(default=None, hash=False)
    augment: str | dict | None = field(default=None, hash=False)
    workers: int = 0

    def label(self, val_images: int | None = None) -> str:
        """The ``dataset`` label that measurement rows carry, the one definition every writer and
        reader uses: name (an image folder with its absolute root), split, and ``subsetN`` when
        ``val_subset`` keeps ``val_images`` of the split (fewer than asked: the whole split, no
        ``subset``)."""
        name = self.name
        if self.name == "imagefolder" and self.root is not None:
            name = f"imagefolder({Path(self.root).expanduser().resolve()})"
        subset = f":subset{val_images if val_images is not None else self.val_subset}"
        whole = val_images is not None and self.val_subset is not None and val_images < self.val_subset
        return f"{name}:val" + (subset if self.val_subset and not whole else "")

    def study_key(self, val_images: int) -> str:
        """The data's part of a distributed evaluation's default study name (kept as it was, so
        existing studies resume)."""
        return f"{self.name}:val:{val_images}"

    def __post_init__(self) -> None:
        if self.name not in DATASET_NAMES:
            raise StitchnasError(
                f"unknown dataset {self.name!r}: use one of {', '.join(DATASET_NAMES)}"
            )
        size = tuple(self.input_size) if isinstance(self.input_size, (list, tuple)) else ()
        if len(size) != 3 or not all(_is_int(v) and v > 0 for v in size):
            raise StitchnasError(
                f"input_size must be three positive integers (C, H, W), got {self.input_size!r}: "
                "pass e.g. (1, 28, 28) or (3, 32, 32)"
            )
        object.__setattr__(self, "input_size", tuple(int(v) for v in size))
        for key in ("train_subset", "val_subset"):
            value = getattr(self, key)
            if value is not None and not (_is_int(value) and value > 0):
                raise StitchnasError(
                    f"{key} must be a positive integer or None, got {value!r}: "
                    "pass a sample count or leave it unset to use the whole split"
                )
        if self.root is not None:
            object.__setattr__(self, "root", os.fspath(self.root))
        if not (_is_int(self.workers) and 0 <= self.workers <= 256):
            raise StitchnasError(f"workers must be an integer 0..256, got {self.workers!r}: the processes "
                                 "decoding an ImageFolder's images (0: none)")
        if self.workers and self.name != "imagefolder":
            raise StitchnasError(f"workers {self.workers} apply to ImageFolder data only; {self.name} is "
                                 "loaded in memory: drop workers (or --workers)")
        if self.augment not in (None, "none") and self.name != "imagefolder":
            raise StitchnasError(
                f"augment {self.augment!r} applies to ImageFolder data only; {self.name} is never "
                "augmented: drop `augment` from the space file's data section (or set it to none)")


def space_data(space, name: str | None = None, root: str | os.PathLike | None = None,
               **fields) -> DataSpec:
    """The data set ``space`` trains and measures on: ``name`` (a data set name, or a folder:
    an ImageFolder) and ``root`` when given, else the space file's ``data: {name, root}``, whose
    relative paths are relative to the space file, as its checkpoints' are (given ones, to the
    working directory); at the space's input size, with timm's transforms of its first anchor
    for an ImageFolder. ``fields``: other :class:`DataSpec` fields (``val_subset``, ...)."""
    section = space.extra.get("data") or {}
    home = Path(space.path).parent if getattr(space, "path", None) else Path()
    in_file = {k: str(home / Path(section[k]).expanduser()) for k in ("name", "root")
               if section.get(k)}  # absolute stays
    if not name:
        name = section.get("name")
        if name and name not in DATASET_NAMES and Path(in_file["name"]).is_dir():
            name = in_file["name"]  # a folder beside the space file: an ImageFolder
    root = root or in_file.get("root")
    if not name:
        raise StitchnasError(f"space {space.name!r} names no dataset: add `data: {{name: fashion_mnist}}` "
                             "(or digits, or an ImageFolder DIR) to the space file")
    if name not in DATASET_NAMES and Path(name).is_dir():  # a built-in name wins over a folder: ./NAME
        name, root = "imagefolder", name
    elif name not in DATASET_NAMES:
        _refuse_data_name(name)
    config = None
    if name == "imagefolder":  # timm's transforms with the first anchor's data config
        config = anchor_data_config(space)
    options = {"augment": section.get("augment"), "workers": section.get("workers") or 0}
    given = [k for k, v in options.items() if v not in (None, "none", 0)]
    if given and section.get("name") in ("fashion_mnist", "digits"):
        raise StitchnasError(f"space {space.name!r}: `{given[0]}: {options[given[0]]}` in its data section "
                             f"applies to ImageFolder data only; {section['name']} is a built-in set, in "
                             "memory and never augmented: drop it")
    if name == "imagefolder":  # the file's options are for its folder; a built-in given instead has none
        for key, value in options.items():
            fields.setdefault(key, value)
    return DataSpec(name=name, root=root, input_size=tuple(space.input_size), data_config=config, **fields)


def _refuse_data_name(name: str) -> None:
    """One line for a ``--data`` (or ``data: {name}``) that is neither a data set nor a folder:
    a path that does not exist or is a file says so; a misspelt name gets the close matches."""
    from .._util import close_matches

    path = Path(name).expanduser()
    if path.exists():
        raise StitchnasError(f"data {name!r} is a file, not a folder: an ImageFolder is a folder "
                             "holding train/ and val/, one sub-folder per class")
    if any(sep in name for sep in ("/", "\\")) or name.startswith((".", "~")):
        raise StitchnasError(f"no data folder at {name!r}: give an existing ImageFolder folder (train/ and "
                             f"val/ inside) or one of {', '.join(DATASET_NAMES)}")
    close = close_matches(name, DATASET_NAMES, 2)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise StitchnasError(f"unknown dataset {name!r}{hint}: use one of {', '.join(DATASET_NAMES)}, "
                         "or an ImageFolder folder (train/ and val/ inside)")


def loader_workers(dataset: Dataset) -> int:
    """The worker processes a dataset of :func:`load_datasets` is read with (through subsets)."""
    while isinstance(dataset, Subset) and not hasattr(dataset, "loader_workers"):
        dataset = dataset.dataset
    return int(getattr(dataset, "loader_workers", 0))


# What a loader worker needs to unpickle a dataset of load_datasets (an ImageFolder with timm's
# transforms): the fork server imports them once, so each worker starts from them.
_WORKER_PRELOAD = ["torch", "torchvision", "timm", "stitchnas.measure._data"]


def worker_context(num_workers: int):
    """The multiprocessing context loader workers start in: a fork server where the platform has one
    (None, the platform's default, elsewhere or for ``num_workers`` 0).

    Forking this process itself (Linux's default before Python 3.14) copies a process that runs
    threads (torch's, a progress bar's); Python 3.12+ warns that the child can deadlock. A fork
    server is a fresh single-threaded process that imports the modules above once, so a worker does
    not import torch again (what it costs: docs/training.md, "Workers")."""
    if num_workers == 0 or "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_WORKER_PRELOAD)  # once a server runs, its workers import what it lacks
    return context


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def load_datasets(spec: DataSpec) -> tuple[Dataset, Dataset, int]:
    """Return ``(train, val, num_classes)`` for ``spec``, subsets applied."""
    if spec.name == "fashion_mnist":
        train, val, num_classes = _load_fashion_mnist(spec)
    elif spec.name == "digits":
        train, val, num_classes = _load_digits(spec)
    elif spec.name == "imagefolder":
        train, val, num_classes = _load_imagefolder(spec)
    else:  # DataSpec validates names; this guards specs built with object.__new__ & co.
        raise StitchnasError(
            f"unknown dataset {spec.name!r}: use one of {', '.join(DATASET_NAMES)}"
        )
    return (
        _subset(train, spec.train_subset, spec.seed),
        _subset(val, spec.val_subset, spec.seed),
        num_classes,
    )


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    num_workers: int | None = None,
    drop_last: bool = False,
    sampler=None,
) -> DataLoader:
    """A DataLoader whose shuffling (and worker seeding) is reproducible from ``seed`` (for a
    given number of workers). ``num_workers`` None: the dataset's own, as its
    :class:`DataSpec` asked (:func:`loader_workers`). ``sampler``: an order of its own (a
    ``DistributedSampler``) in place of ``shuffle``; ``seed`` then seeds the workers alone."""
    num_workers = loader_workers(dataset) if num_workers is None else num_workers
    if not (_is_int(batch_size) and batch_size > 0):
        raise StitchnasError(f"batch_size must be a positive integer, got {batch_size!r}: pass e.g. 64")
    if not (_is_int(num_workers) and num_workers >= 0):
        raise StitchnasError(f"num_workers must be an integer >= 0, got {num_workers!r}: pass 0 to load in-process")
    generator = torch.Generator().manual_seed(int(seed))
    return DataLoader(
        dataset,
        batch_size=int(batch_size),
        shuffle=bool(shuffle) and sampler is None,
        sampler=sampler,
        generator=generator,
        num_workers=int(num_workers),
        drop_last=bool(drop_last),
        persistent_workers=num_workers > 0,
        multiprocessing_context=worker_context(num_workers),
    )


def calibration_batch(dataset: Dataset, n: int, seed: int = 0) -> torch.Tensor:
    """Stack the images of ``n`` samples picked with ``seed`` (all of them if fewer).

    Random augmentations, if any, are run under a fixed seed too, so the batch is
    identical from call to call: stitching layers fitted on it are reproducible.
    """
    if not (_is_int(n) and n > 0):
        raise StitchnasError(f"calibration size must be a positive integer, got {n!r}: pass e.g. 256")
    total = len(dataset)
    if total == 0:
        raise StitchnasError("cannot draw a calibration batch from an empty dataset: check the data source")
    generator = torch.Generator().manual_seed(int(seed))
    indices = torch.randperm(total, generator=generator)[: min(int(n), total)].tolist()
    py_state = random.getstate()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            random.seed(int(seed))
            if hasattr(dataset, "__getitems__"):
                samples = dataset.__getitems__(indices)
            else:
                samples = [dataset[i] for i in indices]
    finally:
        random.setstate(py_state)
    return torch.stack([sample[0] for sample in samples]).contiguous()


# --------------------------------------------------------------------------- in-memory datasets


class _TensorImageDataset(Dataset):
    """Gray images held as one uint8 tensor (N, 1, h, w), served normalised at ``input_size``.

    The float version is computed once when it fits in memory, so ``__getitem__`` is an
    index; otherwise batches are converted on access. Channels are repeated for C > 1.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        input_size: tuple[int, int, int],
        max_value: float,
        mean: float,
        std: float,
        classes: Sequence[str],
    ) -> None:
        if images.ndim == 3:
            images = images.unsqueeze(1)
        assert images.ndim == 4 and images.shape[1] == 1 and images.dtype == torch.uint8
        assert labels.shape == (images.shape[0],)
        self.raw = images
        self.targets = labels.to(torch.int64)
        self.input_size = tuple(input_size)
        self.max_value = float(max_value)
        self.mean = float(mean)
        self.std = float(std)
        self.classes = tuple(classes)
        _, h, w = self.input_size
        self._cache: torch.Tensor | None = None
        if images.shape[0] * h * w * 4 <= _PRECOMPUTE_LIMIT_BYTES:
            chunks = [self._convert(part) for part in images.split(8192)]
            self._cache = torch.cat(chunks) if chunks else torch.empty(0, 1, h, w)

    def _convert(self, raw: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 1, h, w) -> normalised float32 (B, 1, H, W)."""
        x = raw.to(torch.float32).div_(self.max_value)
        _, h, w = self.input_size
        if x.shape[-2:] != (h, w):
            downsampling = h < x.shape[-2] or w < x.shape[-1]
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=downsampling)
        return x.sub_(self.mean).div_(self.std)

    def _images(self, index) -> torch.Tensor:
        x = self._cache[index] if self._cache is not None else self._convert(self.raw[index])
        channels = self.input_size[0]
        return x.repeat(1, channels, 1, 1) if channels != 1 else x

    def subset(self, indices: torch.Tensor) -> "_TensorImageDataset":
        """A smaller copy holding only ``indices`` (cheaper than a generic Subset)."""
        out = _TensorImageDataset.__new__(_TensorImageDataset)
        out.__dict__.update(self.__dict__)
        out.raw = self.raw[indices]
        out.targets = self.targets[indices]
        out._cache = self._cache[indices] if self._cache is not None else None
        return out

    def __len__(self) -> int:
        return int(self.raw.shape[0])

    def __getitem__(self, index: int):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        return self._images(slice(index, index + 1 if index != -1 else None))[0], self.targets[index]

    def __getitems__(self, indices: Sequence[int]):
        """Batched fetch used by DataLoader: one indexing op instead of one per sample."""
        idx = torch.as_tensor(list(indices), dtype=torch.int64)
        return list(zip(self._images(idx).unbind(0), self.targets[idx].unbind(0)))


def _subset(dataset: Dataset, size: int | None, seed: int) -> Dataset:
    """Deterministic random subset of ``size`` samples, kept in original order (all of them,
    with a warning, when ``size`` is more than there are)."""
    if size is not None and size > len(dataset):
        from ..progress import get_logger

        get_logger("data").warning(f"a subset of {size} asked of {len(dataset)} images: using all {len(dataset)}")
    if size is None or size >= len(dataset):
        return dataset
    generator = torch.Generator().manual_seed(int(seed))
    indices = torch.randperm(len(dataset), generator=generator)[:size].sort().values
    if isinstance(dataset, _TensorImageDataset):
        return dataset.subset(indices)
    return Subset(dataset, indices.tolist())


# --------------------------------------------------------------------------- Fashion-MNIST


def _load_fashion_mnist(spec: DataSpec):
    files = locate_fashion_mnist(spec.root)
    splits = []
    for part, subset_size in (("train", spec.train_subset), ("val", spec.val_subset)):
        images, labels = load_fashion_split(files[f"{part}_images"], files[f"{part}_labels"])
        # Subset the raw bytes first so quick modes never normalise all 60k images.
        if subset_size is not None and subset_size < len(labels):
            g = torch.Generator().manual_seed(int(spec.seed))
            keep = torch.randperm(len(labels), generator=g)[:subset_size].sort().values
            images, labels = images[keep], labels[keep]
        splits.append(
            _TensorImageDataset(
                images, labels, spec.input_size, 255.0,
                FASHION_MNIST_MEAN, FASHION_MNIST_STD, FASHION_MNIST_CLASSES,
            )
        )
    return splits[0], splits[1], len(FASHION_MNIST_CLASSES)


# --------------------------------------------------------------------------- scikit-learn digits


def _load_digits(spec: DataSpec):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = bunch.images.astype(np.uint8)  # 0..16 gray levels, (1797, 8, 8)
    labels = bunch.target.astype(np.int64)
    x_train, x_val, y_train, y_val = train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=int(spec.seed) % 2**32
    )
    scaled = x_train.astype(np.float64) / 16.0
    mean, std = float(scaled.mean()), float(scaled.std())  # statistics of the train split only
    classes = tuple(str(c) for c in bunch.target_names)

    def build(x, y):
        return _TensorImageDataset(
            torch.from_numpy(x), torch.from_numpy(y), spec.input_size, 16.0, mean, std, classes
        )

    return build(x_train, y_train), build(x_val, y_val), len(classes)


# --------------------------------------------------------------------------- image folders


def _open_image(path: str, mode: str):
    """PIL loader for ImageFolder converting to ``mode`` ("L" or "RGB"); module level so it pickles.
    A file PIL cannot read (not an image, truncated) is a one-line error naming it."""
    from PIL import Image

    try:
        with open(path, "rb") as fh:
            return Image.open(fh).convert(mode)
    except OSError as err:  # PIL's UnidentifiedImageError and truncated files are OSErrors
        from PIL import UnidentifiedImageError

        why = ("not an image PIL can identify" if isinstance(err, UnidentifiedImageError)
               else (str(err).splitlines() or [type(err).__name__])[0])
        raise StitchnasError(f"cannot read image {os.path.abspath(path)} ({why}): remove or replace it; "
                             "every file under the data folder's train/ and val/ class folders must be "
                             "an image") from err


def _channels_fit(values, channels: int) -> tuple[float, ...]:
    """Per-channel mean/std for ``channels``: gray images get the mean of RGB values."""
    values = tuple(float(v) for v in values)
    if len(values) == channels:
        return values
    if channels == 1 or len(values) == 1:
        return (float(np.mean(values)),) * channels
    raise StitchnasError(f"data config has {len(values)} mean/std values for {channels} channels: "
                         "give one per channel")


def anchor_data_config(model, input_size: Sequence[int] | None = None) -> dict:
    """timm's data config of an anchor model (``timm.data.resolve_model_data_config``: its
    pretrained_cfg's interpolation, crop_pct, crop_mode, mean and std, e.g. DeiT's bicubic and
    0.9), at ``input_size`` (the space's; C=1 gets the channel mean of mean/std).

    ``model`` is a timm model or a :class:`~stitchnas.space.SearchSpace`, whose first anchor is
    built on the meta device (no weights) to read its config."""
    from timm.data import resolve_model_data_config

    from ..space import SearchSpace

    if isinstance(model, SearchSpace):
        from ..anchors import create_anchor_model

        space = model
        input_size = space.input_size if input_size is None else input_size
        model = create_anchor_model(space.anchors[0], weights=False, device="meta")
    cfg = dict(resolve_model_data_config(model))
    if input_size is not None:
        cfg["input_size"] = tuple(int(v) for v in input_size)
    channels = cfg["input_size"][0]
    cfg["mean"], cfg["std"] = _channels_fit(cfg["mean"], channels), _channels_fit(cfg["std"], channels)
    return cfg


def _transform(spec: DataSpec, training: bool, **options):
    """timm's transform of an ImageFolder's training or validation images, as ``spec.augment``
    asks for training ones."""
    from timm.data import create_transform

    augment = spec.augment if training else "none"
    if augment == "none":
        return create_transform(input_size=spec.input_size, is_training=False, **options)
    extra = dict(augment) if isinstance(augment, dict) else {}
    for key in ("scale", "ratio"):
        if key in extra:
            extra[key] = tuple(extra[key])
    try:
        return create_transform(input_size=spec.input_size, is_training=True, **options, **extra)
    except Exception as err:  # timm raises what it likes for a policy string it cannot parse
        raise StitchnasError(f"timm cannot build the training transform with augment {augment!r} "
                             f"({type(err).__name__}: {err}): fix the space file's data: {{augment}}") from err


def _load_imagefolder(spec: DataSpec):
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
    from torchvision.datasets import ImageFolder

    layout = "ROOT/train/<class>/<image> and ROOT/val/<class>/<image>"
    if spec.root is None:
        raise StitchnasError(f"imagefolder needs a root directory: pass --data-root ROOT laid out as {layout}")
    root = Path(spec.root).expanduser()
    if not root.is_dir():
        raise StitchnasError(f"image folder {root} does not exist: pass --data-root ROOT laid out as {layout}")
    for part in ("train", "val"):
        if not (root / part).is_dir():
            raise StitchnasError(f"image folder {root} has no {part}/ subfolder: lay it out as {layout}")

    channels = spec.input_size[0]
    if channels == 1:
        mode = "L"
        mean = (float(np.mean(IMAGENET_DEFAULT_MEAN)),)
        std = (float(np.mean(IMAGENET_DEFAULT_STD)),)
    elif channels == 3:
        mode, mean, std = "RGB", tuple(IMAGENET_DEFAULT_MEAN), tuple(IMAGENET_DEFAULT_STD)
    else:
        raise StitchnasError(
            f"imagefolder supports 1 (gray) or 3 (RGB) channels, got input_size {spec.input_size}: "
            "use C=1 or C=3"
        )
    loader = functools.partial(_open_image, mode=mode)
    cfg = dict(spec.data_config or {})
    if cfg.get("mean") is not None:
        mean = _channels_fit(cfg["mean"], channels)
    if cfg.get("std") is not None:
        std = _channels_fit(cfg["std"], channels)
    options = {k: cfg[k] for k in ("interpolation", "crop_pct", "crop_mode") if cfg.get(k) is not None}

    datasets = {}
    for part in ("train", "val"):
        transform = _transform(spec, part == "train", mean=mean, std=std, **options)
        try:
            datasets[part] = ImageFolder(str(root / part), transform=transform, loader=loader)
        except (FileNotFoundError, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StitchnasError(
                f"no usable images in {root / part} ({reason}): lay it out as {layout}"
            ) from None
    for dataset in datasets.values():
        dataset.loader_workers = spec.workers
    if datasets["train"].classes != datasets["val"].classes:
        only_train = sorted(set(datasets["train"].classes) - set(datasets["val"].classes))
        only_val = sorted(set(datasets["val"].classes) - set(datasets["train"].classes))
        raise StitchnasError(
            f"train/ and val/ in {root} have different class folders (only in train: {only_train}, "
            f"only in val: {only_val}): give both the same class subfolders"
        )
    return datasets["train"], datasets["val"], len(datasets["train"].classes)
