"""``stitchnas bench predictors``: every predictor cross-validated on every measured table;
``stitchnas bench predict-speed``: how long fitting and predicting take as spaces grow."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..measure import Measurement
from ..predict import cross_validate
from ..space import SearchSpace
from ._generated import vit_space

__all__ = ["bench_predictors", "bench_predict_speed", "SPEED_SPACES"]

#: name -> (anchors' (embed_dim, depth), rule): the 134 routes of SN-Netv2's DeiT-III S/L space
#: (small ViTs of depth 12 and 24, so profiling is quick), and 100,472 candidates (eight ViTs).
SPEED_SPACES: dict[str, tuple[tuple[tuple[int, int], ...], dict[str, Any]]] = {
    "snnet_v2_12x24": (((16, 12), (64, 24)), {"type": "snnet_v2"}),
    "two_way_8x24": (tuple((16 * (i + 1), 24) for i in range(8)),
                     {"type": "two_way", "pairs": "all", "max_stitches": 2}),
}


def bench_predictors(tables: Sequence[tuple[SearchSpace, Sequence[Measurement], str]],
                     predictors: Sequence[str], *, train_fraction: float = 0.2, repeats: int = 20,
                     seed: int = 0, progress: bool | None = None) -> dict[str, Any]:
    """Cross-validate each predictor on each measured table (``(space, rows, label)``)."""
    out: dict[str, Any] = {"train_fraction": train_fraction, "repeats": repeats, "seed": seed,
                           "tables": {}}
    for space, rows, label in tables:
        results = {}
        for name in predictors:
            report = cross_validate(space, rows, name, train_fraction=train_fraction,
                                    repeats=repeats, seed=seed, progress=progress)
            results.setdefault("flops (baseline)", asdict(report.baseline))  # listed first
            results[name] = asdict(report.scores) | {"fit_seconds": report.fit_seconds,
                                                      "tau_gain": report.tau_gain,
                                                      "tau_gain_se": report.tau_gain_se}
        out["tables"][label] = {"space": space.name, "rows": len(rows), "predictors": results}
    return out


def _speed_space(folder: Path, name: str) -> SearchSpace:
    anchors, rule = SPEED_SPACES[name]
    return vit_space(folder, name, anchors, rule)


def bench_predict_speed(predictor: str = "auto", spaces: Sequence[str] = tuple(SPEED_SPACES),
                        train_fraction: float = 0.2, max_train: int = 200, repeats: int = 3,
                        seed: int = 0) -> dict[str, Any]:
    """Seconds to fit ``predictor`` on a measured share of each generated space and predict every
    candidate (mean and std), as ``stitchnas predict`` does, after start-up (the space built and
    its pieces profiled once); wall-clock and this process's CPU seconds; ``chosen``: what
    ``auto`` chose in each repeat (the stitch penalty makes FLOPs rank badly, so the route model's
    path is the one timed). Accuracies are a seeded synthetic function of the route (timing
    does not depend on them). Median of ``repeats``."""
    from ..predict import make_stitches
    from ..predict import create_predictor, predict_with_std

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in spaces:
            t0 = time.perf_counter()
            space = _speed_space(Path(tmp), name)
            make_stitches(space, candidates=space.candidates[:1])  # profile the pieces once
            startup = time.perf_counter() - t0
            times: dict[str, list[float]] = {"stitches_s": [], "fit_s": [], "predict_s": [],
                                             "total_s": [], "total_cpu_s": []}
            chosen = []
            for r in range(repeats):
                c0, t0 = time.process_time(), time.perf_counter()
                stitches = make_stitches(space)
                t1 = time.perf_counter()
                rng = np.random.default_rng(seed + r)
                k = min(max_train, max(2, int(round(train_fraction * len(stitches)))))
                idx = rng.choice(len(stitches), k, replace=False)
                logf = np.log([stitches[i].flops for i in idx])
                y = (70 + 10 * (logf - logf.min()) / max(np.ptp(logf), 1e-9)
                     - 10.0 * np.array([stitches[i].num_stitches for i in idx]) + rng.normal(0, 0.5, k))
                model = create_predictor(predictor, random_state=seed).fit([stitches[i] for i in idx], y)
                t2 = time.perf_counter()
                predict_with_std(model, stitches)
                t3, c3 = time.perf_counter(), time.process_time()
                for key, v in (("stitches_s", t1 - t0), ("fit_s", t2 - t1), ("predict_s", t3 - t2),
                               ("total_s", t3 - t0), ("total_cpu_s", c3 - c0)):
                    times[key].append(v)
                chosen.append(getattr(model, "chosen_", None))
            rows.append({"space": name, "candidates": len(stitches), "measured": int(k),
                         "startup_s": round(startup, 2), "chosen": chosen}
                        | {key: round(float(np.median(v)), 3) for key, v in times.items()})
    return {"predictor": predictor, "repeats": repeats, "seed": seed, "rows": rows}
