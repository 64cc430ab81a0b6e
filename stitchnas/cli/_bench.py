"""``stitchnas bench ...``: the benchmarks (commands that time or score, not tests); this module
those of predictors and search, :mod:`._bench_costs` those of the cost side."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .._util import counted
from ..errors import StitchnasError
from ._base import (Command, add_proxies_argument, add_space_argument, fraction, given_options, measured,
                    nonnegative_float, option_name, positive_int, name_list, seed, seed_list)
from ._bench_costs import (BENCH_OUT, REPORT_HELP, BenchAdapters, BenchEvaluate, BenchLatency, BenchProfiling,
                           BenchStartup, BenchSwitchable)

__all__ = ["Bench"]


def _split_arguments(parser: argparse.ArgumentParser, report: str) -> None:
    """The options of the benchmarks that score predictors on random splits of measured tables."""
    parser.add_argument("--table", action="append", required=True, metavar="SPACE=MEASUREMENTS",
                        help="a space and a fully measured table of it; repeat for several tables")
    parser.add_argument("--train-fraction", type=fraction, default=0.2,
                        help="share of each table every split fits on (default 0.2)")
    parser.add_argument("--repeats", type=positive_int, default=20,
                        help="random splits averaged per table (default 20)")
    parser.add_argument("--seed", type=seed, default=0,
                        help="seed of the first split (split i uses seed + i; default 0)")
    parser.add_argument("--out", default=BENCH_OUT, help=f"folder for {report}")


def _tables(items: list[str]) -> list[tuple[Any, Any, str]]:
    """``--table SPACE=MEASUREMENTS`` values as ``(space, rows, label)``; a second table of one
    space is labelled by its file's stem."""
    from ..space import load_space

    tables: list[tuple[Any, Any, str]] = []
    for item in items:
        space_name, sep, path = item.partition("=")
        if not sep:
            raise StitchnasError(f"--table takes SPACE=MEASUREMENTS, got {item!r}")
        space = load_space(space_name)
        label = space.name if all(t[2] != space.name for t in tables) else f"{space.name}:{Path(path).stem}"
        tables.append((space, measured(space, path), label))
    return tables


class BenchPredictors(Command):
    """cross-validate predictors on measured tables"""

    name = "predictors"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _split_arguments(parser, "predictors.json")
        parser.add_argument("--predictors", type=name_list, default="gp,extra_trees,random_forest,route,auto",
                            help="comma-separated predictor names, beside the FLOPs baseline every "
                                 "table reports (default: %(default)s)")

    def run(self, args: argparse.Namespace) -> int:
        from ..fileio import write_json
        from ..bench import bench_predictors

        tables = _tables(args.table)
        report = bench_predictors(tables, args.predictors, train_fraction=args.train_fraction,
                                  repeats=args.repeats, seed=args.seed)
        write_json(Path(args.out) / "predictors.json", report)
        for label, t in report["tables"].items():
            print(f"# {label} ({t['rows']} rows)")
            for name, sc in t["predictors"].items():
                gain = (f"  vs FLOPs {sc['tau_gain']:+.3f} ± {sc['tau_gain_se']:.3f}" if "tau_gain" in sc else "")
                print(f"{name:<18} tau {sc['kendall_tau']:.3f}  rho {sc['spearman_rho']:.3f}  "
                      f"mae {sc['mae']:.2f}  prec@top10% {sc['precision_top10']:.2f}{gain}")
        print("# vs FLOPs: the tau gain over the FLOPs baseline, mean ± paired standard error over "
              f"the {counted(report['repeats'], 'split')}")
        return 0


