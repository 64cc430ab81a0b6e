"""Benchmarks that are commands, not tests: ``stitchnas bench profiling SPACE``."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch

from ..costs import Profiler, count_flops, count_params, cpu_name as _cpu_name
from ..fileio import write_json
from ..network import StitchedNetwork
from ..space import SearchSpace

__all__ = ["bench_profiling"]




def bench_profiling(space: SearchSpace, repeats: int = 3, out_dir: Path | None = None,
                    progress: bool | None = None) -> dict[str, Any]:
    """Compositional profiling vs an fvcore trace of every candidate, side by side, same models.

    Both methods start from the same anchor models (built once, timed separately). Each method
    is timed ``repeats`` times; medians are reported, and every candidate's counts are
    compared between the two.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    models = space.create_models(weights=False, device="uninitialized")
    build_s = time.perf_counter() - t0
    net = StitchedNetwork(space, models)
    x = torch.zeros((1, *space.input_size))

    comp_times, comp = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        prof = Profiler(space, use_cache=False, progress=False)
        prof.pieces(models)
        comp = prof.profile()
        comp_times.append(time.perf_counter() - t0)

    full_times, full = [], None
    for r in range(repeats):
        t0 = time.perf_counter()
        full = []
        bar = tqdm(space.candidates, desc=f"full traces {r + 1}/{repeats}", unit="cand",
                   disable=not progress)
        for cand in bar:
            module = net.route_module(cand)
            full.append((count_flops(module, x), count_params(module)))
        full_times.append(time.perf_counter() - t0)

    mismatches = [c.id for c, (f, p) in zip(comp, full) if (c.flops, c.params) != (f, p)]
    comp_s, full_s = statistics.median(comp_times), statistics.median(full_times)
    report = {
        "space": space.name,
        "candidates": len(space),
        "pieces_traced": prof.traced,
        "repeats": repeats,
        "build_models_s": round(build_s, 3),
        "compositional_s": round(comp_s, 3),
        "compositional_runs_s": [round(t, 3) for t in comp_times],
        "full_trace_s": round(full_s, 3),
        "full_trace_runs_s": [round(t, 3) for t in full_times],
        "speedup": round(full_s / comp_s, 1),
        "speedup_with_build": round((full_s + build_s) / (comp_s + build_s), 1),
        "identical": not mismatches,
        "mismatched_ids": mismatches,
        "machine": {"cpu": _cpu_name(),
                    "threads": torch.get_num_threads(), "torch": torch.__version__},
    }
    if out_dir is not None:
        write_json(Path(out_dir) / f"profiling_{space.name}.json", report)
    return report
