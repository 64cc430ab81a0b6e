"""Anchors fine-tuned from weights of another data set (``init:``) against the same anchors
trained from scratch (2026-12-07). The weights: the demo's shipped Fashion-MNIST ViTs
(``fmnist_vit_2way``'s tiny and small, 10 classes). The new data: scikit-learn's digits 0 to 4
(5 classes, 901 images) written as a folder of 28x28 gray PNGs (700 train, 201 val). The same
architecture, 5 classes, so the classifier starts afresh; 3 epochs, lr 0.001, no augmentation,
three seeds; top-1 on the val images.

    python results/benchmarks/init/compare.py     # about 20 s, 2 cores
writes results/benchmarks/init/compare.json and prints the markdown table of docs/spaces.md.
"""
import json
import logging
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

import stitchnas as sn

HERE = Path(__file__).resolve().parent
SEEDS = (0, 1, 2)
ANCHOR = """  - name: {name}
    model: vit_tiny_patch16_224
    kwargs: {{img_size: 28, patch_size: 7, in_chans: 1, num_classes: 5, embed_dim: {dim}, depth: 6, num_heads: {heads}}}
    {init}checkpoint: anchors/{how}_{seed}_{name}.pt
"""


def write_digits(root: Path) -> None:
    digits = load_digits()
    keep = np.flatnonzero(digits.target < 5)
    order = np.random.default_rng(0).permutation(keep)
    for i, j in enumerate(order):
        folder = root / ("train" if i < 700 else "val") / f"c{digits.target[j]}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (digits.images[j] / 16 * 255).astype(np.uint8)
        Image.fromarray(pixels).resize((28, 28)).save(folder / f"{j}.png")


def main() -> None:
    logging.disable(logging.INFO)
    shipped = sn.load_space("fmnist_vit_2way").anchors
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_digits(root / "digits5")
        for how in ("scratch", "init"):
            for seed in SEEDS:
                anchors = "".join(
                    ANCHOR.format(name=a.name, dim=dim, heads=heads, how=how, seed=seed,
                                  init=f"init: {a.checkpoint}\n    " if how == "init" else "")
                    for a, dim, heads in zip(shipped[:2], (16, 64), (2, 4)))
                path = root / f"{how}_{seed}.yaml"
                path.write_text(f"name: digits5_{how}\ninput_size: [1, 28, 28]\nanchors:\n{anchors}"
                                "rule: {type: two_way}\ndata: {name: digits5, augment: none}\n"
                                f"training: {{anchors: {{epochs: 3, lr: 0.001, batch_size: 64, seed: {seed}}}}}\n")
                for r in sn.train_anchors(sn.load_space(path)):
                    rows.append({"start": how, "seed": seed, "anchor": r.name, "acc1": round(r.acc1, 2)})
                    print(rows[-1], file=sys.stderr)
    (HERE / "compare.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    print("| start | tiny top-1 % (seeds 0, 1, 2; mean) | small top-1 % (seeds 0, 1, 2; mean) |\n|---|---:|---:|")
    for how, label in (("scratch", "from scratch"), ("init", "`init:` the Fashion-MNIST weights")):
        cells = []
        for name in ("tiny", "small"):
            accs = [r["acc1"] for r in rows if r["start"] == how and r["anchor"] == name]
            cells.append(", ".join(f"{a:.1f}" for a in accs) + f"; {statistics.mean(accs):.1f}")
        print(f"| {label} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
