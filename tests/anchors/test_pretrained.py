"""The demo anchors that ship with stitchnas: the files ``anchors.json`` describes (sha256), the
space loads them from the package (``${pretrained}``), and they are real trained weights."""

import hashlib
import json
from pathlib import Path

import pytest
import torch

from stitchnas.paths import pretrained_dir
from stitchnas.space import load_space

from stitchnas.space import DEFAULT_SPACE

PRETRAINED = Path(__file__).resolve().parents[2] / "stitchnas" / "pretrained"
HERE = PRETRAINED / "fmnist_vit_2way"
SHIPPED = ["fmnist_resnet_grown", "fmnist_vit_2way"]  # the default and the earlier one


def test_the_default_space_ships_its_anchors():
    assert DEFAULT_SPACE in SHIPPED and sorted(p.name for p in PRETRAINED.iterdir() if p.is_dir()) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_files_match_their_record(name):
    doc = json.loads((PRETRAINED / name / "anchors.json").read_text())
    assert doc["command"] == f"stitchnas train-anchors {name}"
    assert [a["name"] for a in doc["anchors"]] == ["tiny", "small", "base"]
    for a in doc["anchors"]:
        assert hashlib.sha256((PRETRAINED / name / a["file"]).read_bytes()).hexdigest() == a["sha256"]
    accs = [a["acc1"] for a in doc["anchors"]]
    assert accs == sorted(accs) and accs[0] > 80  # larger anchors are better: the demo's trade-off


@pytest.mark.parametrize("name", SHIPPED)
def test_space_loads_the_shipped_weights(monkeypatch, name):
    monkeypatch.delenv("STITCHNAS_PRETRAINED", raising=False)
    space = load_space(name)
    assert pretrained_dir() == PRETRAINED
    for a in space.anchors:
        assert Path(a.checkpoint) == PRETRAINED / name / f"{a.name}.pt"
    from stitchnas.anchors import create_anchor_model

    model = create_anchor_model(space.anchors[0])
    sd = torch.load(PRETRAINED / name / "tiny.pt", weights_only=True)
    for k, v in model.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_pretrained_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STITCHNAS_PRETRAINED", str(tmp_path))
    space = load_space("fmnist_vit_2way")
    assert Path(space.anchors[1].checkpoint) == tmp_path.resolve() / "fmnist_vit_2way" / "small.pt"
    # the file name, not the folder, enters the space's hash: measurements stay valid
    monkeypatch.delenv("STITCHNAS_PRETRAINED")
    assert load_space("fmnist_vit_2way").content_hash == space.content_hash
