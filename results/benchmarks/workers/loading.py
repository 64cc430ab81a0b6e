"""Reading an ImageFolder with ``data: {workers: N}`` (2026-12-07): 1,000 Fashion-MNIST images
written as 256x256 RGB JPEGs (about the size of an ImageNet photo after decoding is small), read
through timm's training transform at 224x224 by the loader stitchnas trains with, batch 64, for
N = 0 (in this process), 1 and 2 worker processes; median of 3 passes, images per second, each pass
a new loader (as each training epoch is), its workers' start included. What workers buy where a GPU
waits on the CPU; on this 2-core machine it is bounded by 2.

Workers start from a fork server (``worker_context``); its one start in a process, with torch, timm
and torchvision imported there once, is in the first pass with workers (given apart). The same
loaders with workers forked from this process (Linux's default before Python 3.14, which 3.12+ warns
can deadlock a threaded process) are measured after them, in the same run, for comparison.

    python results/benchmarks/workers/loading.py     # about a minute; needs Fashion-MNIST
writes results/benchmarks/workers/loading.json and prints the markdown table of docs/training.md.
"""
import json
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
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


def passes(train, workers: int, context) -> list[float]:
    seconds = []
    for p in range(PASSES):
        t0 = time.perf_counter()
        if context is None:
            loader = make_loader(train, BATCH, shuffle=True, seed=p)
        else:
            loader = torch.utils.data.DataLoader(train, BATCH, shuffle=True, generator=torch.Generator().manual_seed(p),
                                                 num_workers=workers, persistent_workers=True,
                                                 multiprocessing_context=context)
        for _ in loader:
            pass
        seconds.append(time.perf_counter() - t0)
    return seconds


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(Path(tmp))
        for start, workers in [("", 0), ("fork server", 1), ("fork server", 2), ("fork", 1), ("fork", 2)]:
            train, _, _ = load_datasets(DataSpec("imagefolder", root=tmp, input_size=(3, 224, 224),
                                                 workers=workers, augment="timm"))
            seconds = passes(train, workers, multiprocessing.get_context("fork") if start == "fork" else None)
            rows.append({"workers": workers, "start": start, "seconds": [round(s, 3) for s in seconds],
                         "images_per_s": round(len(train) / statistics.median(seconds), 1)})
    base = rows[0]["images_per_s"]
    report = {"images": IMAGES, "batch": BATCH, "passes": PASSES, "cpu": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "python": platform.python_version(), "rows": rows}
    (HERE / "loading.json").write_text(json.dumps(report, indent=1) + "\n")
    print("| workers | started by | images/s (median of 3 passes) | vs in-process | first pass (s) |")
    print("|---:|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['workers']} | {r['start'] or 'in process'} | {r['images_per_s']:.0f} | "
              f"{r['images_per_s'] / base:.2f}x | {r['seconds'][0]:.2f} |")


if __name__ == "__main__":
    main()