class BenchPredictorLoto(Command):
    """choose the route model's shrink leave-one-table-out and score it on the held-out tables"""

    name = "predictor-loto"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _split_arguments(parser, "predictor_loto.json")

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_predictor_loto
        from ..fileio import write_json

        report = bench_predictor_loto(_tables(args.table), train_fraction=args.train_fraction,
                                      repeats=args.repeats, seed=args.seed)
        write_json(Path(args.out) / "predictor_loto.json", report)
        shrinks = report["shrinks"]
        print("table".ljust(34) + "flops  " + "  ".join(f"k={s:g}".rjust(5) for s in shrinks))
        for label, t in report["tables"].items():
            mark = "" if t["two_way"] else " (one-way)"
            print(f"{(label + mark)[:33]:<34}{t['flops_tau']:.3f}  "
                  + "  ".join(f"{t['tau'][str(s)]:.3f}" for s in shrinks))
        for name, h in report["held_out"].items():
            for label, r in h["tables"].items():
                if r["tau"] is not None:
                    print(f"held out {label}: shrink {h['shrink']:g} chosen on the others, tau {r['tau']:.3f} "
                          f"vs flops {r['flops_tau']:.3f} ({r['margin']:+.3f})")
        print(f"chosen on every table: shrink {report['chosen_on_all']:g}")
        return 0


class BenchPredictSpeed(Command):
    """seconds to fit a predictor and predict every candidate, 134 to 10^5 candidates"""

    name = "predict-speed"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--predictor", default="auto", help="the predictor timed (default auto)")
        parser.add_argument("--spaces", type=name_list, default="snnet_v2_12x24,two_way_8x24",
                            help="comma-separated generated spaces (snnet_v2_12x24: 134, two_way_8x24: 100,472)")
        parser.add_argument("--repeats", type=positive_int, default=3,
                            help="timed fits per space; medians are reported (default 3)")
        parser.add_argument("--seed", type=seed, default=0,
                            help="seed of the synthetic accuracies (repeat i uses seed + i; default 0)")
        parser.add_argument("--out", default=BENCH_OUT, help=REPORT_HELP)

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import SPEED_SPACES, bench_predict_speed
        from ..fileio import write_json

        spaces = args.spaces
        bad = [s for s in spaces if s not in SPEED_SPACES]
        if bad:
            raise StitchnasError(f"unknown --spaces {bad}: choose from {sorted(SPEED_SPACES)}")
        report = bench_predict_speed(args.predictor, spaces, repeats=args.repeats, seed=args.seed)
        write_json(Path(args.out) / "predict_speed.json", report)
        for r in report["rows"]:
            print(f"{r['space']}: {r['candidates']} candidates, {r['measured']} measured, chose "
                  f"{','.join(map(str, r['chosen']))}: {r['total_s']:.2f} s ({r['total_cpu_s']:.2f} s CPU; stitches "
                  f"{r['stitches_s']:.2f}, fit {r['fit_s']:.2f}, predict {r['predict_s']:.2f}); "
                  f"start-up {r['startup_s']:.1f} s (median of {report['repeats']})")
        return 0


class BenchActive(Command):
    """suggest vs random choice of stitches to measure"""

    name = "active"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        parser.add_argument("--measurements", required=True, help="a table with every candidate measured")
        parser.add_argument("--predictor", default="gp", help="the predictor suggest uses (default gp)")
        parser.add_argument("--start", type=positive_int, default=4, help="stitches measured first (default 4)")
        parser.add_argument("--stop", type=positive_int, default=32,
                            help="stitches measured at the end (default 32)")
        parser.add_argument("--step", type=positive_int, default=4,
                            help="stitches added per round (default 4)")
        parser.add_argument("--seeds", type=positive_int, default=10,
                            help="runs averaged, seeds 0..N-1 (default 10)")
        parser.add_argument("--out", default=BENCH_OUT, help="folder for the JSON and PNG report")

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_active
        from ..space import load_space

        space = load_space(args.space)
        rows = measured(space, args.measurements)
        r = bench_active(space, rows, args.out, predictor=args.predictor, start=args.start,
                         stop=args.stop, step=args.step, seeds=range(args.seeds))
        print(f"{space.name}: true hypervolume of the predicted front / the true front's, mean of "
              f"{args.seeds} seeds ({args.predictor}):")
        for n, a, b in zip(r["sizes"], r["hv_ratio_active"], r["hv_ratio_random"]):
            print(f"  {n:>3} measured: suggest {a:.4f}   random {b:.4f}")
        if r["sizes"][-1] < args.stop:
            print(f"  (no size past {r['sizes'][-1]}: the space has {r['candidates']} candidates)")
        print(f"mean over sizes: suggest {r['area_active']:.4f}, random {r['area_random']:.4f}; "
              f"wrote {args.out}/active_{space.name}.json/.png")
        return 0


