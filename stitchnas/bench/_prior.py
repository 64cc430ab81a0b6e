"""``stitchnas bench prior``: how good the prior from the anchors alone is on a measured table.

The search starts from the prior when no stitch is measured (``stitchnas evaluate SPACE
--anchors``, or ``acc1:`` in the space file). This scores it on a table where every stitch was
measured: the prior sees the measured anchors only (the rows of anchor candidates) and predicts
every stitch; the report gives its error, its bias (measured minus prior), its ranking (Kendall
tau) and how often the measured top-1 lies within one and two of its standard deviations.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import StitchnasError
from ..fileio import write_json
from ..space import SearchSpace

__all__ = ["bench_prior"]


def bench_prior(space: SearchSpace, rows: Sequence[Any], *, label: str | None = None,
                out_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Score the prior (fitted on the anchors of ``rows`` alone) on the other rows of ``rows``."""
    from scipy.stats import kendalltau

    from ..optimize import accuracy_table

    anchors = [m for m in rows if m.route.num_stitches == 0]
    stitched = {m.id: m.acc1 for m in rows if m.route.num_stitches > 0}
    if len(anchors) < 2 or len(stitched) < 2:
        raise StitchnasError(f"bench prior needs a table with at least two measured anchors and two "
                             f"measured stitches; this one has {len(anchors)} and {len(stitched)}")
    table = accuracy_table(space, anchors, "prior")
    at = table.index()
    ids = sorted(stitched)
    y = np.array([stitched[i] for i in ids])
    mean = np.array([table.acc1[at[i]] for i in ids])
    std = np.array([table.std[at[i]] for i in ids], dtype=float)
    z = np.abs(y - mean) / std
    tau = kendalltau(mean, y).statistic
    report = {
        "space": space.name, "table": label, "anchors": {space.anchors[m.route.first_anchor].name: m.acc1
                                                         for m in anchors},
        "stitches": len(ids), "mae": round(float(np.mean(np.abs(y - mean))), 3),
        "bias_measured_minus_prior": round(float(np.mean(y - mean)), 3),
        "kendall_tau": round(float(tau), 3) if np.isfinite(tau) else None,
        "within_1_std": round(float(np.mean(z <= 1)), 3), "within_2_std": round(float(np.mean(z <= 2)), 3),
        "median_std": round(float(np.median(std)), 3),
    }
    if out_dir is not None:
        write_json(Path(out_dir) / f"prior_{space.name}.json", report)
    return report
