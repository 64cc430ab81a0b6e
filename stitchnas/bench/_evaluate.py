"""``stitchnas bench evaluate``: shared prefixes against one candidate at a time."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch

from ..costs import cpu_name
from ..fileio import write_json
from ..measure import EvalResult, evaluate_candidates, network_classes, prefix_tree_size
from ..network import StitchedNetwork
from ..space import SearchSpace

__all__ = ["bench_evaluate"]


def bench_evaluate(space: SearchSpace, images: int = 2000, batch_size: int = 250, repeats: int = 3,
                   seed: int = 0, out_dir: Path | None = None) -> dict[str, Any]:
    """Shared prefixes vs one candidate at a time on every candidate, timed alternately.

    Random anchor weights and random images (from ``seed``): the timing does not depend on
    them. Medians of ``repeats`` runs; results of the two methods are compared. In a family with
    BatchNorm layers both also re-estimate each route's statistics, as ``evaluate`` does, on
    random images as many as :data:`~stitchnas.measure.BN_CALIBRATION` draws.
    """
    from ..measure import BN_CALIBRATION
    from ..network import has_batchnorm

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = StitchedNetwork(space, space.create_models(weights=False)).eval()
    x = torch.randn((images, *space.input_size), generator=gen)
    y = torch.randint(0, network_classes(net), (images,), generator=gen)
    loader = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, images, batch_size)]
    ids = [c.id for c in space.candidates]
    calibration = None
    if has_batchnorm(net):
        size = BN_CALIBRATION.batch_size
        images_bn = torch.randn((BN_CALIBRATION.images, *space.input_size), generator=gen)
        calibration = [images_bn[i:i + size] for i in range(0, len(images_bn), size)]
    times: dict[bool, list[float]] = {True: [], False: []}
    results: dict[bool, list[EvalResult]] = {}
    for _ in range(repeats):
        for share in (True, False):
            t0 = time.perf_counter()
            results[share] = evaluate_candidates(net, loader, ids, progress=False, share_prefixes=share,
                                                 calibration=calibration)
            times[share].append(time.perf_counter() - t0)
    diff = max(max(abs(a.acc1 - b.acc1), abs(a.loss - b.loss))
               for a, b in zip(results[True], results[False]))
    shared_s, each_s = statistics.median(times[True]), statistics.median(times[False])
    tree, naive = prefix_tree_size(space, ids)
    report = {
        "space": space.name, "candidates": len(ids), "images": images, "batch_size": batch_size,
        "repeats": repeats, "pieces_per_batch_shared": tree, "pieces_per_batch_each": naive,
        "shared_s": round(shared_s, 3), "shared_runs_s": [round(t, 3) for t in times[True]],
        "each_s": round(each_s, 3), "each_runs_s": [round(t, 3) for t in times[False]],
        "speedup": round(each_s / shared_s, 2), "max_abs_difference": diff,
        "batchnorm": BN_CALIBRATION.label() if calibration is not None else None,
        "machine": {"cpu": cpu_name(),
                    "threads": torch.get_num_threads(), "torch": torch.__version__},
    }
    if out_dir is not None:
        write_json(Path(out_dir) / f"evaluate_{space.name}.json", report)
    return report
