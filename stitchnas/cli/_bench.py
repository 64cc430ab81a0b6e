"""``stitchnas bench ...``: the benchmarks (commands that time or score, not tests)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import StitchnasError
from ._base import (Command, add_space_argument, measured, nonnegative_int, positive_int,
                    validate_count)

__all__ = ["Bench"]

BENCH_OUT = "results/benchmarks"
REPORT_HELP = "folder for the JSON report"


class BenchProfiling(Command):
    """compositional profiling vs tracing every candidate"""

    name = "profiling"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, default="deit3_sl_v2", described=False)
        parser.add_argument("--repeats", type=positive_int, default=3)
        parser.add_argument("--out", default=BENCH_OUT, help=REPORT_HELP)

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_profiling
        from ..space import load_space

        space = load_space(args.space)
        report = bench_profiling(space, repeats=args.repeats, out_dir=Path(args.out), progress=None)
        print(json.dumps(report, indent=1))
        print(f"{space.name}: {report['candidates']} candidates; compositional "
              f"{report['compositional_s']:.2f} s vs tracing every candidate {report['full_trace_s']:.2f} s "
              f"(median of {report['repeats']}): {report['speedup']}x faster, identical counts: "
              f"{report['identical']}", file=sys.stderr)
        return 0 if report["identical"] else 1


class BenchEvaluate(Command):
    """evaluation with shared prefixes vs one candidate at a time"""

    name = "evaluate"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        parser.add_argument("--images", type=positive_int, default=2000)
        parser.add_argument("--batch-size", type=positive_int, default=250)
        parser.add_argument("--repeats", type=positive_int, default=3)
        parser.add_argument("--out", default=BENCH_OUT, help=REPORT_HELP)

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_evaluate
        from ..space import load_space

        space = load_space(args.space)
        report = bench_evaluate(space, images=args.images, batch_size=args.batch_size,
                                repeats=args.repeats, out_dir=Path(args.out))
        print(json.dumps(report, indent=1))
        print(f"{space.name}: {report['candidates']} candidates on {report['images']} images; shared "
              f"prefixes {report['shared_s']:.2f} s vs one at a time {report['each_s']:.2f} s (median of "
              f"{report['repeats']}): {report['speedup']}x faster", file=sys.stderr)
        return 0


class BenchPredictors(Command):
    """cross-validate predictors on measured tables"""

    name = "predictors"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--table", action="append", required=True, metavar="SPACE=MEASUREMENTS")
        parser.add_argument("--predictors", default="flops,gp,extra_trees,random_forest,auto")
        parser.add_argument("--train-fraction", type=float, default=0.2)
        parser.add_argument("--repeats", type=positive_int, default=20)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", default=BENCH_OUT)

    def run(self, args: argparse.Namespace) -> int:
        from ..fileio import write_json
        from ..bench import bench_predictors
        from ..space import load_space

        tables = []
        for item in args.table:
            space_name, sep, path = item.partition("=")
            if not sep:
                raise StitchnasError(f"--table takes SPACE=MEASUREMENTS, got {item!r}")
            space = load_space(space_name)
            tables.append((space, measured(space, path), space.name))
        report = bench_predictors(tables, args.predictors.split(","), train_fraction=args.train_fraction,
                                  repeats=args.repeats, seed=args.seed)
        write_json(Path(args.out) / "predictors.json", report)
        for label, t in report["tables"].items():
            print(f"# {label} ({t['rows']} rows)")
            for name, sc in t["predictors"].items():
                print(f"{name:<18} tau {sc['kendall_tau']:.3f}  rho {sc['spearman_rho']:.3f}  "
                      f"mae {sc['mae']:.2f}  prec@top10% {sc['precision_top10']:.2f}")
        return 0


class BenchActive(Command):
    """suggest vs random choice of stitches to measure"""

    name = "active"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        parser.add_argument("--measurements", required=True, help="a table with every candidate measured")
        parser.add_argument("--predictor", default="gp")
        parser.add_argument("--start", type=positive_int, default=4)
        parser.add_argument("--stop", type=positive_int, default=32)
        parser.add_argument("--step", type=positive_int, default=4)
        parser.add_argument("--seeds", type=positive_int, default=10)
        parser.add_argument("--out", default=BENCH_OUT)

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
        print(f"mean over sizes: suggest {r['area_active']:.4f}, random {r['area_random']:.4f}; "
              f"wrote {args.out}/active_{space.name}.json/.png")
        return 0


class BenchLatency(Command):
    """latency table vs timing every candidate end to end"""

    name = "latency"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, default="deit_tsb_2way", described=False)
        parser.add_argument("--target", default="cpu", help="target YAML path or bundled name (default: cpu)")
        parser.add_argument("--repeats", type=positive_int, default=30)
        parser.add_argument("--warmup", type=nonnegative_int, default=5)
        parser.add_argument("--validate", type=validate_count, default=24, metavar="K",
                            help="candidates timed end to end (default 24; 'all' measures every one)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", default=BENCH_OUT, help=REPORT_HELP)

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_latency
        from ..space import load_space

        space = load_space(args.space)
        k = len(space) if args.validate == "all" else args.validate
        if not k:
            raise StitchnasError("bench latency needs --validate K >= 1 (or all)")
        report = bench_latency(space, args.target, repeats=args.repeats, warmup=args.warmup,
                               validate=k, seed=args.seed, out_dir=Path(args.out), progress=None)
        print(json.dumps({key: v for key, v in report.items() if key != "validation"}, indent=1))
        loo, raw = report["error_corrected_loo"] or report["error_corrected_fit"], report["error_raw"]
        print(f"{space.name} on {report['target']}: table {report['table_build_s']:.2f} s "
              f"({report['distinct_pieces_timed']} distinct pieces) vs every candidate end to end "
              f"{report['every_candidate_e2e_s']:.1f} s ({report['every_candidate_e2e_is']}): "
              f"{report['speedup_vs_every_candidate']}x; error on {report['validation_k']} candidates: "
              f"median {raw['median_ape_pct']:.2f}% / worst {raw['worst_ape_pct']:.2f}% plain sum, "
              f"median {loo['median_ape_pct']:.2f}% / worst {loo['worst_ape_pct']:.2f}% corrected",
              file=sys.stderr)
        return 0


class BenchSearch(Command):
    """NSGA-II vs TPE vs random against the true front of a fully measured space"""

    name = "search"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        parser.add_argument("--measurements", help="every candidate measured (default: "
                                                   "results/SPACE/measurements.jsonl)")
        parser.add_argument("--train-fraction", type=float, default=0.2,
                            help="share of stitches the search may know as measured (default 0.2; 1: all)")
        parser.add_argument("--trials", type=positive_int, default=100)
        parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds (split and sampler)")
        parser.add_argument("--samplers", default="nsga2,tpe,random")
        parser.add_argument("--target", default="flops_budget")
        parser.add_argument("--objectives", default="acc1,flops")
        parser.add_argument("--predictor", default="auto")
        parser.add_argument("--measure-anchors", action="store_true", help="the measured share always "
                            "holds the anchors (as when they were trained first)")
        parser.add_argument("--choose", choices=("random", "anchors", "suggest"), default="random",
                            help="how the measured share is chosen: at random, anchors + random, or as "
                                 "`stitchnas run` does (anchors + random up to 8, then suggest)")
        parser.add_argument("--out", default=BENCH_OUT, help="folder for the JSON and PNG report")

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_search

        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        objectives = tuple(o.strip() for o in args.objectives.split(",") if o.strip())
        r = bench_search(args.space, args.measurements, target=args.target, objectives=objectives,
                         train_fraction=args.train_fraction, trials=args.trials, seeds=seeds,
                         samplers=[s.strip() for s in args.samplers.split(",") if s.strip()],
                         predictor=args.predictor, measure_anchors=args.measure_anchors,
                         choose=args.choose, out_dir=Path(args.out))
        known = (f"{r['train_size']} of {r['candidates']} stitches measured"
                 + (" (the anchors among them)" if r["measure_anchors"] else "")
                 + (" (anchors, random, then chosen by suggest)" if r["choose"] == "suggest" else "")
                 + (f", {r['predictor']} predicts the rest" if r["train_size"] < r["candidates"] else ""))
        print(f"{r['space']}: {known}; true hypervolume of the found front / the true front's "
              f"(nadir reference; chance reference in brackets), mean of {len(r['seeds'])} seeds:")
        ceil = r["ceiling"]
        print(f"  ceiling (predicted front of every candidate): {ceil['hv_ratio_nadir_mean']:.4f} "
              f"[{ceil['hv_ratio_chance_mean']:.4f}]")
        for name, e in r["results"].items():
            d = e["distinct"]["mean"][-1]
            print(f"  {name:<8} after {r['trials']} trials: {e['final_nadir']['mean']:.4f} "
                  f"[{e['final_chance']['mean']:.4f}], {d:.1f} distinct candidates, "
                  f"{e['seconds_mean']:.2f} s per search")
        print(f"wrote {', '.join(r.get('files', []))}")
        d = r["default_search"]
        modes = sorted({run["sampler"] for run in d["per_seed"]})
        print(f"default search: {d['hv_ratio_nadir_mean']:.4f} of the true front's hypervolume "
              f"(mean of {len(r['seeds'])} seeds; {', '.join(modes)})")
        return 0


class BenchExact(Command):
    """the exact search's time and memory against the number of candidates"""

    name = "exact"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--repeats", type=positive_int, default=3)
        parser.add_argument("--seed", type=int, default=0)
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
                  f"{r['search_s']:.2f} s exact search ({r['in_memory_s']:.2f} s in memory), "
                  f"peak {r['peak_python_mb']} MB (median of {report['repeats']})", file=sys.stderr)
        return 0


class Bench(Command):
    """benchmarks (commands, not tests)"""

    name = "bench"
    subcommands = (BenchProfiling, BenchEvaluate, BenchPredictors, BenchActive, BenchLatency,
                   BenchSearch, BenchExact)