class BenchSearch(Command):
    """NSGA-II vs TPE vs random against the true front of a fully measured space"""

    name = "search"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        parser.add_argument("--measurements", help="every candidate measured (default: "
                                                   "results/SPACE/measurements.jsonl)")
        parser.add_argument("--train-fraction", type=fraction, default=0.2,
                            help="share of stitches the search may know as measured (default 0.2; 1: all)")
        parser.add_argument("--trials", type=positive_int, default=100,
                            help="trials per search (default 100)")
        parser.add_argument("--seeds", type=seed_list, default="0,1,2,3,4",
                            help="comma-separated seeds (split and sampler)")
        parser.add_argument("--samplers", type=name_list, default="nsga2,tpe,random",
                            help="comma-separated samplers compared (default nsga2,tpe,random)")
        parser.add_argument("--target", default="flops",
                            help="hardware target, YAML path or bundled name (default flops: FLOPs "
                                 "without a budget, the whole trade-off)")
        parser.add_argument("--objectives", default="acc1,flops",
                            help="comma-separated objectives (default acc1,flops)")
        parser.add_argument("--predictor", default="auto",
                            help="predicts the accuracies the search may not know (default auto)")
        parser.add_argument("--measure-anchors", action="store_true", help="the measured share always "
                            "holds the anchors (as when they were trained first)")
        parser.add_argument("--choose", choices=("random", "anchors", "suggest"), default="random",
                            help="how the measured share is chosen: at random, anchors + random, or as "
                                 "`stitchnas run` does (anchors + random, one per route shape, up to 4, then "
                                 "suggest)")
        parser.add_argument("--initial", type=positive_int, help="with --choose suggest: "
                            "stitches measured first, anchors included (default 4, as the run's)")
        parser.add_argument("--per-round", type=positive_int, help="with --choose suggest: "
                            "stitches suggested per round (default 1, as the run's)")
        parser.add_argument("--shape-spread", type=nonnegative_float, default=None,
                            help="with --choose suggest: suggest's per-shape spread (default: "
                                 "suggest's own, as the run's)")
        add_proxies_argument(parser)
        parser.add_argument("--out", default=BENCH_OUT, help="folder for the JSON and PNG report")

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_search, miss_line

        seeds = args.seeds
        objectives = tuple(o.strip() for o in args.objectives.split(",") if o.strip())
        suggest = given_options(args, "initial", "per_round", "shape_spread")
        if suggest and args.choose != "suggest":
            option = option_name(next(iter(suggest)))
            raise StitchnasError(f"{option} only applies to --choose suggest: add it or drop {option}")
        r = bench_search(args.space, args.measurements, target=args.target, objectives=objectives,
                         train_fraction=args.train_fraction, trials=args.trials, seeds=seeds,
                         samplers=args.samplers,
                         predictor=args.predictor, measure_anchors=args.measure_anchors,
                         choose=args.choose, out_dir=Path(args.out), **suggest,
                         proxies=args.proxies)
        known = (f"{r['train_size']} of {r['candidates']} stitches measured"
                 + (" (the anchors among them)" if r["measure_anchors"] else "")
                 + (" (anchors, random, then chosen by suggest)" if r["choose"] == "suggest" else "")
                 + (f", {r['predictor']} predicts the rest" if r["train_size"] < r["candidates"] else ""))
        print(f"{r['space']}: {known}; true hypervolume of the found front / the true front's "
              f"(nadir reference; chance reference in brackets), mean of {counted(len(r['seeds']), 'seed')}:")
        ceil = r["ceiling"]
        print(f"  ceiling (predicted front of every candidate): {ceil['hv_ratio_nadir_mean']:.4f} "
              f"[{ceil['hv_ratio_chance_mean']:.4f}]")
        for name, e in r["results"].items():
            d = e["distinct"]["mean"][-1]
            print(f"  {name:<8} after {r['trials']} trials: {e['final_nadir']['mean']:.4f} "
                  f"[{e['final_chance']['mean']:.4f}], {d:.1f} distinct candidates, "
                  f"{e['seconds_mean']:.2f} s per search")
        if r.get("warning"):
            from ..progress import get_logger

            get_logger("bench").warning(r["warning"])
        margins = [m for m in r["true_front_margins"].values() if m is not None]
        print(f"  true front: {len(r['true_front_margins'])} members, {sum(m < 0.5 for m in margins)} of "
              "them less than 0.5 points of top-1 above the best stitch at most as costly")
        d = r["default_search"]
        print(f"  {miss_line(d['misses'], len(r['seeds']))}")
        print(f"wrote {', '.join(r.get('files', []))}")
        modes = sorted({run["sampler"] for run in d["per_seed"]})
        worst = min(run["hv_ratio_nadir"] for run in d["per_seed"])
        spread = f", worst seed {worst:.4f}" if len(d["per_seed"]) > 1 else ""
        print(f"default search: {d['hv_ratio_nadir_mean']:.4f} of the true front's hypervolume "
              f"(mean of {counted(len(r['seeds']), 'seed')}{spread}; {', '.join(modes)})")
        return 0


