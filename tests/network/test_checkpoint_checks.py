"""Checkpoints whose weights hold NaN or inf are refused on load, naming the file and the tensor.

Such weights make every output NaN (a diverged run, a damaged file): evaluating them would
write NaN measurements and exporting them a useless model. Stitched checkpoints (stitching
layers and tuned anchors) and anchor checkpoints (torch and safetensors) are each refused in one
line, through Python and the command line (exit 2, empty stdout, nothing written).
"""

from __future__ import annotations

import pytest
import torch
import yaml
from support import run_cli

from stitchnas.errors import StitchnasError, nonfinite_tensor
from stitchnas.network import StitchedNetwork, read_checkpoint, save_checkpoint
from stitchnas.space import load_space

REPO_SPACE = "tiny_test"


@pytest.fixture(scope="module")
def tiny():
    return load_space(REPO_SPACE)


@pytest.fixture(scope="module")
def good(tiny, tmp_path_factory):
    """A stitched checkpoint of tiny_test with tuned anchors (random weights)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "good.pt"
    save_checkpoint(path, StitchedNetwork(tiny, tiny.create_models(weights=False)), anchors_tuned=True)
    return path


def spoiled(good, tmp_path, section, value):
    doc = torch.load(good, weights_only=True)
    key = sorted(k for k, v in doc[section].items() if v.is_floating_point() and v.numel() > 3)[0]
    doc[section][key] = doc[section][key].clone()
    doc[section][key].view(-1)[:3] = value
    path = tmp_path / "bad.pt"
    torch.save(doc, path)
    return path, f"{section}.{key}"


CASES = [("stitch_layers", float("nan"), "3 NaN and 0 inf"), ("stitch_layers", float("inf"), "0 NaN and 3 inf"),
         ("anchors", float("nan"), "3 NaN and 0 inf"), ("anchors", -float("inf"), "0 NaN and 3 inf")]


@pytest.mark.parametrize("section, value, counts", CASES)
def test_read_checkpoint_names_the_tensor(tiny, good, tmp_path, section, value, counts):
    path, name = spoiled(good, tmp_path, section, value)
    with pytest.raises(StitchnasError) as err:
        read_checkpoint(path, tiny)
    text = str(err.value)
    assert f"checkpoint {path} is not usable: tensor {name!r} holds {counts}" in text
    assert "retrain" in text and "\n" not in text


def test_good_checkpoint_reads(tiny, good):
    assert read_checkpoint(good, tiny)["format"]


@pytest.mark.parametrize("argv", [
    ["export", "tiny_test", "--id", "2", "--checkpoint", "{ckpt}", "--out", "{d}/out/x"],
    ["evaluate", "tiny_test", "--data", "digits", "--ids", "2", "--checkpoint", "{ckpt}", "--out",
     "{d}/out/m.jsonl"],
], ids=["export", "evaluate"])
def test_cli_refuses_nan_stitched_checkpoint(good, tmp_path, capsys, argv):
    path, name = spoiled(good, tmp_path, "stitch_layers", float("nan"))
    before = path.read_bytes()
    code, out, err = run_cli(capsys, *[a.format(ckpt=path, d=tmp_path) for a in argv])
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith("stitchnas: error: checkpoint") and err.count("\n") == 1
    assert name in err and "NaN" in err
    assert path.read_bytes() == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_anchor_checkpoint_with_nan_is_refused(tiny, tmp_path, capsys, suffix):
    """An anchor checkpoint (a plain state dict) with an inf weight: `export` stops in one line
    naming the anchor, the file and the tensor."""
    models = tiny.create_models(weights=False)
    state = {k: v.clone() for k, v in models[0].state_dict().items()}
    state["head.weight"][0, 0] = float("inf")
    ckpt = tmp_path / f"anchor{suffix}"
    if suffix == ".pt":
        torch.save(state, ckpt)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(ckpt))
    doc = yaml.safe_load((tiny.path).read_text())
    doc["anchors"][0]["checkpoint"] = ckpt.name
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(doc))
    code, out, err = run_cli(capsys, "export", space, "--id", "0", "--out", tmp_path / "out" / "x")
    assert code == 2 and out == "", (code, out, err)
    assert err.count("\n") == 1
    assert f"anchor 's': checkpoint {ckpt} is not usable: tensor 'head.weight' holds 0 NaN and 1 inf" in err
    assert not (tmp_path / "out").exists()


def test_nonfinite_tensor_walks_nested_dicts_and_skips_integers():
    state = {"a": torch.zeros(2), "b": {"c": torch.tensor([1, 2]), "d": torch.tensor([0.0, float("nan")])}}
    assert nonfinite_tensor(state) == "'b.d' holds 1 NaN and 0 inf of 2 values"
    assert nonfinite_tensor({"n": torch.tensor([3])}) is None and nonfinite_tensor(None) is None


def test_the_retrain_hint_for_a_broken_default_checkpoint_works(tmp_path, capsys, monkeypatch):
    """A truncated checkpoint where `train` would resume from: the error's command starts over
    (--no-resume) instead of reading the broken file again, and running it succeeds."""
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
    (tmp_path / REPO_SPACE).mkdir()
    (tmp_path / REPO_SPACE / "stitched.pt").write_bytes(b"PK\x03\x04 cut short")
    quick = ("--data", "digits", "--epochs", "1", "--batch-size", "32", "--train-subset", "64")
    code, out, err = run_cli(capsys, "train", REPO_SPACE, *quick)
    assert code == 2 and len(err.strip().splitlines()) == 1
    hint = err.split("retrain it with `", 1)[1].split("`", 1)[0]
    assert hint == f"stitchnas train {REPO_SPACE} --no-resume"
    code, out, err = run_cli(capsys, *hint.split()[1:], *quick)
    assert code == 0, err
    assert read_checkpoint(tmp_path / REPO_SPACE / "stitched.pt", load_space(REPO_SPACE))["stitch_layers"]
