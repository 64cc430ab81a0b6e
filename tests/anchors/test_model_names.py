"""Anchor model names in every form timm.create_model takes: registry names with pretrained tags,
hf-hub: (offline, from the Hugging Face cache) and local-dir:; and one-line refusals otherwise."""

import json

import pytest

from support import run_cli, write_space

ARGS = {"img_size": 28, "patch_size": 7, "in_chans": 1, "num_classes": 10, "embed_dim": 16,
        "depth": 2, "num_heads": 2}


def _config(arch="vit_tiny_patch16_224"):
    return {"architecture": arch, "num_classes": 10, "model_args": ARGS,
            "pretrained_cfg": {"input_size": [1, 28, 28], "num_classes": 10}}


def _hub_cache(root, repo="acme/tiny_vit"):
    """A Hugging Face cache holding one repo's config.json, laid out as huggingface_hub keeps it."""
    folder = root / "hub" / ("models--" + repo.replace("/", "--"))
    commit = "0" * 40
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps(_config()))
    return root


def _space(tmp_path, model, kwargs="{}"):
    return write_space(tmp_path, f"""
name: names
input_size: [1, 28, 28]
anchors:
  - {{name: a, model: "{model}", kwargs: {kwargs}}}
  - {{name: b, model: vit_tiny_patch16_224, kwargs: {{img_size: 28, patch_size: 7, in_chans: 1,
      num_classes: 10, embed_dim: 32, depth: 2, num_heads: 2}}}}
rule: {{type: snnet_v1, pairs: nearest}}
""")


@pytest.fixture(autouse=True)
def offline_hub(tmp_path, monkeypatch):
    """No network: huggingface_hub answers from tmp_path/hf/hub only (as HF_HUB_OFFLINE=1 does)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))


class Done:
    def __init__(self, code, out, err):
        self.returncode, self.stdout, self.stderr = code, out, err


@pytest.fixture
def enumerate_(capsys):
    return lambda space: Done(*run_cli(capsys, "enumerate", space))


def test_hf_hub_name_resolves_offline_from_the_cache(tmp_path, enumerate_):
    _hub_cache(tmp_path / "hf")
    done = enumerate_(_space(tmp_path, "hf-hub:acme/tiny_vit"))
    assert done.returncode == 0, done.stderr
    assert "candidates" in done.stdout or done.stdout.strip()


def test_hf_hub_name_not_cached_is_one_line(tmp_path, enumerate_):
    done = enumerate_(_space(tmp_path, "hf-hub:acme/not_there"))
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "\n" not in line and "Hugging Face cache" in line and "'a'" in line


def test_local_dir_name(tmp_path, enumerate_):
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(_config()))
    assert enumerate_(_space(tmp_path, f"local-dir:{folder}")).returncode == 0
    done = enumerate_(_space(tmp_path, f"local-dir:{tmp_path / 'missing'}"))
    assert done.returncode == 2 and "config.json" in done.stderr


@pytest.mark.parametrize("model, code", [
    ("vit_tiny_patch16_224.augreg_in21k", 0),     # a pretrained tag, as timm takes it
    ("acme/tiny_vit", 2),                          # a repo id without its hf-hub: prefix
    ("vit_tiny_patch16_24", 2),                    # a typo: did-you-mean
])
def test_registry_names(tmp_path, model, code, enumerate_):
    done = enumerate_(_space(tmp_path, model, "{img_size: 28, patch_size: 7, in_chans: 1, "
                             "num_classes: 10, embed_dim: 16, depth: 2, num_heads: 2}"))
    assert done.returncode == code, done.stderr
    if code:
        assert len(done.stderr.strip().splitlines()) == 1
