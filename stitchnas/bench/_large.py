"""``stitchnas bench large``: the default search on large spaces against the exhaustive front.

Two generated spaces of more than 10^5 candidates, of different rules and anchors: ``tune``
(eight equal ViTs, ``pairs: all``, 100,472 candidates), on which the NSGA-II fallback was
chosen, and ``judge`` (five ViTs of depths 12 to 28, ``pairs: all``, ``window: 3``: every cut may
resume at three depths; 114,950 candidates), on which it is judged. Costs are the real FLOPs
(fvcore, as ``flops_budget`` counts them); accuracies come from a structural synthetic surface
(:func:`synthetic_accuracy`; fronts of a few dozen, so the default is exact) since no table of
10^5 measured stitches exists, or from the anchors' prior (:func:`prior_accuracy`: a front of
nearly every candidate, beyond the exact limit, so the default is NSGA-II). ``trials`` forces the
NSGA-II fallback with that budget. The exhaustive front is computed once over every candidate
(vectorised), and each search's front is scored by its hypervolume over the exhaustive front's
(nadir reference, as ``bench search`` scores).
"""

from __future__ import annotations

import platform
import resource
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..costs import cpu_name, load_target, target_costs
from ..fileio import write_json
from ..optimize import EXACT_LIMIT
from ..progress import quiet_optuna
from ._generated import vit_space

__all__ = ["ACCURACIES", "LARGE_SPACES", "SCALING_SPACES", "bench_large", "prior_accuracy", "synthetic_accuracy"]

#: name -> (anchor (embed_dim, depth, heads) triples, rule options, accuracy seed, role).
LARGE_SPACES: dict[str, tuple[tuple[tuple[int, int, int], ...], dict[str, Any], int, str]] = {
    "tune": (tuple((16 * (i + 1), 24, 2) for i in range(8)), {}, 0, "the NSGA-II fallback was chosen here"),
    "judge": (((24, 12, 3), (48, 16, 3), (72, 20, 3), (96, 24, 3), (120, 28, 3)),
              {"window": 3}, 1, "the NSGA-II fallback is judged here"),
    # between the exact limit and 10^5: the trial budget there was chosen on the first, judged on the others
    "mid_tune": (tuple((16 * (i + 1), 24, 2) for i in range(6)), {}, 0,
                 "the budget beyond the exact limit was chosen here"),
    "mid_judge": (((24, 12, 3), (48, 16, 3), (72, 20, 3), (96, 24, 3)), {"window": 3}, 2,
                  "the budget beyond the exact limit is judged here"),
    "mid_judge7": (tuple((16 * (i + 1), 24, 2) for i in range(7)), {}, 2,
                   "the budget beyond the exact limit is judged here"),
}

#: How the benchmark's accuracies are made: ``structural`` (:func:`synthetic_accuracy`, fronts of
#: a few dozen) or ``prior`` (:func:`prior_accuracy`, a front of nearly every candidate).
ACCURACIES = ("structural", "prior")

#: Spaces of about 10^3, 10^4, 2 x 10^4 (just past the exact limit) and 10^5 candidates for the
#: scaling table: (anchors, depth).
SCALING_SPACES = ((3, 14), (6, 13), (5, 24), (8, 24))


def _write_space(folder: Path, name: str, anchors: Sequence[tuple[int, int, int]],
                 rule: dict[str, Any]):
    return vit_space(folder, name, anchors, {"type": "two_way", "pairs": "all", "max_stitches": 2, **rule})


def _unit_noise(key: str, seed: int) -> float:
    """A seeded standard normal draw tied to ``key`` (the same junction, the same draw)."""
    return float(np.random.default_rng([seed, zlib.crc32(key.encode())]).standard_normal())


def synthetic_accuracy(space, anchor_flops: Sequence[float], seed: int = 0) -> np.ndarray:
    """Top-1 (%) of every candidate from a structural model with route-dependent effects.

    Each anchor has an accuracy rising with its FLOPs (saturating, with a seeded offset). A route
    mixes its anchors' accuracies by the share of the network each segment covers, deeper blocks
    weighing more (weight ``t**0.5`` of relative depth ``t``). Each junction costs accuracy: more
    the more the two widths differ, more from wide to narrow, most at mid-depth, plus a seeded
    penalty of its own shared by every route through it (a stitching layer that trained well or
    badly), and each route has a little noise. So accuracy is not a function of FLOPs alone and
    the front is made of particular junctions, as in measured stitch tables.
    """
    rng = np.random.default_rng(seed)
    depths = space.depths
    logf = np.log(np.asarray(anchor_flops, dtype=float))
    r = (logf - logf.min()) / max(float(np.ptp(logf)), 1e-12)
    q = 92.0 - 14.0 * (1.0 - r) ** 1.5 + rng.normal(0.0, 0.4, len(depths))
    widths = np.exp(logf / 2)  # FLOPs grow about with width squared at equal depth
    cands = space.candidates
    out = np.empty(len(cands))
    noise = rng.normal(0.0, 0.15, len(cands))
    cache: dict[tuple[int, int, int, int], float] = {}
    for n, c in enumerate(cands):
        num = den = 0.0
        for s in c.route.segments:
            d = depths[s.anchor]
            w = (s.end / d) ** 1.5 - (s.start / d) ** 1.5
            num += w * q[s.anchor]
            den += w
        acc = num / den
        for j in c.route.junctions:
            key = (j.src, j.src_end, j.dst, j.dst_start)
            pen = cache.get(key)
            if pen is None:
                t = j.src_end / depths[j.src]
                u = j.dst_start / depths[j.dst]
                ratio = abs(np.log(widths[j.src] / widths[j.dst]))
                pen = (0.4 + 1.2 * ratio * (1.5 if widths[j.src] > widths[j.dst] else 1.0)
                       * (0.5 + np.sin(np.pi * t)) + 6.0 * abs(t - u)
                       + 0.8 * abs(_unit_noise(f"{key}", seed)))
                cache[key] = pen
            acc -= pen
        out[n] = acc + noise[n]
    return np.round(out, 3)


