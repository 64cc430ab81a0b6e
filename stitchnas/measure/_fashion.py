"""Fashion-MNIST's four IDX files: where they are (a given folder, ``$STITCHNAS_FASHION_MNIST``,
Debian's ``dataset-fashion-mnist``, the cache, a torchvision download) and how they parse
(:func:`read_idx`, checked). :mod:`._data` turns them into datasets."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import socket
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import StitchnasError

__all__ = [
    "FASHION_MNIST_CLASSES", "FASHION_MNIST_ENV", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD",
    "FASHION_MNIST_SYSTEM_DIR", "load_fashion_split", "locate_fashion_mnist", "read_idx",
]

FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530
FASHION_MNIST_ENV = "STITCHNAS_FASHION_MNIST"
FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
_FASHION_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "val_images": "t10k-images-idx3-ubyte",
    "val_labels": "t10k-labels-idx1-ubyte",
}
_INSTALL_HINT = (
    "install it with `apt-get install -y dataset-fashion-mnist`, "
    "or pass --data-root DIR holding the four IDX files"
)
_DOWNLOAD_TIMEOUT_S = 20.0


_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse one IDX file (plain or gzipped); any damage is a StitchnasError naming the file."""
    path = Path(path)
    fix = "re-download or reinstall it (`apt-get install --reinstall -y dataset-fashion-mnist`)"
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StitchnasError(f"cannot read IDX file {path} ({reason}): {fix}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise StitchnasError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'none'}): {fix}")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise StitchnasError(f"IDX file {path} is truncated (header cut short): {fix}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise StitchnasError(
            f"IDX file {path} is truncated or corrupt ({len(raw)} bytes, header implies {expected}): {fix}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _idx_files_in(directory: Path) -> dict[str, Path] | None:
    """The four Fashion-MNIST files in ``directory`` (plain or .gz), or None if any is missing."""
    found = {}
    for key, stem in _FASHION_FILES.items():
        for candidate in (directory / stem, directory / f"{stem}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def _find_in(directory: Path) -> dict[str, Path] | None:
    # Also accept a torchvision download root (DIR/FashionMNIST/raw).
    for candidate in (directory, directory / "FashionMNIST" / "raw"):
        files = _idx_files_in(candidate)
        if files is not None:
            return files
    return None


def _cache_dir() -> Path:
    """Downloads go with stitchnas's other caches (:func:`stitchnas.paths.cache_dir`)."""
    from ..paths import cache_dir

    return cache_dir() / "data"


def _try_download(cache: Path) -> dict[str, Path] | None:
    """Let torchvision fetch Fashion-MNIST into ``cache``; None on any failure (e.g. offline)."""
    try:
        from torchvision.datasets import FashionMNIST

        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                FashionMNIST(root=str(cache), train=True, download=True)
                FashionMNIST(root=str(cache), train=False, download=True)
        finally:
            socket.setdefaulttimeout(previous)
    except Exception:  # network errors come in many types (URLError, RuntimeError, OSError...)
        return None
    return _find_in(cache)


def locate_fashion_mnist(root: str | None) -> dict[str, Path]:
    """Find the IDX files: ``root``, then $STITCHNAS_FASHION_MNIST, the Debian dir, a download."""
    names = "/".join(f"{stem}[.gz]" for stem in _FASHION_FILES.values())
    if root is not None:
        files = _find_in(Path(root).expanduser())
        if files is None:
            raise StitchnasError(f"Fashion-MNIST not found in {root} (need {names}): {_INSTALL_HINT}")
        return files
    env = os.environ.get(FASHION_MNIST_ENV)
    if env:
        files = _find_in(Path(env).expanduser())
        if files is None:
            raise StitchnasError(
                f"Fashion-MNIST not found in ${FASHION_MNIST_ENV}={env} (need {names}): {_INSTALL_HINT}"
            )
        return files
    files = _find_in(Path(FASHION_MNIST_SYSTEM_DIR))
    if files is not None:
        return files
    cache = _cache_dir()
    files = _find_in(cache) or _try_download(cache)
    if files is None:
        raise StitchnasError(
            f"Fashion-MNIST not found in {FASHION_MNIST_SYSTEM_DIR} or {cache} (download failed): {_INSTALL_HINT}"
        )
    return files


def load_fashion_split(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise StitchnasError(
            f"{images_path} holds {images.dtype} images of shape {images.shape}, expected uint8 (N, 28, 28): "
            "point --data-root at the Fashion-MNIST IDX files"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise StitchnasError(
            f"{labels_path} holds {labels.shape} labels for {images.shape[0]} images in {images_path}: "
            "the files come from different datasets; reinstall them"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(FASHION_MNIST_CLASSES)):
        raise StitchnasError(
            f"{labels_path} has labels outside 0..{len(FASHION_MNIST_CLASSES) - 1}: "
            "point --data-root at the Fashion-MNIST IDX files"
        )
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))
