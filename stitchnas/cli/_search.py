"""Searching: ``search`` (the Optuna study) and ``run`` (the whole job)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._base import Command, add_space_argument, positive_float, positive_int

__all__ = ["Run", "Search"]


class Run(Command):
    """the main job: anchors, stitching layers, measurements, predictor, latency tables, search and
    fronts (what is missing)"""

    name = "run"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser)
        parser.add_argument("--targets", help="comma-separated targets (default: the space's run.targets)")
        parser.add_argument("--trials", type=positive_int, help="search trials per target")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--device", help="cpu, cuda, ... for training and measuring (default cpu)")
        parser.add_argument("--out", help="results root (default: $STITCHNAS_RESULTS or results)")

    def run(self, args: argparse.Namespace) -> int:
        from ..space import load_space
        from ..workflows import RunConfig, run

        space = load_space(args.space)
        targets = tuple(t for t in args.targets.split(",") if t) if args.targets else None
        cfg = RunConfig.from_space(space, targets=targets, device=args.device, seed=args.seed,
                                   trials=args.trials)
        report = run(space, config=cfg, out=args.out)
        print(Path(report.report).read_text())
        return 0


class Search(Command):
    """multi-objective Optuna search: the Pareto front of a space on each target (saved as
    results/SPACE/TARGET/front.json)"""

    name = "search"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser)
        parser.add_argument("--target", action="append", required=True,
                            help="hardware target (YAML path or bundled name); repeat for several")
        parser.add_argument("--objectives", help="comma-separated: acc1 and costs among flops, params, "
                            "latency_ms, memory_mb (default: acc1 and the target's cost)")
        parser.add_argument("--sampler", default="auto", help="auto (default: exact, every candidate "
                            "evaluated, up to 10^4 candidates without --trials; else nsga2), exact, "
                            "nsga2, tpe, gp, random, exhaustive, or an Optuna sampler class as "
                            "module:Class")
        parser.add_argument("--trials", type=positive_int, help="completed trials the study should hold "
                            "(default: min(3 x candidates, 300); exhaustive: every candidate)")
        parser.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
        parser.add_argument("--storage", help="Optuna storage: URL (sqlite:///..., postgresql://...), a "
                            ".db path (SQLite) or a .log path (journal file); default "
                            "results/SPACE/search.db")
        parser.add_argument("--study-name", help="default: derived from space, target, objectives, "
                            "sampler, seed and inputs (the same command resumes its study); with "
                            "several targets, -TARGET is appended")
        parser.add_argument("--predictor", default="auto", help="predicts unmeasured accuracies "
                            "(stitchnas predictors; default auto)")
        parser.add_argument("--measurements",
                            help="measurements file (default: results/SPACE/measurements.jsonl)")
        parser.add_argument("--out", help="results root for the fronts (default: results)")
        parser.add_argument("--encoding", choices=("auto", "relative", "tree"), default="auto",
                            help="stitch as parameters: relative cut depths (default) or the exact "
                                 "tree (always for exhaustive)")
        parser.add_argument("--stale-after-s", type=positive_float, default=60.0,
                            help="a RUNNING trial of another worker without a sign of life for this "
                                 "long is failed and redone (default 60)")

    def run(self, args: argparse.Namespace) -> int:
        from ..optimize import SearchConfig, search_targets

        objectives = (tuple(o.strip() for o in args.objectives.split(",") if o.strip())
                      if args.objectives else None)
        config = SearchConfig(objectives=objectives, sampler=args.sampler, n_trials=args.trials,
                              seed=args.seed, storage=args.storage, study_name=args.study_name,
                              predictor=args.predictor, measurements=args.measurements,
                              out_dir=args.out, encoding=args.encoding,
                              stale_after_s=args.stale_after_s)
        search_targets(args.space, args.target, config, on_result=_report)
        return 0


def _report(r) -> None:
    """One line per target searched (notes on stderr)."""
    for note in r.notes:
        print(f"stitchnas: note: {note}", file=sys.stderr)
    front = r.front
    n_pred = sum(m.acc1_source == "predicted" for m in front.members)
    print(f"{front.space} on {r.target}: front of {len(front)} ({len(front) - n_pred} measured, "
          f"{n_pred} predicted accuracy) over {','.join(front.objectives)}, from {r.distinct_candidates} "
          f"distinct of {front.study.get('candidates')} candidates in {r.n_trials_done} trials "
          f"({front.study.get('sampler')}, seed {front.study.get('seed')}, {r.seconds:.1f} s); "
          f"saved {r.path}; study {r.study_name} in {r.storage}"
          + (f"; {front.coverage}" if front.coverage else ""))
