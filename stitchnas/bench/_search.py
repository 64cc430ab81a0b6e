"""Benchmark of the search on a fully measured space: ``stitchnas bench search SPACE``.

Every candidate is measured, so the true front is known. For each seed a random
``train_fraction`` of the stitches counts as measured (seeded, as ``predictor-cv`` splits); the
predictor is fitted on them and predicts the rest, and each sampler searches on those accuracies
(measured where "measured", predicted elsewhere) with the same code path as ``stitchnas search``
(in-memory storage). After every trial the front found so far (the Pareto set of the distinct
feasible stitches evaluated, by the accuracies the search saw) is scored with the TRUE
accuracies: its hypervolume over the true front's. The ceiling is the same score for the front
of the predicted accuracies over the whole space: what an exhaustive search finds, and where
every sampler ends once it has seen every candidate: the predictor's limit, not the sampler's.
(A partial search can score above it by luck, keeping a stitch that an unseen candidate with a
higher predicted accuracy would push off the front.) With ``train_fraction=1`` every
stitch counts as measured: the ceiling is 1 and the curves score the samplers alone.

Hypervolume references (accuracy maximised, cost minimised), all reported:

* ``nadir`` (the headline): cost as is, reference just beyond the true front's worst corner (10%
  of each range past it), so the score measures the front itself;
* ``log_nadir``: the same on log-cost (as ``stitchnas bench active`` scores fronts);
* ``chance``: a fixed ``ref_acc`` (default 10%: chance on ten classes) at the largest cost of
  the space, as the SN-Net study in the README scores its fronts.
"""

from __future__ import annotations

import math
import platform
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._util import counted
from ..errors import StitchnasError
from ..fileio import atomic_write, write_json
from ..costs import cpu_name as _cpu
from ..pareto import front_indices, hypervolume
from ..paths import measurements_path

__all__ = ["bench_search", "miss_line", "recount_misses", "REFERENCES"]

REFERENCES = ("nadir", "log_nadir", "chance")


def _nadir(acc: np.ndarray, cost: np.ndarray, pad: float = 0.1) -> tuple[float, float]:
    span_a = float(acc.max() - acc.min()) or 1.0
    span_c = float(cost.max() - cost.min()) or 1.0
    return float(acc.min()) - pad * span_a, float(cost.max()) + pad * span_c


class _Scorer:
    """True hypervolume of a set of candidate ids, as a fraction of the true front's."""

    def __init__(self, true_acc: np.ndarray, cost: np.ndarray, feasible: np.ndarray, ref_acc: float):
        self.true_acc, self.cost = true_acc, cost
        self.logc = np.log(cost)
        idx = np.flatnonzero(feasible)
        tf = idx[front_indices(true_acc[idx], cost[idx])]
        self.true_front = tf
        self.refs = {
            "nadir": (*_nadir(true_acc[tf], cost[tf]), False),
            "log_nadir": (*_nadir(true_acc[tf], self.logc[tf]), True),
            "chance": (float(ref_acc), float(cost.max()), False),
        }
        self.true_hv = {name: self._hv(tf, name) for name in REFERENCES}
        # how far each member's top-1 could fall before a feasible stitch as cheap dominated it:
        # a margin within measurement noise makes membership itself a coin flip
        self.margins, self.rivals = _margins(true_acc, cost, idx, tf)

    def _hv(self, idx: Sequence[int], name: str) -> float:
        ref_a, ref_c, log = self.refs[name]
        idx = np.asarray(list(idx), dtype=int)
        if len(idx) == 0:
            return 0.0
        c = self.logc[idx] if log else self.cost[idx]
        return hypervolume(self.true_acc[idx], c, ref_a, ref_c)

    def ratios(self, idx: Sequence[int]) -> dict[str, float]:
        return {name: self._hv(idx, name) / self.true_hv[name] for name in REFERENCES}


