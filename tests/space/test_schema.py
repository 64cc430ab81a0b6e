"""The typed sections of a space file (training, run, data, stitching): every value checked for
type and range at load, one line naming file, section, key, value and what is expected; and the
command line's shared number types."""

from __future__ import annotations

import argparse
import dataclasses
import math

import pytest
import yaml

from stitchnas.errors import StitchnasError
from stitchnas.space import SECTIONS, SearchSpace, list_spaces, load_space

BASE = yaml.safe_load((load_space("tiny_test").path).read_text())


def test_schema_matches_the_configs_it_feeds():
    from stitchnas.measure import AnchorTrainConfig, StitchTrainConfig
    from stitchnas.workflows import RunConfig

    for section, cls in (("training.anchors", AnchorTrainConfig), ("training.stitching", StitchTrainConfig),
                         ("run", RunConfig)):
        assert set(SECTIONS[section]) == {f.name for f in dataclasses.fields(cls)}, section


def test_bundled_spaces_pass():
    for name in list_spaces():
        load_space(name)


BAD = [
    ({"training": {"anchors": {"lr": "fast"}}}, "training.anchors", "lr", "'fast'"),
    ({"training": {"anchors": {"lr": -1}}}, "training.anchors", "lr", "-1"),
    ({"training": {"anchors": {"lr": math.nan}}}, "training.anchors", "lr", "nan"),
    ({"training": {"anchors": {"epochs": -1}}}, "training.anchors", "epochs", "-1"),
    ({"training": {"anchors": {"epochs": 0}}}, "training.anchors", "epochs", "0"),
    ({"training": {"anchors": {"batch_size": True}}}, "training.anchors", "batch_size", "True"),
    ({"training": {"anchors": {"seed": -3}}}, "training.anchors", "seed", "-3"),
    ({"training": {"anchors": {"label_smoothing": 1.5}}}, "training.anchors", "label_smoothing", "1.5"),
    ({"training": {"stitching": {"epochs": 1.5}}}, "training.stitching", "epochs", "1.5"),
    ({"training": {"stitching": {"sampling": "random"}}}, "training.stitching", "sampling", "'random'"),
    ({"training": {"stitching": {"freeze_anchors": "yes"}}}, "training.stitching", "freeze_anchors", "'yes'"),
    ({"training": {"stitching": {"rank": 0}}}, "training.stitching", "rank", "0"),
    ({"training": {"stitching": {"anchor_lr": math.inf}}}, "training.stitching", "anchor_lr", "inf"),
    ({"run": {"targets": 5}}, "run", "targets", "5"),
    ({"run": {"targets": []}}, "run", "targets", "[]"),
    ({"run": {"initial": "8"}}, "run", "initial", "'8'"),
    ({"run": {"rounds": -1}}, "run", "rounds", "-1"),
    ({"run": {"device": "gpu"}}, "run", "device", "'gpu'"),
    ({"run": {"seed": 2 ** 40}}, "run", "seed", str(2 ** 40)),
    ({"run": {"stitching": {"lr": "x"}}}, "training.stitching", "lr", "'x'"),
    ({"data": {"name": 5}}, "data", "name", "5"),
]


@pytest.mark.parametrize("extra,section,key,value", BAD, ids=[f"{s}.{k}={v}" for _, s, k, v in BAD])
def test_bad_value_is_one_line_naming_section_key_value(extra, section, key, value, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**BASE, **extra}))
    with pytest.raises(StitchnasError) as err:
        load_space(path)
    text = str(err.value)
    assert "\n" not in text
    assert str(path) in text and f"section '{section}' key '{key}' must be" in text, text
    assert text.endswith(f"got {value}"), text


@pytest.mark.parametrize("extra,says", [
    ({"data": "digits"}, "section 'data' must be a mapping"),
    ({"training": "fast"}, "section 'training' must be a mapping with anchors and/or stitching"),
    ({"training": {"anchor": {}}}, "did you mean 'anchors'?"),
    ({"run": {"trails": 5}}, "did you mean 'trials'?"),
    ({"run": [1, 2]}, "section 'run' must be a mapping"),
    ({"stitching": {"rank": True}}, "stitching rank must be null or a positive integer, got True"),
])
def test_bad_section_shape(extra, says):
    with pytest.raises(StitchnasError, match=None) as err:
        SearchSpace.from_dict({**BASE, **extra})
    assert says in str(err.value)


def test_command_line_values_checked_too():
    from stitchnas.measure import AnchorTrainConfig, config_from_space

    space = load_space("tiny_test")
    with pytest.raises(StitchnasError, match="key 'lr' must be a finite number > 0"):
        config_from_space(AnchorTrainConfig, space, "anchors", lr=float("nan"))


@pytest.mark.parametrize("fn,good,bad", [
    ("positive_float", ["1e-3", "2"], ["nan", "inf", "-1", "0", "fast"]),
    ("positive_int", ["1", "7"], ["0", "-1", "1.5", "x"]),
    ("seed", ["0", "4294967295"], ["-1", "4294967296", "1.5"]),
    ("fraction", ["0.2", "0.99"], ["0", "1", "nan", "-0.1", "x"]),
    ("device", ["cpu"], ["gpu", "cuda:x", "", "cuda:99", "banana"]),  # cuda:99: no machine has it
])
def test_cli_types(fn, good, bad):
    from stitchnas.cli import _base

    check = getattr(_base, fn)
    for text in good:
        check(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            check(text)


def test_cli_device_is_one_this_machine_has():
    """--device names a device of this machine: a GPU machine takes cuda:0, others refuse it."""
    import torch

    from stitchnas.cli._base import device

    if torch.cuda.is_available():
        assert device("cuda:0") == "cuda:0"
        with pytest.raises(argparse.ArgumentTypeError, match=r"cuda device\(s\) \(cuda:0\.\."):
            device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="this machine has no cuda device"):
            device("cuda")
