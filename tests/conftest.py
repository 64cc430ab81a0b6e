from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the profile cache of each test session out of the user's home."""
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def write_space(tmp_path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


TINY_VIT = (
    "{{model: vit_tiny_patch16_224, name: {name}, kwargs: {{img_size: 28, patch_size: {patch}, "
    "in_chans: 1, num_classes: 10, embed_dim: {dim}, depth: {depth}, num_heads: 2}}}}"
)


def tiny_anchor(name: str, dim: int, depth: int = 4, patch: int = 7) -> str:
    return TINY_VIT.format(name=name, dim=dim, depth=depth, patch=patch)


def run_cli(capsys, *argv):
    """Run the CLI in-process: (exit code, stdout, stderr), argparse's own exits included."""
    from stitchnas.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err