def _margins(acc: np.ndarray, cost: np.ndarray, idx: np.ndarray,
             members: Sequence[int]) -> tuple[list[float], list[int | None]]:
    """For each member, its top-1 minus the best other feasible (``idx``) stitch at most as
    costly (+inf where none is: nothing could beat it), and that stitch, its rival (None there):
    one sort, not a scan per member (fronts of 10^5 in the large benchmark)."""
    order = idx[np.argsort(cost[idx], kind="stable")]
    c, a = cost[order], acc[order]
    best = np.maximum.accumulate(a)  # best of the first k+1 by cost
    where = np.maximum.accumulate(np.where(a >= best, np.arange(len(a)), 0))  # ... and its position
    margins, rivals = [], []
    for i in members:
        last = int(np.searchsorted(c, cost[i], side="right")) - 1  # the last as cheap as i
        first = int(np.searchsorted(c, cost[i], side="left"))
        ties = np.arange(first, last + 1)
        ties = ties[order[ties] != i]  # as costly as i, but i
        options = [int(where[first - 1])] if first > 0 else []  # the best strictly cheaper
        if len(ties):
            options.append(int(ties[np.argmax(a[ties])]))
        if not options:
            margins.append(np.inf)
            rivals.append(None)
            continue
        k = max(options, key=lambda k: a[k])
        margins.append(float(acc[i] - a[k]))
        rivals.append(int(order[k]))
    return margins, rivals


def _misses(scorer: _Scorer, rows: Sequence, found: Sequence[int]) -> list[dict]:
    """The true-front members a found front (row indices) lacks, each with its lead over its
    rival (the best other feasible stitch at most as costly: the scorer's margins) and that lead's
    standard error (paired over the same images where both rows carry per-image outcomes; None
    where the table gives no image count, as published tables do): a miss whose lead is within two
    standard errors is one no rule reading the measurements could be sure of."""
    from ..measure import difference_stderr

    have = set(int(i) for i in found)
    out = []
    for i, lead, rival in zip(scorer.true_front, scorer.margins, scorer.rivals):
        if int(i) in have:
            continue
        if rival is None:  # the cheapest feasible stitch: no rival, so never noise
            out.append({"id": int(rows[i].id), "rival": None, "lead": None, "stderr": None, "paired": None})
            continue
        err = difference_stderr(rows[i], rows[rival])
        out.append({"id": int(rows[i].id), "rival": int(rows[rival].id), "lead": round(lead, 4),
                    "stderr": None if err is None else round(err[0], 4),
                    "paired": None if err is None else err[1]})
    return out


def _miss_counts(missed: Sequence[dict]) -> dict[str, int]:
    """How many misses over all seeds, how many lead by less than two standard errors, how many of
    those errors are paired and how many taken as independent (rows without per-image outcomes: an
    overstatement), and how many could not be judged (no image count; a missed cheapest stitch,
    which has no rival, is judged not noise)."""
    judged = [m for m in missed if m["stderr"] is not None or m["rival"] is None]
    # a lead of 0 is a tie the true front keeps (same top-1, same cost): noise whatever the error
    within = sum(m["stderr"] is not None and (m["lead"] <= 0 or m["lead"] < 2 * m["stderr"]) for m in judged)
    return {"count": len(missed), "within_2se": within, "paired": sum(bool(m["paired"]) for m in judged),
            "independent": sum(m["paired"] is False for m in judged), "unjudged": len(missed) - len(judged)}


def _errors_text(counts: dict[str, int]) -> str:
    paired, independent = counts["paired"], counts.get("independent", 0)  # reports of before it lack it
    if not independent:
        return f"{paired} paired over the same images"
    alone = "taken as independent, which overstates them: the rows carry no per-image outcomes"
    return alone if not paired else f"{paired} paired over the same images, {independent} {alone}"


def miss_line(counts: dict[str, int], seeds: int) -> str:
    """The bench's line on the default search's misses: how many are within measurement noise."""
    if not counts["count"]:
        return f"misses of the default search: none over {counted(seeds, 'seed')}"
    head = (f"misses of the default search: {counted(counts['count'], 'true-front member')} over "
            f"{counted(seeds, 'seed')}")
    judged = counts["count"] - counts["unjudged"]
    if not judged:
        return head + "; the table gives no image count, so whether they are noise is not judged"
    within = counts["within_2se"]
    return (head + f"; {within} of {judged} lead the best stitch at most as costly by less than two "
            f"standard errors of the difference ({_errors_text(counts)}), "
            + ("so what is missed is measurement noise" if within == judged else
               f"{judged - within} by more: not noise")
            + (f"; {counts['unjudged']} not judged (no image count)" if counts["unjudged"] else ""))


