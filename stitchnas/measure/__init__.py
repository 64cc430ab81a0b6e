"""Measured accuracy: data, training, evaluation, measurements files, SN-Net import."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "AnchorResult": "_train",
    "AnchorTrainConfig": "_train",
    "DATASET_NAMES": "_data",
    "DataSpec": "_data",
    "EvalResult": "_evaluate",
    "FASHION_MNIST_CLASSES": "_data",
    "FASHION_MNIST_ENV": "_data",
    "FASHION_MNIST_MEAN": "_data",
    "FASHION_MNIST_STD": "_data",
    "FASHION_MNIST_SYSTEM_DIR": "_data",
    "FIELDS": "_measurements",
    "FLOPS_TOLERANCE": "_snnet",
    "FlopsMismatch": "_snnet",
    "Measurement": "_measurements",
    "PUBLISHED_DATASET": "_snnet",
    "PublishedRow": "_snnet",
    "RouteSampler": "_train",
    "SnnetImport": "_snnet",
    "StitchTrainConfig": "_train",
    "StitchTrainResult": "_train",
    "accuracy": "_train",
    "anchor_data_config": "_data",
    "calibration_batch": "_data",
    "config_from_space": "_train",
    "evaluate_candidates": "_evaluate",
    "import_snnet": "_snnet",
    "import_warnings": "_snnet",
    "init_distributed": "_train",
    "load_datasets": "_data",
    "lock_path": "_measurements",
    "make_loader": "_data",
    "measure": "_evaluate",
    "mismatch_lines": "_snnet",
    "network_classes": "_evaluate",
    "parse_ids": "_evaluate",
    "prefix_tree_size": "_evaluate",
    "read_idx": "_data",
    "read_measurements": "_measurements",
    "read_snnet_results": "_snnet",
    "select_ids": "_evaluate",
    "train_anchors": "_train",
    "train_stitched": "_train",
    "write_measurements": "_measurements",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
