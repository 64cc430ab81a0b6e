"""``stitchnas bench latency``: a latency table's cost and error against timing every candidate."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..costs import Target, latency_table_path, load_target, profile_latency
from ..fileio import write_json
from ..space import SearchSpace, load_space

__all__ = ["bench_latency"]


def bench_latency(space: SearchSpace | str, target: Target | str, *, repeats: int = 30,
                  warmup: int = 5, validate: int = 24, seed: int = 0,
                  out_dir: str | os.PathLike | None = None,
                  progress: bool | None = None) -> dict[str, Any]:
    """Build a fresh table (pieces timed, K candidates validated end to end), save it, and report
    its cost against timing every candidate end to end (extrapolated from the validation runs
    unless K covers the whole space, then measured)."""
    space, target = load_space(space), load_target(target)
    t0 = time.perf_counter()
    table = profile_latency(space, target, repeats=repeats, warmup=warmup, validate=validate,
                            seed=seed, progress=progress)
    total_s = time.perf_counter() - t0
    table_path = table.save(latency_table_path(space, target))
    v = table.validation
    n = len(space)
    all_measured = v["k"] >= n
    every_s = v["e2e_timing_s"] if all_measured else v["e2e_per_candidate_s"] * n
    table_s = table.meta["timing_s"] + table.meta["memory_s"]
    lat = [table.latency_ms(c) for c in space.candidates]
    mem = [table.memory_mb(c) for c in space.candidates]
    report = {
        "space": space.name, "target": target.name, "target_settings": table.target["settings"],
        "machine": table.machine, "candidates": n,
        "pieces": table.meta["pieces"], "distinct_pieces_timed": table.meta["distinct_pieces_timed"],
        "repeats": repeats, "warmup": warmup,
        "build_models_s": table.meta["build_models_s"],
        "table_timing_s": table.meta["timing_s"], "table_memory_s": table.meta["memory_s"],
        "table_build_s": round(table_s, 3),
        "validation_k": v["k"], "validation_seed": seed,
        "validation_e2e_s": v["e2e_timing_s"],
        "e2e_per_candidate_s": v["e2e_per_candidate_s"],
        "every_candidate_e2e_s": round(every_s, 2),
        "every_candidate_e2e_is": ("measured" if all_measured else
                                   f"extrapolated: {v['k']} validation candidates' mean x {n}"),
        "speedup_vs_every_candidate": round(every_s / table_s, 1),
        "error_raw": v["raw"], "error_corrected_loo": v["corrected_loo"],
        "error_corrected_fit": v["corrected_fit"], "composition": v.get("composition"),
        "error_sum_of_p10s": v.get("sum_of_p10s"),
        "overhead": table.overhead, "memory_worst_error_pct": v["memory_worst_error_pct"],
        "latency_ms_range": [round(min(lat), 3), round(max(lat), 3)],
        "memory_mb_range": [round(min(mem), 2), round(max(mem), 2)],
        "wall_s": round(total_s, 2), "table": str(table_path),
        "validation": v["candidates"],
    }
    if out_dir is not None:
        write_json(Path(out_dir) / f"latency_{space.name}_{target.name}.json", report)
    return report