def _truth(space, rows: Sequence, tgt, objectives: Sequence[str], ref_acc: float):
    """The fully measured table as the bench scores it: the problem of the true accuracies on the
    target, its candidate ids, their rows in that order, and the scorer of the true front."""
    from ..optimize import accuracy_table, build_problem

    truth = accuracy_table(space, rows, "flops")  # every id measured: no predictor is fitted
    t_problem = build_problem(space, tgt, objectives, truth, memory=False)
    ids = list(truth.ids)
    by_id = {m.id: m for m in rows}
    table_rows = [by_id[cid] for cid in ids]
    true_acc = np.array([m.acc1 for m in table_rows], dtype=float)
    cost_col = next(k for k, o in enumerate(objectives) if o != "acc1")
    cost = np.array([t_problem.values[i, cost_col] for i in range(len(ids))])
    return t_problem, ids, table_rows, _Scorer(true_acc, cost, t_problem.feasible, ref_acc)


def recount_misses(report: dict[str, Any], space: Any, measurements: Any) -> dict[str, Any]:
    """Count a saved ``bench search`` report's default-search misses again from its fully measured
    table, as :func:`bench_search` now stores them (``{"misses": counts, "per_seed": [[miss,
    ...], ...]}``), for reports written before it did. Those keep each seed's predicted front,
    which is what the default search returns where it is exact (every table here); a report whose
    default search scored otherwise is refused rather than guessed at."""
    from ..costs import load_target
    from ..measure import read_measurements
    from ..space import load_space

    space = load_space(space)
    rows = read_measurements(measurements, space)
    _, ids, table_rows, scorer = _truth(space, rows, load_target(report["target"]), report["objectives"],
                                        report["references"]["chance"]["acc1"])
    index = {cid: i for i, cid in enumerate(ids)}
    per_seed = []
    for found, ceiling in zip(report["default_search"]["per_seed"], report["ceiling"]["per_seed"]):
        if abs(found["hv_ratio_nadir"] - ceiling["hv_ratio_nadir"]) > 1e-6:
            raise StitchnasError(f"the report's default search (seed {found['seed']}) did not return the "
                                 "predicted front, so which members it missed is not in the report: run "
                                 "`stitchnas bench search` again")
        per_seed.append(_misses(scorer, table_rows, [index[cid] for cid in ceiling["predicted_front_ids"]]))
    return {"misses": _miss_counts([m for seed in per_seed for m in seed]), "per_seed": per_seed}


def _curve(problem, trial_ids: Sequence[int], scorer: _Scorer, n_trials: int) -> dict[str, list]:
    """Per trial count 1..n: true-HV ratios of the front found so far, distinct ids seen."""
    seen: list[int] = []
    seen_set: set[int] = set()
    out: dict[str, list] = {name: [] for name in REFERENCES}
    out["distinct"] = []
    last = None
    for n in range(n_trials):
        if n < len(trial_ids) and trial_ids[n] not in seen_set:
            seen.append(trial_ids[n])
            seen_set.add(trial_ids[n])
            front = [problem.index[cid] for cid in problem.front(seen)]
            last = scorer.ratios(front)
        for name in REFERENCES:
            out[name].append(None if last is None else round(last[name], 6))
        out["distinct"].append(len(seen))
    return out


def _summary(curves: list[list[float | None]]) -> dict[str, list]:
    arr = np.array([[np.nan if v is None else v for v in c] for c in curves], dtype=float)
    with np.errstate(all="ignore"):
        return {"mean": [None if math.isnan(v) else round(float(v), 6) for v in np.nanmean(arr, axis=0)],
                "min": [None if math.isnan(v) else round(float(v), 6) for v in np.nanmin(arr, axis=0)],
                "max": [None if math.isnan(v) else round(float(v), 6) for v in np.nanmax(arr, axis=0)]}


def _settled(curve: Sequence[float | None], level: float) -> int | None:
    """The first trial count from which the curve stays at or above ``level`` to the end (a
    found front's true hypervolume can drop when a newly seen stitch pushes a member off)."""
    at = None
    for n, v in enumerate(curve, 1):
        if v is not None and v >= level - 1e-9:
            at = n if at is None else at
        else:
            at = None
    return at