def prior_accuracy(flops: Sequence[float], anchor_flops: Sequence[float],
                   anchor_acc1: Sequence[float]) -> np.ndarray:
    """Top-1 (%) read off the line through the anchors' (log FLOPs, top-1) points, the anchors'
    prior's mean (:func:`stitchnas.predict.anchor_line`, nothing measured): monotone in FLOPs, so
    nearly every candidate is on the front (a search on priors alone)."""
    from ..predict import anchor_line

    return anchor_line(flops, anchor_flops, anchor_acc1)


def _problem(space, seed: int, accuracy: str = "structural"):
    """The acc1-vs-FLOPs problem of ``space``: real FLOPs, :func:`synthetic_accuracy`, or with
    ``accuracy="prior"`` :func:`prior_accuracy` through the anchors' synthetic top-1."""
    from ..optimize import AccuracyTable, build_problem

    target = load_target("flops_budget")
    costs = target_costs(space, target, memory=False)
    alone = [next(i for i, c in enumerate(costs) if c.route.num_stitches == 0 and c.route.anchors == (a,))
             for a in range(len(space.depths))]
    anchor_flops = [costs[i].flops for i in alone]
    acc = synthetic_accuracy(space, anchor_flops, seed)
    if accuracy == "prior":
        acc = prior_accuracy([c.flops for c in costs], anchor_flops, acc[alone])
    n = len(acc)
    table = AccuracyTable(ids=tuple(c.id for c in costs), acc1=acc, std=(None,) * n,
                          source=("measured",) * n, predictor=None, measurements=None,
                          measured_ids=n, key=f"synthetic-{accuracy}-{seed}")
    return build_problem(space, target, ("acc1", "flops"), table, memory=False)


def _build(folder: Path, name: str, anchors, rule, seed: int, accuracy: str = "structural"):
    t0 = time.perf_counter()
    space = _write_space(folder, name, anchors, rule)
    problem = _problem(space, seed, accuracy)
    return problem, time.perf_counter() - t0


def _search_space(folder: Path, key: str, seeds: Sequence[int], trials: int | None,
                  progress: bool | None, encoding: str = "auto", accuracy: str = "structural") -> dict[str, Any]:
    """The default search (``stitchnas search`` with no --sampler, in-memory storage; with
    ``trials``, its NSGA-II fallback with that budget) on one large space per seed, scored against
    the exhaustive front."""
    from ..optimize import SearchConfig, search_problem
    from ._search import _Scorer

    anchors, rule, seed_acc, role = LARGE_SPACES[key]
    problem, setup_s = _build(folder, f"large_{key}", anchors, rule, seed_acc, accuracy)
    t0 = time.perf_counter()
    scorer = _Scorer(problem.values[:, 0], problem.values[:, 1], problem.feasible, 10.0)
    exhaustive_s = time.perf_counter() - t0
    runs = []
    for seed in seeds:
        config = SearchConfig(seed=int(seed), n_trials=trials, storage="memory", save=False,
                              encoding=encoding)
        t = time.perf_counter()
        result = search_problem(problem, config, progress=progress)
        wall = time.perf_counter() - t
        idx = [problem.index[m.id] for m in result.front.members]
        ratios = scorer.ratios(idx)
        runs.append({"seed": int(seed), "sampler": result.front.study["sampler"],
                     "encoding": result.front.study["encoding"], "trials": result.n_trials_done,
                     "distinct": result.distinct_candidates, "front": len(idx),
                     "hv_ratio_nadir": round(ratios["nadir"], 6),
                     "hv_ratio_log_nadir": round(ratios["log_nadir"], 6),
                     "search_s": round(result.seconds, 2), "wall_s": round(wall, 2)})
    n = len(problem.costs)
    hv = [r["hv_ratio_nadir"] for r in runs]
    return {"space": problem.space.name, "role": role, "candidates": n, "accuracy": accuracy,
            "anchors": [list(a) for a in anchors], "rule": {"type": "two_way", "pairs": "all",
                                                            "max_stitches": 2, **rule},
            "accuracy_seed": seed_acc, "exhaustive_front": len(scorer.true_front),
            "exhaustive_front_s": round(exhaustive_s, 3), "setup_s": round(setup_s, 1),
            "trials": runs[0]["trials"] if runs else None,
            "trials_share_pct": round(100 * runs[0]["trials"] / n, 2) if runs else None,
            "hv_ratio_nadir_mean": round(float(np.mean(hv)), 6) if hv else None,
            "hv_ratio_nadir_min": round(float(np.min(hv)), 6) if hv else None,
            "search_s_mean": round(float(np.mean([r["search_s"] for r in runs])), 2) if runs else None,
            "runs": runs}


