"""``stitchnas bench ...`` of the cost side: profiling, evaluation with shared prefixes, latency
tables, a front as one switchable model, start-up time and timm coverage (what the machine does,
not how well accuracy is predicted or searched: that is :mod:`._bench`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .._util import counted
from ..errors import StitchnasError
from ._base import Command, add_space_argument, nonnegative_int, positive_int, seed, validate_count

__all__ = ["BENCH_OUT", "REPORT_HELP", "BenchAdapters", "BenchEvaluate", "BenchLatency", "BenchProfiling",
           "BenchStartup", "BenchSwitchable"]

BENCH_OUT = "results/benchmarks"
REPORT_HELP = "folder for the JSON report"


class BenchProfiling(Command):
    """compositional profiling vs tracing every candidate"""

    name = "profiling"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, default="deit3_sl_v2", described=False)
        parser.add_argument("--repeats", type=positive_int, default=3,
                            help="timed runs of each method; medians are reported (default 3)")
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
        parser.add_argument("--images", type=positive_int, default=2000,
                            help="random images each candidate is evaluated on (default 2000)")
        parser.add_argument("--batch-size", type=positive_int, default=250,
                            help="images per forward pass (default 250)")
        parser.add_argument("--repeats", type=positive_int, default=3,
                            help="timed runs of each method; medians are reported (default 3)")
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


class BenchLatency(Command):
    """latency table vs timing every candidate end to end"""

    name = "latency"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, default="deit_tsb_2way", described=False)
        parser.add_argument("--target", default="cpu", help="target YAML path or bundled name (default: cpu)")
        parser.add_argument("--repeats", type=positive_int, default=30,
                            help="timed runs per piece; the 10th percentile is kept (default 30)")
        parser.add_argument("--warmup", type=nonnegative_int, default=5, help="untimed runs first (default 5)")
        parser.add_argument("--validate", type=validate_count, default=24, metavar="K",
                            help="candidates timed end to end (default 24; 'all' measures every one)")
        parser.add_argument("--seed", type=seed, default=0,
                            help="seed choosing the --validate candidates (default 0)")
        parser.add_argument("--out", default=BENCH_OUT, help=REPORT_HELP)

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_latency
        from ..costs import composes_plain_sum
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
              f"median {loo['median_ape_pct']:.2f}% / worst {loo['worst_ape_pct']:.2f}% corrected"
              + ("; the table uses the plain sum (the constants erred more out of sample)"
                 if composes_plain_sum(report) else ""),
              file=sys.stderr)
        if report["error_sum_of_p10s"]:
            p10s = report["error_sum_of_p10s"]
            print(f"the same runs composed as the sum of each piece's 10th percentile instead of the "
                  f"10th percentile of each round's sum: median {p10s['median_ape_pct']:.2f}% / "
                  f"worst {p10s['worst_ape_pct']:.2f}% (mean signed {p10s['mean_signed_pct']:+.2f}%; "
                  f"plain sum per round: {raw['mean_signed_pct']:+.2f}%)", file=sys.stderr)
        return 0


class BenchSwitchable(Command):
    """a whole front as one switchable model: size, switch time, per-member latency"""

    name = "switchable"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--front", action="append", help="front.json benchmarked in full (default, "
                            "without --size-only: results/fmnist_vit_2way/cpu/front.json)")
        parser.add_argument("--size-only", action="append", default=[], metavar="FRONT",
                            help="front.json measured for size only (e.g. a DeiT-Ti/S/B front)")
        parser.add_argument("--space", help="the space the fronts were searched on, for a space of your "
                                             "own (a YAML path; default: each front's bundled space)")
        parser.add_argument("--allow-random-weights", action="store_true",
                            help="anchors without weights are randomly initialised (size checks)")
        parser.add_argument("--repeats", type=positive_int, default=30,
                            help="timed forwards per member; the median is reported (default 30)")
        parser.add_argument("--switches", type=positive_int, default=10000,
                            help="random switches timed; the median is reported (default 10000)")
        parser.add_argument("--threads", type=positive_int, default=1,
                            help="torch threads while timing (default 1)")
        parser.add_argument("--out", default=BENCH_OUT, help=REPORT_HELP)

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_switchable
        from ..paths import front_path

        fronts = args.front or ([] if args.size_only else [str(front_path("fmnist_vit_2way", "cpu"))])
        r = bench_switchable(fronts, args.size_only, allow_random_weights=args.allow_random_weights,
                             repeats=args.repeats, switches=args.switches, threads=args.threads,
                             out_dir=Path(args.out), space=args.space)
        for row in r["fronts"]:
            s = row["size"]
            print(f"{row['space']} / {row['target']}: {row['members']} members over anchors "
                  f"{', '.join(row['anchors_used'])}; bundle {s['bundle_mib']:.3f} MiB = "
                  f"{s['bundle_vs_largest_anchor']:.3f}x the largest anchor ({s['largest_anchor']}, "
                  f"{s['largest_anchor_state_dict_mib']:.3f} MiB; floor {s['floor_used_anchors_vs_largest']:.3f}x), "
                  f"{s['bundle_vs_members_one_by_one']:.3f}x the members one by one "
                  f"({s['members_one_by_one_state_dict_mib']:.3f} MiB)")
            if "switch" in row:
                sw = row["switch"]
                print(f"  switch {sw['switch_us_median']:.2f} us, select {sw['select_us_median']:.2f} us "
                      f"(median of {sw['switches']}); weights unmoved: {sw['weights_unmoved']}; "
                      f"max |artifact - build_model| {row['max_abs_diff_vs_build_model']:.2e}")
                for m in row["members_table"]:
                    print(f"  id {m['id']:>4}  {m['route']:<24} acc1 {m['acc1']:6.2f}  "
                          f"{m['artifact_latency_ms']:.3f} ms")
        print(f"wrote {Path(args.out) / 'switchable.json'}", file=sys.stderr)
        return 0


class BenchStartup(Command):
    """start-up time of --help, --version, query, predictors, spaces and targets (fresh processes),
    and which heavy packages each imports"""

    name = "startup"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--space", default="fmnist_vit_2way",
                            help="the space of a saved front to query (default fmnist_vit_2way)")
        parser.add_argument("--target", default="cpu", help="the target of that front (default cpu)")
        parser.add_argument("--repeats", type=positive_int, default=7,
                            help="timed runs per command after one warm-up; median and min are "
                                 "reported (default 7)")
        parser.add_argument("--out", default=BENCH_OUT, help="folder for startup.json")

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_startup

        r = bench_startup(space=args.space, target=args.target, repeats=args.repeats,
                          out_dir=Path(args.out))
        print(f"{'command':<28} {'median_s':>8} {'min_s':>6} {'cpu_s':>6}  heavy imports")
        py = r["python"]
        print(f"{py['command']:<28} {py['median_s']:>8.3f} {py['min_s']:>6.3f} {py['cpu_median_s']:>6.3f}")
        for row in r["rows"]:
            print(f"{row['command']:<28} {row['median_s']:>8.3f} {row['min_s']:>6.3f} "
                  f"{row['cpu_median_s']:>6.3f}  {', '.join(row['heavy_imports']) or 'none'}")
        print(f"# median of {counted(r['repeats'], 'run')} each on {r['cpu']} ({r['cores']}, load "
              f"average {r['load_average_1min']}); wrote {Path(args.out) / 'startup.json'}")
        return 0 if not any(row["heavy_imports"] for row in r["rows"]) else 1


class BenchAdapters(Command):
    """which timm model families build anchors: one model per timm module through adapter_for"""

    name = "adapters"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--modules", default=None,
                            help="comma-separated timm model modules to survey (default: all)")
        parser.add_argument("--out", default=BENCH_OUT, help="folder for adapters.json")

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import bench_adapters

        def show(row: dict[str, Any]) -> None:
            print(f"{row['module']:<28} {row['model']:<36} {row['adapter'] or '-':<26} {row['reason'] or ''}",
                  flush=True)

        modules = [m.strip() for m in args.modules.split(",") if m.strip()] if args.modules else None
        r = bench_adapters(out_dir=Path(args.out), progress=show, modules=modules)
        print(f"{r['covered']} of {r['modules']} timm {r['timm_version']} model modules build anchors "
              f"({len(r['adapters'])} adapters); wrote {Path(args.out) / 'adapters.json'}")
        return 0
