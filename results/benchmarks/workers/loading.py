"""Reading an ImageFolder with ``data: {workers: N}`` (2026-12-07): 1,000 Fashion-MNIST images
written as 256x256 RGB JPEGs (about the size of an ImageNet photo after decoding is small), read
through timm's training transform at 224x224 by the loader stitchnas trains with, batch 64, for
N = 0 (in this process), 1 and 2 worker processes; median of 3 passes, images per second. What
workers buy where a GPU waits on the CPU; on this 2-core machine it is bounded by 2.

    python results/benchmarks/workers/loading.py     # about a minute; needs Fashion-MNIST
writes results/benchmarks/workers/loading.json and prints the markdown table of docs/training.md.
"""
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from stitchnas.measure import DataSpec, load_datasets, make_loader

HERE = Path(__file__).resolve().parent
IMAGES, PASSES, BATCH = 1000, 3, 64


def write_folder(root: Path) -> None:
    fashion, _, _ = load_datasets(DataSpec("fashion_mnist", train_subset=IMAGES, seed=0))
    for i in range(IMAGES):
        x, y = fashion[i]
        pixels = ((x[0] - x[0].min()) / (x[0].max() - x[0].min() + 1e-9) * 255).numpy().astype(np.uint8)
        for part in ("train", "val"):
            folder = root / part / f"c{y}"
            folder.mkdir(parents=True, exist_ok=True)
            if part == "train" or i < 100:
                Image.fromarray(pixels).resize((256, 256)).convert("RGB").save(folder / f"{i}.jpg", quality=90)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(Path(tmp))
        for workers in (0, 1, 2):
            train, _, _ = load_datasets(DataSpec("imagefolder", root=tmp, input_size=(3, 224, 224),
                                                 workers=workers, augment="timm"))
            seconds = []
            for p in range(PASSES):
                t0 = time.perf_counter()
                for _ in make_loader(train, BATCH, shuffle=True, seed=p):
                    pass
                seconds.append(time.perf_counter() - t0)
            rows.append({"workers": workers, "seconds": [round(s, 3) for s in seconds],
                         "images_per_s": round(len(train) / statistics.median(seconds), 1)})
    base = rows[0]["images_per_s"]
    report = {"images": IMAGES, "batch": BATCH, "passes": PASSES, "cpu": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "rows": rows}
    (HERE / "loading.json").write_text(json.dumps(report, indent=1) + "\n")
    print("| workers | images/s (median of 3 passes) | vs in-process |\n|---:|---:|---:|")
    for r in rows:
        print(f"| {r['workers']} | {r['images_per_s']:.0f} | {r['images_per_s'] / base:.2f}x |")


if __name__ == "__main__":
    main()