def _measured(fn) -> tuple[Any, float, float]:
    """``fn()``, its seconds (untraced), and the peak Python memory of a second, traced call (MB)."""
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    tracemalloc.start()
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return out, seconds, peak / 2**20


def _scaling(folder: Path, progress: bool | None) -> list[dict[str, Any]]:
    """Search time and peak Python memory of the exact search (the default while the front is
    within :data:`EXACT_LIMIT`) at about 10^3, 10^4 and 10^5 candidates, and of the default's
    NSGA-II fallback (a larger front) beyond the limit (in-memory storage, synthetic accuracy)."""
    from ..optimize import SearchConfig, large_trials, search_problem

    rows = []
    for anchors, depth in SCALING_SPACES:
        spec = tuple((16 * (i + 1), depth, 2) for i in range(anchors))
        problem, setup_s = _build(folder, f"scale_{anchors}x{depth}", spec, {}, 0)
        n = len(problem.costs)
        modes = [("exact", None)] + ([("auto", large_trials(n))] if n > EXACT_LIMIT else [])
        for sampler, trials in modes:
            config = SearchConfig(sampler=sampler, n_trials=trials, storage="memory", save=False)
            result, seconds, peak = _measured(lambda: search_problem(problem, config, progress=progress))
            rows.append({"space": problem.space.name, "candidates": len(problem.costs),
                         "search": sampler if sampler == "exact" else
                         f"fallback ({result.front.study['sampler']}, {result.front.study['encoding']})",
                         "trials": result.n_trials_done, "front": len(result.front),
                         "search_s": round(seconds, 2), "peak_python_mb": round(peak, 1),
                         "setup_s": round(setup_s, 1)})
    return rows


@quiet_optuna()  # Optuna's verbosity restored after
def bench_large(spaces: Sequence[str] = ("tune", "judge"), seeds: Sequence[int] = (0, 1, 2, 3, 4),
                trials: int | None = None, scaling: bool = True, encoding: str = "auto",
                out_dir: str | Path | None = None, progress: bool | None = None,
                accuracy: str = "structural") -> dict[str, Any]:
    """The default search on each large space (``trials``: None, the default: exact where the
    front is within the limit, else NSGA-II; a number, the NSGA-II fallback with that budget;
    ``encoding``: another than the default's, to compare; ``accuracy``: ``structural`` or
    ``prior``, a front of nearly every candidate), scored against the exhaustive front; with
    ``scaling``, the time and memory table. Writes ``large_search.json`` (or
    ``large_search_<space>[_<encoding>][_prior].json`` for one space) into ``out_dir``."""
    from ..errors import StitchnasError

    unknown = [s for s in spaces if s not in LARGE_SPACES]
    if unknown:
        raise StitchnasError(f"unknown large space {unknown[0]!r}: choose {', '.join(LARGE_SPACES)}")
    if accuracy not in ACCURACIES:
        raise StitchnasError(f"unknown accuracy {accuracy!r}: choose {', '.join(ACCURACIES)}")
    report: dict[str, Any] = {"seeds": [int(s) for s in seeds], "reference": "nadir of the exhaustive front "
                              "(10% of each range past its worst corner)", "accuracy": accuracy, "spaces": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for key in spaces:
            report["spaces"][key] = _search_space(Path(tmp), key, seeds, trials, progress, encoding, accuracy)
        if scaling:
            report["scaling"] = _scaling(Path(tmp), progress)
            report["memory"] = "peak Python allocations (tracemalloc) of a second, traced run"
    report["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["machine"] = {"cpu": cpu_name(), "python": platform.python_version()}
    if out_dir is not None:
        stem = "large_search" if len(spaces) != 1 or scaling else f"large_search_{spaces[0]}"
        stem += ("" if encoding == "auto" else f"_{encoding}") + ("" if accuracy == "structural" else f"_{accuracy}")
        write_json(Path(out_dir) / f"{stem}.json", report)
    return report
