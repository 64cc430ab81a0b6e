"""Anchors trained from scratch on a small ImageFolder under the three kinds of ``data:
{augment}`` (2026-12-07): timm's training transform (the default), a lighter mapping of timm's
options, and none. The folder is scikit-learn's digits written as 32x32 RGB PNGs (1,400 train,
397 val images); the space is two small ViTs, 20 epochs each; top-1 on the val images, two seeds.

    python results/benchmarks/augment/compare.py     # about 4 minutes, 2 cores
writes results/benchmarks/augment/compare.json and prints the markdown table of docs/training.md.
"""
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

import stitchnas as sn

HERE = Path(__file__).resolve().parent
SETTINGS = {
    "timm": "timm",
    "light": "{scale: [0.5, 1], hflip: 0, color_jitter: null}",
    "none": "none",
}
SPACE = """name: augment_probe
input_size: [3, 32, 32]
anchors:
  - name: s
    model: vit_tiny_patch16_224
    kwargs: {{img_size: 32, patch_size: 8, num_classes: 10, embed_dim: 32, depth: 4, num_heads: 2}}
    checkpoint: anchors/s.pt
  - name: l
    model: vit_tiny_patch16_224
    kwargs: {{img_size: 32, patch_size: 8, num_classes: 10, embed_dim: 64, depth: 4, num_heads: 4}}
    checkpoint: anchors/l.pt
rule: {{type: two_way, pairs: nearest, max_stitches: 2}}
data: {{name: images, augment: {augment}}}
training: {{anchors: {{epochs: 20, seed: {seed}}}}}
"""


def write_digits(root: Path) -> None:
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.images))
    for i, j in enumerate(order):
        folder = root / ("train" if i < 1400 else "val") / f"c{digits.target[j]}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (digits.images[j] / 16 * 255).astype(np.uint8)
        Image.fromarray(pixels).resize((32, 32)).convert("RGB").save(folder / f"{j}.png")


def main() -> None:
    logging.disable(logging.INFO)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_digits(root / "images")
        for name, augment in SETTINGS.items():
            for seed in (0, 1):
                path = root / f"{name}_{seed}.yaml"
                path.write_text(SPACE.format(augment=augment, seed=seed))
                for result in sn.train_anchors(sn.load_space(path), force=True):
                    rows.append({"augment": name, "seed": seed, "anchor": result.name,
                                 "acc1": round(result.acc1, 2)})
                    print(rows[-1], file=sys.stderr)
    (HERE / "compare.json").write_text(json.dumps({"augment": SETTINGS, "rows": rows}, indent=1) + "\n")
    print("| augment | s top-1 % (seeds 0, 1) | l top-1 % (seeds 0, 1) |\n|---|---:|---:|")
    for name, augment in SETTINGS.items():
        cells = [", ".join(f"{r['acc1']:.1f}" for r in rows if r["augment"] == name and r["anchor"] == a)
                 for a in ("s", "l")]
        print(f"| `{augment}` | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