def bench_search(space: Any, measurements: Any = None, *, target: Any = "flops",
                 objectives: Sequence[str] = ("acc1", "flops"), train_fraction: float = 0.2,
                 trials: int = 100, seeds: Sequence[int] = (0, 1, 2, 3, 4),
                 samplers: Sequence[str] = ("nsga2", "tpe", "random"), predictor: Any = "auto",
                 ref_acc: float = 10.0, level: float = 0.98, measure_anchors: bool = False,
                 choose: str = "random", initial: int = 4, per_round: int = 1,
                 shape_spread: float | None = None, out_dir: str | Path | None = "results/benchmarks",
                 progress: bool | None = None, proxies: str | Path | None = None) -> dict[str, Any]:
    """Run the benchmark; write ``search_<space>.json`` and ``.png`` into ``out_dir`` (unless
    None) and return the report. ``measure_anchors``: the measured share always holds the
    anchors (as when they were trained first), the rest drawn at random. ``choose="suggest"``: the
    measured share is chosen as ``stitchnas run`` chooses it: the anchors, random stitches (one per
    route shape while shapes are left) up to ``initial`` (4, as the run's default), then rounds
    of ``per_round`` (1) picked by :func:`stitchnas.predict.suggest` (the truth of each pick
    revealed as it is "measured"), with its ``shape_spread`` (None: suggest's default).
    ``proxies``: every candidate's proxy scores (``stitchnas proxy``, of the table's checkpoint),
    which the predictor reads, as in ``stitchnas run``."""
    if choose not in ("random", "anchors", "suggest"):
        raise StitchnasError(f"--choose must be random, anchors or suggest, not {choose!r}")
    if measure_anchors:
        choose = "anchors"
    from tqdm.auto import tqdm

    from ..measure import read_measurements
    from ..optimize import (SearchConfig, accuracy_table, build_problem, check_objectives,
                            check_sampler, search_problem)
    from ..predict import SHAPE_SPREAD
    from ..progress import show_bars
    from ..space import load_space
    from ..costs import load_target

    shape_spread = SHAPE_SPREAD if shape_spread is None else shape_spread
    space = load_space(space)
    tgt = load_target(target)
    objectives = check_objectives(objectives)
    if len(objectives) != 2:
        raise StitchnasError(f"bench search scores two objectives (acc1 and one cost), got "
                             f"{','.join(objectives)}")
    cost_name = next(o for o in objectives if o != "acc1")
    if not 0 < train_fraction <= 1:
        raise StitchnasError(f"--train-fraction must be in (0, 1], got {train_fraction} (1: every "
                             "stitch measured, the search alone is scored)")
    path = Path(measurements) if measurements is not None else measurements_path(space.name)
    rows = read_measurements(path, space)
    by_id = {m.id: m for m in rows}
    missing = [c.id for c in space.candidates if c.id not in by_id]
    if missing:
        raise StitchnasError(f"bench search needs every candidate of {space.name} measured (the true "
                             f"front); {len(missing)} of {len(space)} are not in {path} (e.g. id "
                             f"{missing[0]}): measure them with `stitchnas evaluate {space.given_as} --all`")
    n = len(rows)
    train_size = round(train_fraction * n)
    if train_size < 2:
        raise StitchnasError(f"train fraction {train_fraction} of {n} stitches leaves {train_size} "
                             "measured: a predictor needs at least 2; raise --train-fraction")
    from ..measure import load_proxy_signals

    signals = load_proxy_signals(proxies, space, rows)
    sampler_names = list(samplers)
    for s in sampler_names:
        check_sampler(s)

    # the truth, and the costs (shared by every seed)
    t_problem, ids, table_rows, scorer = _truth(space, rows, tgt, objectives, ref_acc)

    report_runs: dict[str, list[dict[str, Any]]] = {s: [] for s in sampler_names}
    ceilings, fits, default_runs = [], [], []
    show = show_bars(progress)
    bar = tqdm(total=len(seeds) * len(sampler_names), desc=f"bench search {space.name}",
               disable=not show)
    anchor_rows = [i for i, m in enumerate(rows) if m.route.num_stitches == 0]
    row_of = {m.id: i for i, m in enumerate(rows)}
    for seed in seeds:
        if choose == "suggest":
            from ..predict import measurement_plan

            chosen: list = []

            def reveal(ids: Sequence[int]) -> list:  # "measuring" reads the truth
                chosen.extend(by_id[i] for i in ids)  # the plan asks only for unmeasured ids
                return chosen

            measurement_plan(space, reveal, train_size, initial=initial, per_round=per_round,
                             predictor=predictor, seed=int(seed),
                             cost=cost_name if cost_name in ("flops", "params") else "flops",
                             shape_spread=shape_spread, signals=signals)
            order = [row_of[m.id] for m in chosen]
        elif choose == "anchors":
            others = [i for i in range(n) if i not in anchor_rows]
            pick = np.random.default_rng(seed).permutation(len(others))[: max(0, train_size - len(anchor_rows))]
            order = anchor_rows + [others[i] for i in pick]
        else:
            order = np.random.default_rng(seed).permutation(n)[:train_size]
        train = [rows[i] for i in sorted(order)]
        t0 = time.perf_counter()
        acc = accuracy_table(space, train, predictor, random_state=seed, proxies=proxies)
        fits.append(time.perf_counter() - t0)
        problem = build_problem(space, tgt, objectives, acc, memory=False)
        # the ceiling: the predicted front over the whole space, scored with the truth
        pred_front = [problem.index[cid] for cid in problem.front(ids)]
        ceil = scorer.ratios(pred_front)
        ceilings.append({"seed": int(seed), "measured_ids": [int(r.id) for r in train],
                         "predictor": acc.predictor,
                         "predicted_front_ids": sorted(ids[i] for i in pred_front),
                         **{f"hv_ratio_{k}": round(v, 6) for k, v in ceil.items()}})
        # the default search, as `stitchnas search` runs it (no --sampler, no --trials)
        default = search_problem(problem, SearchConfig(objectives=objectives, seed=int(seed),
                                                       storage="memory", save=False), progress=False)
        found = [problem.index[m.id] for m in default.front.members]
        default_runs.append({"seed": int(seed), "sampler": default.front.study.get("sampler"),
                             "distinct": default.distinct_candidates,
                             **{f"hv_ratio_{k}": round(v, 6) for k, v in scorer.ratios(found).items()},
                             "missed": _misses(scorer, table_rows, found)})
        for name in sampler_names:
            cfg = SearchConfig(objectives=objectives, sampler=name, n_trials=trials, seed=int(seed),
                               storage="memory", save=False)
            result = search_problem(problem, cfg, progress=False)
            curve = _curve(problem, list(result.trial_ids), scorer, trials)
            report_runs[name].append({
                "seed": int(seed), "seconds": round(result.seconds, 4),
                "trials": result.n_trials_done, "distinct": result.distinct_candidates,
                "front_ids": sorted(m.id for m in result.front.members),
                "curve": curve,
            })
            bar.update()
    bar.close()

    samplers_out: dict[str, Any] = {}
    for name, runs in report_runs.items():
        entry: dict[str, Any] = {
            "seconds": [r["seconds"] for r in runs],
            "seconds_mean": round(float(np.mean([r["seconds"] for r in runs])), 4),
            "distinct": _summary([r["curve"]["distinct"] for r in runs]),
        }
        for ref in REFERENCES:
            curves = [r["curve"][ref] for r in runs]
            finals = [c[-1] for c in curves]
            entry[f"hv_ratio_{ref}"] = _summary(curves)
            entry[f"final_{ref}"] = {"mean": round(float(np.mean(finals)), 6),
                                     "min": round(float(np.min(finals)), 6),
                                     "per_seed": finals}
            entry[f"trials_to_{level:g}_{ref}"] = [_settled(c, level) for c in curves]
            entry[f"trials_to_ceiling_{ref}"] = [
                _settled(c, ceil[f"hv_ratio_{ref}"]) for c, ceil in zip(curves, ceilings)]
        entry["runs"] = [{k: v for k, v in r.items() if k != "curve"} for r in runs]
        samplers_out[name] = entry

    feasible = int(np.sum(t_problem.feasible))
    thin = len(scorer.true_front) < 3
    budgeted = bool(tgt.budgets.active)
    why = (f"leaves {feasible} of {len(space)} candidates within its budgets and a true front of "
           f"{len(scorer.true_front)}: its hypervolume ratios say little; use --target flops (no "
           "budget) to score the whole trade-off" if budgeted else
           f"has no budgets, yet the true front of this table has only {len(scorer.true_front)} "
           "members: its hypervolume ratios say little")
    report = {
        "space": space.name, "space_hash": space.content_hash, "candidates": len(space),
        "feasible": feasible,
        **({"warning": f"target {tgt.name!r} {why}"} if thin else {}),
        "measurements": str(path), "target": tgt.name, "objectives": list(objectives),
        "train_fraction": train_fraction, "train_size": train_size, "predictor": str(predictor),
        "proxies": None if proxies is None else str(proxies),
        "measure_anchors": choose == "anchors", "choose": choose,
        **({"initial": initial, "per_round": per_round, "shape_spread": shape_spread}
           if choose == "suggest" else {}),
        "trials": trials, "seeds": [int(s) for s in seeds], "samplers": sampler_names,
        "level": level,
        "references": {k: {"acc1": round(v[0], 6), cost_name: round(v[1], 6), "log_cost": v[2]}
                       for k, v in scorer.refs.items()},
        "true_front_ids": sorted(ids[i] for i in scorer.true_front),
        "true_front_margins": {str(ids[i]): (round(m, 4) if np.isfinite(m) else None)
                               for i, m in zip(scorer.true_front, scorer.margins)},
        # context for the references: what the anchors alone score
        "anchors_only": {f"hv_ratio_{k}": round(v, 6) for k, v in scorer.ratios(
            [i for i, cid in enumerate(ids) if t_problem.costs[i].route.num_stitches == 0
             and t_problem.feasible[i]]).items()},
        "true_hypervolume": {k: round(v, 6) for k, v in scorer.true_hv.items()},
        "ceiling": {
            **{f"hv_ratio_{ref}_mean": round(float(np.mean([c[f"hv_ratio_{ref}"] for c in ceilings])), 6)
               for ref in REFERENCES},
            **{f"hv_ratio_{ref}_min": round(float(np.min([c[f"hv_ratio_{ref}"] for c in ceilings])), 6)
               for ref in REFERENCES},
            "per_seed": ceilings,
        },
        "default_search": {
            **{f"hv_ratio_{ref}_mean": round(float(np.mean([d[f"hv_ratio_{ref}"] for d in default_runs])), 6)
               for ref in REFERENCES},
            "misses": _miss_counts([m for d in default_runs for m in d["missed"]]),
            "per_seed": default_runs,
        },
        "predictor_fit_seconds_mean": round(float(np.mean(fits)), 3),
        "results": samplers_out,
        "machine": {"cpu": _cpu(), "python": platform.python_version(), "optuna": _optuna_version()},
    }
    if out_dir is not None:
        out = Path(out_dir)
        stem = f"search_{space.name}"
        if abs(train_fraction - 0.2) > 1e-12:
            stem += f"_measured{round(train_fraction * 100):d}"
        if choose == "suggest":
            stem += "_suggest"
        elif choose == "anchors":
            stem += "_anchors"
        report["files"] = [str(out / f"{stem}.json"), str(out / f"{stem}.png")]
        write_json(out / f"{stem}.json", report)
        _plot(report, out / f"{stem}.png")
    return report




