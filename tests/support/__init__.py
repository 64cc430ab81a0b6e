"""Test helpers shared by the test modules: paths, tiny anchors, running the CLI in-process."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"


def write_space(tmp_path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def write_files(root: Path, files: dict) -> None:
    """Write ``{relative path: text}`` under ``root``, folders made (e.g. a fake cgroup mount)."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


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


def make_image_tree(root: Path, classes=("cat", "dog", "fox"), per_class=3, parts=("train", "val")):
    """An ImageFolder tree of random RGB images: root/{train,val}/<class>/<i>.png."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for part in parts:
        for cls in classes:
            d = root / part / cls
            d.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
                Image.fromarray(pixels, "RGB").save(d / f"{i}.png")