class BenchExact(Command):
    """the exact search's time and memory against the number of candidates"""

    name = "exact"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--repeats", type=positive_int, default=3,
                            help="searches per space; medians are reported (default 3)")
        parser.add_argument("--seed", type=seed, default=0,
                            help="seed of the synthetic accuracies and costs (default 0)")
        parser.add_argument("--max-anchors", type=positive_int, default=8,
                            help="skip the generated spaces of more anchors (8: up to 100,472 candidates)")
        parser.add_argument("--out", default=BENCH_OUT, help=REPORT_HELP)

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import GENERATED_SPACES, bench_exact

        shapes = [s for s in GENERATED_SPACES if s[0] <= args.max_anchors]
        report = bench_exact(shapes, repeats=args.repeats, seed=args.seed, out_dir=Path(args.out))
        print(json.dumps(report, indent=1))
        for r in report["rows"]:
            print(f"{r['space']}: {r['candidates']} candidates, front of {r['front']}: "
                  f"{r['search_s']:.2f} s exact search ({r['evaluate_s']:.2f} s evaluating), "
                  f"peak {r['peak_python_mb']} MB (median of {report['repeats']})", file=sys.stderr)
        return 0


class BenchRecord(Command):
    """seconds to record finished trials in a SQLite file: one transaction against trial by trial"""

    name = "record"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--trials", type=positive_int, nargs="+", default=None,
                            help="trial counts recorded (default 1000 5000)")
        parser.add_argument("--repeats", type=positive_int, default=3,
                            help="recordings per way and count; medians are reported (default 3)")
        parser.add_argument("--postgres", metavar="URL", default=None,
                            help="also record in this PostgreSQL database, both ways (its studies are deleted after)")
        parser.add_argument("--out", default=BENCH_OUT, help=REPORT_HELP)

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import RECORD_COUNTS, bench_record

        report = bench_record(args.trials or RECORD_COUNTS, repeats=args.repeats, out_dir=Path(args.out),
                              postgres=args.postgres)
        for r in report["rows"]:
            pg = (f"; PostgreSQL {r['postgresql_one_transaction_s']:.2f} s against "
                  f"{r['postgresql_trial_by_trial_s']:.2f} s ({r['postgresql_speedup']}x)" if args.postgres else "")
            print(f"{r['trials']} trials: SQLite {r['sqlite_one_transaction_s']:.2f} s in one transaction against "
                  f"{r['sqlite_trial_by_trial_s']:.2f} s trial by trial ({r['speedup']}x), "
                  f"{r['journal_s']:.2f} s in a journal file{pg}; read back the same: "
                  f"{r['same_trials_read_back']} (median of {report['repeats']})")
        return 0


