"""Validation of a latency table: the anchors and random stitches, K in all, timed end to end as standalone modules,
the overhead constants fitted by weighted least squares, errors reported honestly (leave-one-out),
and composed peak memory checked against a tracked run of each whole module.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .._util import counted
from ..errors import StitchnasError
from ..progress import show_bars
from ..space import Candidate, SearchSpace, load_space
from ._machine import machine_identity
from ._memory import _module_bytes, _param_storages, _storage_key, _tracked_peak
from ._table import PLAIN_SUM, STATISTIC, LatencyTable, composes_plain_sum
from ._targets import MB, Target, load_target
from ._timing import (_Clock, _image, _prepare_models, _stats, _threads, _time_modules,
                      _torch_device, _torch_dtype)

__all__ = ["MAX_MEDIAN_APE_PCT", "MAX_WORST_APE_PCT", "DEFAULT_VALIDATE", "choose_validation",
           "fit_overhead", "latency_warning", "out_of_sample_ms", "save_validation_plot",
           "validation_plot_path", "validate_latency", "validation_error", "time_end_to_end"]

#: A latency table is trusted when its validation error (:func:`validation_error`: leave-one-out
#: with the overhead constants, or the plain sum's where it composes without them) stays within
#: these: median and worst absolute percentage error.
MAX_MEDIAN_APE_PCT = 5.0
MAX_WORST_APE_PCT = 10.0
#: Candidates timed end to end to validate a table unless told otherwise (`profile-latency`,
#: `run`): enough for a median and a worst error and the overhead constants' leave-one-out.
DEFAULT_VALIDATE = 12


def _check_counts(repeats: int, warmup: int) -> None:
    if not isinstance(repeats, int) or repeats < 1:
        raise StitchnasError(f"repeats must be a positive integer, got {repeats!r}")
    if not isinstance(warmup, int) or warmup < 0:
        raise StitchnasError(f"warmup must be a non-negative integer, got {warmup!r}")


def _validate_k(k) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise StitchnasError(f"validate needs a positive number of candidates, got {k!r}")
    return k


def fit_overhead(composed: Sequence[float], measured: Sequence[float],
                 stitches: Sequence[int]) -> tuple[float, float]:
    """Constants ``(per_network_ms, per_stitch_ms)`` minimising the squared *relative* error of
    ``composed + per_network + per_stitch * stitches`` against ``measured``. With fewer than two
    distinct stitch counts seen twice or more each, only the per-network constant is fitted (one
    anchor among one-stitch routes would otherwise set the split between the two alone)."""
    import numpy as np

    c, m, s = (np.asarray(v, dtype=float) for v in (composed, measured, stitches))
    if c.size == 0:
        return 0.0, 0.0
    w = 1.0 / m
    r = (m - c) * w
    counts = np.unique(s, return_counts=True)[1]
    if (counts >= 2).sum() >= 2:
        a = np.stack([w, s * w], axis=1)
        sol, *_ = np.linalg.lstsq(a, r, rcond=None)
        return float(sol[0]), float(sol[1])
    return float((r * w).sum() / (w * w).sum()), 0.0


def _ape_stats(pred: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    errs = [100.0 * (p - m) / m for p, m in zip(pred, measured)]
    ape = [abs(e) for e in errs]
    return {"median_ape_pct": round(statistics.median(ape), 3), "worst_ape_pct": round(max(ape), 3),
            "mean_ape_pct": round(statistics.fmean(ape), 3),
            "mean_signed_pct": round(statistics.fmean(errs), 3)}


def choose_validation(space: SearchSpace, k: int, seed: int = 0) -> list[Candidate]:
    """K distinct candidates in id order: the anchors, which end every front and are the routes
    without a stitch that the per-stitch constant is told apart by, then random stitches (all
    candidates when K >= the space's size; K random ones when K is at most the anchors)."""
    cands = space.candidates
    if k >= len(cands):
        return list(cands)
    anchors = [c for c in cands if c.is_anchor]
    if k <= len(anchors):
        return sorted(random.Random(seed).sample(cands, k), key=lambda c: c.id)
    rest = [c for c in cands if not c.is_anchor]
    return sorted(anchors + random.Random(seed).sample(rest, k - len(anchors)), key=lambda c: c.id)


def validate_latency(table: LatencyTable, space: SearchSpace | str, target: Target | str, k: int, *,
                     seed: int = 0, repeats: int | None = None, warmup: int | None = None,
                     models: Sequence | None = None, progress: bool | None = None,
                     times: tuple[list[list[float]], float] | None = None) -> LatencyTable:
    """Time K random candidates end to end as standalone modules on this machine, fit the
    overhead constants and return the table with them and the report (not saved).

    The report gives the absolute percentage error of the plain sum of parts (``raw``), of the
    corrected composition with each candidate predicted from constants fitted on the others
    (``corrected_loo``: the honest figure), and in-sample (``corrected_fit``); and the composed
    peak memory against a tracked run of each whole module. The constants are kept only where
    they help: when the plain sum's mean error is lower than the leave-one-out one (constants
    fitted to noise), the table composes without them (``composition``: ``"plain sum"``).
    """
    import torch

    from ..network import StitchedNetwork

    space, target = load_space(space), load_target(target)
    table.check(space, target, check_machine=True)
    table = table.bind(space)
    if not isinstance(k, int) or k < 1:
        raise StitchnasError(f"validate needs a positive number of candidates, got {k!r}")
    repeats = table.meta.get("repeats", 30) if repeats is None else repeats
    warmup = table.meta.get("warmup", 5) if warmup is None else warmup
    _check_counts(repeats, warmup)
    device, dtype = _torch_device(target), _torch_dtype(target)
    cands = choose_validation(space, k, seed)
    rows = []
    with _threads(target.threads):
        models = _prepare_models(space, target, device, dtype, models)
        net = StitchedNetwork(space, models).to(device=device, dtype=dtype).eval()
        x = _image(space, target, device, dtype)
        exclude = _param_storages([net])
        exclude.add(_storage_key(x)[0])
        t0 = time.perf_counter()
        if times is None:
            times = _time_routes(net, cands, x, device, repeats=repeats, warmup=warmup, progress=progress)
            e2e_s = time.perf_counter() - t0
        else:  # timed by profile_latency in the same rounds as the pieces
            times, e2e_s = times
        with torch.inference_mode():
            for cand, samples in zip(cands, times):
                st = _stats(samples)
                rows.append({"id": cand.id, "route": cand.route.to_json(),
                             "stitches": cand.route.num_stitches, "measured_ms": st[STATISTIC],
                             "measured_median_ms": st["median_ms"],
                             "measured_p10_ms": st["p10_ms"], "measured_p90_ms": st["p90_ms"],
                             "composed_raw_ms": table.composed_ms(cand),
                             "composed_sum_of_p10_ms": table.percentile_sum_ms(cand)})
        t0 = time.perf_counter()
        with torch.inference_mode():
            for row, cand in zip(rows, cands):
                module = net.route_module(cand)
                _, peak = _tracked_peak(module, x, exclude)
                row["memory_traced_mb"] = (_module_bytes(module) + table.memory["input_bytes"]
                                           + peak) / MB
                row["memory_composed_mb"] = table.memory_mb(cand)
        memory_s = time.perf_counter() - t0
    raw = [r["composed_raw_ms"] for r in rows]
    meas = [r["measured_ms"] for r in rows]
    nst = [r["stitches"] for r in rows]
    c0, c1 = fit_overhead(raw, meas, nst)
    loo = []
    for i in range(len(rows)):
        rest = [j for j in range(len(rows)) if j != i]
        a, b = fit_overhead([raw[j] for j in rest], [meas[j] for j in rest], [nst[j] for j in rest])
        loo.append(raw[i] + a + b * nst[i])
    raw_err = _ape_stats(raw, meas)
    loo_err = _ape_stats(loo, meas) if len(rows) >= 2 else None
    fitted = (c0, c1)
    plain = loo_err is not None and raw_err["mean_ape_pct"] < loo_err["mean_ape_pct"]
    if plain:
        c0, c1 = 0.0, 0.0
    for row, p in zip(rows, loo):
        row["composed_ms"] = row["composed_raw_ms"] + c0 + c1 * row["stitches"]
        row["composed_loo_ms"] = p
    mem_err = [abs(r["memory_composed_mb"] - r["memory_traced_mb"]) / r["memory_traced_mb"] * 100
               for r in rows]
    report = {
        "k": len(rows), "seed": seed, "repeats": repeats, "warmup": warmup,
        "raw": raw_err,
        "corrected_loo": loo_err,
        "corrected_fit": _ape_stats([r["composed_raw_ms"] + fitted[0] + fitted[1] * r["stitches"]
                                     for r in rows], meas),
        "composition": PLAIN_SUM if plain else "with overhead constants",
        # the pieces' own 10th percentiles summed (how tables composed before they kept each
        # round's times), on the same runs: what composing round by round changes
        "sum_of_p10s": (_ape_stats([r["composed_sum_of_p10_ms"] for r in rows], meas)
                        if table.per_round else None),
        "e2e_timing_s": round(e2e_s, 3),
        "e2e_per_candidate_s": round(e2e_s / len(rows), 4),
        "memory_check_s": round(memory_s, 3),
        "memory_worst_error_pct": round(max(mem_err), 4),
        "machine": machine_identity(target),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "candidates": rows,
    }
    method = ("weighted least squares of measured - composed against [1, stitches], "
              "weights 1/measured (relative error)")
    if plain:
        method += (f"; not applied: fitted {fitted[0]:+.4f} / {fitted[1]:+.4f} ms, but the plain "
                   f"sum's mean error ({raw_err['mean_ape_pct']:.2f}%) is below theirs out of sample "
                   f"({loo_err['mean_ape_pct']:.2f}%)")
    overhead = {"per_network_ms": c0, "per_stitch_ms": c1, "fitted_on": len(rows), "method": method}
    return replace(table, overhead=overhead, validation=report)


def validation_error(validation: dict) -> dict[str, float]:
    """The error statistics of the composition a validated table uses: the plain sum's where the
    overhead constants were not applied, else theirs out of sample (leave-one-out; the plain sum
    when a single candidate was validated)."""
    if composes_plain_sum(validation):
        return validation["raw"]
    return validation.get("corrected_loo") or validation["raw"]


def validation_plot_path(table: LatencyTable) -> Path | None:
    """Where a table's validation plot lives: beside its JSON (None for a table without a path)."""
    return Path(table.path).with_suffix(".png") if table.path is not None else None


def save_validation_plot(table: LatencyTable) -> Path | None:
    """Draw a validated table's check (its composed latency against each validated candidate
    timed end to end, out of sample) as a PNG beside the table's JSON; returns its path, or None
    for a table without validation or without a path. A plot newer than its table is kept: it
    shows that table's validation already."""
    from ..fileio import atomic_write
    from ..plots import latency_validation_png

    v = table.validation
    path = validation_plot_path(table)
    if not v or path is None:
        return None
    if path.is_file() and Path(table.path).is_file() and \
            path.stat().st_mtime_ns >= Path(table.path).stat().st_mtime_ns:
        return path
    rows = v["candidates"]
    err = validation_error(v)
    png = latency_validation_png(
        [out_of_sample_ms(v, r) for r in rows], [r["measured_ms"] for r in rows],
        [(r.get("measured_p10_ms", r["measured_ms"]), r.get("measured_p90_ms", r["measured_ms"]))
         for r in rows],
        band_pct=MAX_MEDIAN_APE_PCT, statistic=STATISTIC.removesuffix("_ms"),
        title=f"{table.space['name']} on {table.target['name']}: {len(rows)} candidates timed\n"
              f"error median {err['median_ape_pct']:.1f}% / worst {err['worst_ape_pct']:.1f}% (limits "
              f"{MAX_MEDIAN_APE_PCT:g}% / {MAX_WORST_APE_PCT:g}%)\n"
              f"{table.machine.get('cpu')}, {str(v['created'])[:16].replace('T', ' ')}")
    with atomic_write(path, "wb", what="latency validation plot") as fh:
        fh.write(png)
    return path


def out_of_sample_ms(validation: dict, row: dict) -> float:
    """A validated candidate's composed latency as the table gives it, from constants fitted on
    the other candidates (the plain sum where the table uses no constants)."""
    if composes_plain_sum(validation):
        return row["composed_raw_ms"]
    return row.get("composed_loo_ms", row["composed_raw_ms"])


def time_end_to_end(space: SearchSpace | str, target: Target | str, ids: Sequence[int], *,
                    repeats: int = 30, warmup: int = 5, models: Sequence | None = None,
                    progress: bool | None = None) -> dict[int, float]:
    """Each candidate of ``ids`` timed end to end as a standalone module on this machine, in ms
    (the tables' statistic, interleaved rounds as in :func:`validate_latency`): what a front
    ordered by composed latency is checked against."""
    from ..network import StitchedNetwork

    space, target = load_space(space), load_target(target)
    _check_counts(repeats, warmup)
    device, dtype = _torch_device(target), _torch_dtype(target)
    cands = [space.candidate(int(i)) for i in ids]
    with _threads(target.threads):
        models = _prepare_models(space, target, device, dtype, models)
        net = StitchedNetwork(space, models).to(device=device, dtype=dtype).eval()
        x = _image(space, target, device, dtype)
        times = _time_routes(net, cands, x, device, repeats=repeats, warmup=warmup, progress=progress)
    return {c.id: float(_stats(t)[STATISTIC]) for c, t in zip(cands, times)}


def _time_routes(net, cands: Sequence[Candidate], x, device, *, repeats: int, warmup: int,
                 progress: bool | None) -> list[list[float]]:
    """Each candidate's route of ``net`` timed as a standalone module, in interleaved rounds."""
    import torch
    from tqdm.auto import tqdm

    bar = tqdm(total=warmup + repeats, desc=f"timing {len(cands)} candidates end to end",
               unit="round", disable=not show_bars(progress))
    with torch.inference_mode():
        modules = [net.route_module(c) for c in cands]
        times = _time_modules(modules, x, _Clock(device), repeats=repeats, warmup=warmup, bar=bar)
    bar.close()
    return times


def latency_warning(table: LatencyTable, *, max_median_pct: float = MAX_MEDIAN_APE_PCT,
                    max_worst_pct: float = MAX_WORST_APE_PCT, space: str | None = None,
                    target: str | None = None) -> str | None:
    """One line saying why ``table``'s latencies should not be trusted and what to do, or None.

    A table is suspect when it was never validated, when its validation error (leave-one-out
    with the overhead constants; the plain sum when fewer than two candidates were validated)
    exceeds ``max_median_pct`` median or ``max_worst_pct`` worst, or when the validated
    candidates' latencies differ less than one run differs from the next (their range, fastest
    to slowest, is within the median spread of a candidate's repeats, median over p10): then a
    front ordered by latency orders noise. Before all of these: a CPU table timed with more
    threads than the machine had cores. ``space``/``target``: as the user gave them (a path or
    a name), for the command the line suggests.
    """
    name = table.target.get("name", "?")
    batch = int(table.target.get("settings", {}).get("batch_size") or 1)
    fix = ("re-time with more repeats (--repeats 60 --force), on a quieter machine, or at a bigger "
           f"batch (a target with batch_size above {batch}" + (", e.g. cpu_batch64)" if batch < 64 else ")"))
    threads, cores = table.machine.get("threads"), table.meta.get("cpu_cores")
    if threads and cores and threads > cores:  # threads sharing cores time another machine
        return (f"the {name} latency table is not to be trusted: timed with {threads} threads on "
                f"{counted(cores, 'core')}, which they share: that is not the latency of a machine with "
                f"{threads} cores; profile on the target's machine, or give the target threads: {cores} here")
    v = table.validation
    if not v:
        space = space or (table.bound_space.given_as if table.bound_space is not None else None)
        where = f"{space} " if space else ""
        return (f"the {name} latency table is not validated: time candidates end to end with "
                f"stitchnas profile-latency {where}--target {target or name} --validate {DEFAULT_VALIDATE}")
    err = validation_error(v)
    problems = []
    if err["median_ape_pct"] > max_median_pct or err["worst_ape_pct"] > max_worst_pct:
        problems.append(f"validation error median {err['median_ape_pct']:.1f}% / worst "
                        f"{err['worst_ape_pct']:.1f}% (limits {max_median_pct:g}% / {max_worst_pct:g}%)")
    rows = v.get("candidates") or []
    if len(rows) >= 2:
        meas = [r["measured_ms"] for r in rows]
        spread = statistics.median((r["measured_median_ms"] - r["measured_p10_ms"]) / r["measured_p10_ms"]
                                   for r in rows) * 100
        span = (max(meas) - min(meas)) / min(meas) * 100
        if span <= spread:
            problems.append(f"candidates differ by {span:.0f}% fastest to slowest but one run "
                            f"differs from the next by {spread:.0f}% (median over p10)")
    if not problems:
        return None
    return f"the {name} latency table is not to be trusted: {'; '.join(problems)}: {fix}"