def _optuna_version() -> str:
    import optuna

    return optuna.__version__


_COLORS = {"nsga2": "tab:blue", "tpe": "tab:orange", "random": "tab:gray", "gp": "tab:green",
           "exhaustive": "tab:purple"}


def _plot(report: dict[str, Any], path: Path) -> Path:
    from ..plots import pyplot

    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.4), dpi=110)
    try:
        xs = np.arange(1, report["trials"] + 1)
        for name, entry in report["results"].items():
            color = _COLORS.get(name, None)
            hv = entry["hv_ratio_nadir"]
            mean = np.array([np.nan if v is None else v for v in hv["mean"]])
            lo = np.array([np.nan if v is None else v for v in hv["min"]])
            hi = np.array([np.nan if v is None else v for v in hv["max"]])
            ax1.plot(xs, mean, color=color, label=f"{name} (mean of {counted(len(report['seeds']), 'seed')})")
            ax1.fill_between(xs, lo, hi, color=color, alpha=0.15, linewidth=0)
            d = np.array(entry["distinct"]["mean"], dtype=float)
            ax2.plot(xs, d, color=color, label=name)
        ceil = report["ceiling"]["hv_ratio_nadir_mean"]
        ax1.axhline(ceil, color="k", linestyle="--", linewidth=1,
                    label=f"ceiling: predicted front, all candidates ({ceil:.3f})")
        ax1.axhline(report["level"], color="tab:red", linestyle=":", linewidth=1,
                    label=f"{report['level']:.0%} of the true front")
        ax1.set_xlabel("trials")
        ax1.set_ylabel("true hypervolume / true front's")
        ax1.set_ylim(max(0.0, min(0.8, float(np.nanmin([v for e in report["results"].values()
                                                          for v in e["hv_ratio_nadir"]["min"]
                                                          if v is not None] or [0.8])))), 1.005)
        ax1.set_title(f"{report['space']}: found front scored with true accuracy "
                      f"({report['train_size']} of {report['candidates']} measured, {report['predictor']})",
                      fontsize=9)
        ax1.grid(alpha=0.3)
        ax1.legend(fontsize=7, loc="lower right")
        ax2.axhline(report["candidates"], color="k", linestyle="--", linewidth=1,
                    label=f"all {report['candidates']} candidates")
        ax2.set_xlabel("trials")
        ax2.set_ylabel("distinct candidates evaluated")
        ax2.set_title("distinct candidates evaluated (mean)", fontsize=9)
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return path