class BenchPrior(Command):
    """the prior from the measured anchors alone, scored on every measured stitch"""

    name = "prior"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        parser.add_argument("--measurements", required=True, help="a measurements file of the space "
                            "(its anchors and stitches measured)")
        parser.add_argument("--out", default=BENCH_OUT, help=REPORT_HELP)

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_prior
        from ..space import load_space

        space = load_space(args.space)
        r = bench_prior(space, measured(space, args.measurements), label=args.measurements,
                        out_dir=Path(args.out))
        print(json.dumps(r, indent=1))
        anchors = ", ".join(f"{k} {v:.1f}" for k, v in r["anchors"].items())
        print(f"{space.name}: prior from anchors {anchors} on {r['stitches']} measured stitches: "
              f"MAE {r['mae']:.2f}, bias (measured - prior) {r['bias_measured_minus_prior']:+.2f}, "
              f"Kendall tau {r['kendall_tau']}, within 1 / 2 std {r['within_1_std']:.0%} / "
              f"{r['within_2_std']:.0%} (median std {r['median_std']:.2f})", file=sys.stderr)
        return 0


class BenchLarge(Command):
    """the default search on large spaces against the exhaustive front (4 x 10^4 to 10^5 candidates)"""

    name = "large"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--spaces", type=name_list, default="tune,judge",
                            help="generated large spaces: tune (the default was chosen on it), judge "
                                 "(10^5 candidates); mid_tune, mid_judge, mid_judge7 (4 to 6.5 x 10^4)")
        parser.add_argument("--seeds", type=seed_list, default="0,1,2,3,4", help="comma-separated seeds")
        parser.add_argument("--trials", type=positive_int, default=None,
                            help="NSGA-II trials per search, the fallback beyond the exact limit (default: "
                                 "the search's own default: exact while the front has at most 2 x 10^4 "
                                 "members, else 5,000 NSGA-II trials)")
        parser.add_argument("--accuracy", choices=("structural", "prior"), default="structural",
                            help="synthetic accuracies: structural (fronts of a few dozen) or prior "
                                 "(the anchors' line: a front of nearly every candidate)")
        parser.add_argument("--encoding", choices=("auto", "relative", "path"), default="auto",
                            help="search in another encoding than the default's (to compare)")
        parser.add_argument("--no-scaling", action="store_true",
                            help="skip the time and memory table at 10^3, 10^4, 2 x 10^4, 10^5 candidates")
        parser.add_argument("--out", default=BENCH_OUT, help=REPORT_HELP)

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_large

        spaces = args.spaces
        seeds = args.seeds
        r = bench_large(spaces, seeds, trials=args.trials, scaling=not args.no_scaling,
                        encoding=args.encoding, out_dir=Path(args.out), progress=None,
                        accuracy=args.accuracy)
        for key, e in r["spaces"].items():
            if not e["runs"]:
                continue
            per_seed = " ".join(f"{x['hv_ratio_nadir']:.4f}" for x in e["runs"])
            print(f"{e['space']} ({key}: {e['role']}; {e['accuracy']} accuracy, {e['runs'][0]['sampler']}): "
                  f"{e['candidates']} candidates, {e['trials']} trials "
                  f"({e['trials_share_pct']}%), exhaustive front {e['exhaustive_front']}: hypervolume / "
                  f"exhaustive front's {e['hv_ratio_nadir_mean']:.4f} mean, min {e['hv_ratio_nadir_min']:.4f} "
                  f"(per seed {per_seed}); {e['search_s_mean']:.1f} s per search")
        for row in r.get("scaling", []):
            print(f"{row['candidates']:>8} candidates, {row['search']}: {row['trials']} trials, "
                  f"{row['search_s']:.2f} s, peak {row['peak_python_mb']} MB")
        return 0


class Bench(Command):
    """benchmarks (commands, not tests)"""

    name = "bench"
    subcommands = (BenchProfiling, BenchEvaluate, BenchPredictors, BenchPredictorLoto, BenchPredictSpeed, BenchActive, BenchLatency,
                   BenchSearch, BenchExact, BenchRecord, BenchPrior, BenchSwitchable, BenchLarge, BenchStartup, BenchAdapters)
