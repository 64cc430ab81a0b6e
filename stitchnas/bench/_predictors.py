"""``stitchnas bench predictors``: every predictor cross-validated on every measured table."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Sequence

from ..measure import Measurement
from ..predict import cross_validate
from ..space import SearchSpace

__all__ = ["bench_predictors"]


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
            results[name] = asdict(report.scores) | {"fit_seconds": report.fit_seconds}
            results["flops (baseline)"] = asdict(report.baseline)
        out["tables"][label] = {"space": space.name, "rows": len(rows), "predictors": results}
    return out
