"""Searching: ``search`` (the Optuna study) and ``run`` (the whole job)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._base import (Command, add_measurements_argument, add_proxies_argument, add_space_argument, device,
                    evaluate_command, name_list, positive_float, seed, trials)

__all__ = ["Run", "Search", "anchor_acc", "add_anchor_acc_argument", "with_anchor_acc"]


def anchor_acc(text: str) -> tuple[str, float]:
    """``--anchor-acc NAME=ACC``: an anchor's name and its top-1 in percent."""
    name, sep, value = text.partition("=")
    try:
        if not (sep and name.strip()):
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=ACC (an anchor's name and its top-1 in "
                                         f"percent), e.g. s=72.2, got {text!r}") from None


def add_anchor_acc_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--anchor-acc", type=anchor_acc, action="append", metavar="NAME=ACC",
                        help="an anchor's top-1 in percent (e.g. a published ImageNet top-1), over "
                             "the space file's acc1; repeat per anchor. With no stitch measured the "
                             "search reads accuracies off the anchors' (a prior)")


def with_anchor_acc(space, pairs):
    """``space`` with the ``--anchor-acc`` values set (a one-line error for unknown anchors)."""
    return space.with_anchor_acc1(dict(pairs)) if pairs else space


class Run(Command):
    """the main job: anchors, stitching layers, measurements, predictor, latency tables, search and
    fronts (what is missing)"""

    name = "run"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser)
        parser.add_argument("--targets", type=_targets, help="comma-separated targets, bundled names "
                            "or YAML paths (default: the space's run.targets, else cpu and flops)")
        parser.add_argument("--trials", type=trials, help="search trials per target")
        parser.add_argument("--seed", type=seed, help="seed of the run's random choices: stitches measured, predictor, latency validation, search (default: the space's run.seed, else 0)")
        parser.add_argument("--device", type=device, help="cpu, cuda, ... for training and measuring (default cpu)")
        parser.add_argument("--out", help="results root for everything the run writes, anchors it "
                            "trains included (default: $STITCHNAS_RESULTS or results)")

    def run(self, args: argparse.Namespace) -> int:
        from ..paths import results_root
        from ..space import load_space
        from ..workflows import RunConfig, run

        with results_root(args.out, "--out"):  # ${results} in the space file follows --out
            space = load_space(args.space)
            targets = tuple(args.targets) if args.targets else None
            cfg = RunConfig.from_space(space, targets=targets, device=args.device, seed=args.seed,
                                       trials=args.trials)
            report = run(space, config=cfg, out=args.out)
        print(Path(report.report).read_text())
        return 0


class Search(Command):
    """multi-objective Optuna search: the Pareto front of a space on each target (saved as
    results/SPACE/TARGET/front.json)"""

    name = "search"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser)
        from ..costs import DEFAULT_TARGET

        parser.add_argument("--target", action="append", type=_targets,
                            help="hardware target (YAML path or bundled name); repeat, or comma-separate, "
                                 f"for several (default: {DEFAULT_TARGET}, counted FLOPs, no budgets)")
        parser.add_argument("--objectives", help="comma-separated: acc1 and costs among flops, params, "
                            "latency_ms, memory_mb (default: acc1 and the target's cost)")
        parser.add_argument("--sampler", default="auto", help="auto (default: exact, every candidate "
                            "evaluated, without --trials while the space or its front has at most 2 x "
                            "10^4 members; else nsga2), exact, "
                            "nsga2, tpe, gp, random, exhaustive, or an Optuna sampler class as "
                            "module:Class")
        parser.add_argument("--n-trials", "--trials", dest="n_trials", type=trials,
                            help="completed trials the study should hold, Optuna's n_trials (default: "
                            "min(3 x candidates, 300); exhaustive or a BruteForceSampler: every candidate)")
        parser.add_argument("--seed", type=seed, default=0, help="sampler seed (default 0)")
        parser.add_argument("--storage", help="Optuna storage: URL (sqlite:///..., postgresql://...), a "
                            ".db path (SQLite), a .journal path or journal:PATH (journal file; "
                            "not .jsonl); default results/SPACE/search.db")
        parser.add_argument("--study-name", help="default: derived from space, target, objectives, "
                            "sampler, seed and inputs (the same command resumes its study); with "
                            "several targets, -TARGET is appended")
        parser.add_argument("--predictor", default="auto", help="predicts unmeasured accuracies "
                            "(stitchnas predictors; default auto)")
        add_measurements_argument(parser)
        add_proxies_argument(parser)
        add_anchor_acc_argument(parser)
        parser.add_argument("--out-dir", "--out", dest="out_dir",
                            help="results root for the fronts, SearchConfig's out_dir (default: results)")
        parser.add_argument("--encoding", choices=("auto", "relative", "path", "tree"), default="auto",
                            help="stitch as parameters: relative cut depths (default), the same with "
                                 "the route anchor by anchor (path; default beyond 10^4 candidates) "
                                 "or the exact tree (always for exhaustive)")
        parser.add_argument("--stale-after-s", type=positive_float, default=60.0,
                            help="a RUNNING trial of another worker without a sign of life for this "
                                 "long is failed and redone (default 60)")

    def run(self, args: argparse.Namespace) -> int:
        from ..optimize import SearchConfig, search_targets
        from ..space import load_space

        space = with_anchor_acc(load_space(args.space), args.anchor_acc)
        objectives = (tuple(o.strip() for o in args.objectives.split(",") if o.strip())
                      if args.objectives else None)
        config = SearchConfig(objectives=objectives, sampler=args.sampler, n_trials=args.n_trials,
                              seed=args.seed, storage=args.storage, study_name=args.study_name,
                              predictor=args.predictor, measurements=args.measurements,
                              proxies=args.proxies, out_dir=args.out_dir, encoding=args.encoding,
                              stale_after_s=args.stale_after_s)

        def report(r) -> None:
            _report(r, space.given_as)
            _warn_resolution(r, args.target)
            note = _measure_note(r, space)
            if note:
                print(f"stitchnas: note: {note}", file=sys.stderr)

        args.target = [t for names in args.target or () for t in names]
        if not args.target:
            from ..costs import DEFAULT_TARGET

            args.target = [DEFAULT_TARGET]
            print(f"stitchnas: note: no --target: searching `{DEFAULT_TARGET}` (FLOPs counted by "
                  "fvcore, no budgets); `stitchnas targets` lists the others", file=sys.stderr)
        results = search_targets(space, args.target, config, on_result=report)
        unused = _unused_anchor_acc(space, args.anchor_acc, results[0].rows)  # every target's rows
        if unused:
            print(f"stitchnas: note: {unused}", file=sys.stderr)
        return 0


def _targets(text: str) -> list[str]:
    """One ``--target`` (or run's ``--targets``): a target file as named (its name may hold
    commas), else comma-separated names and paths (``cpu,flops``; blanks around commas dropped)."""
    return [text] if Path(text).is_file() else name_list(text)


def _unused_anchor_acc(space, pairs, rows) -> str | None:
    """Which ``--anchor-acc`` values the search did not use: an anchor measured in the rows keeps
    its measured top-1, on the front and in the predictor's priors."""
    measured = {m.route.first_anchor: m.acc1 for m in rows if m.route.num_stitches == 0}
    names = [a.name for a in space.anchors]
    over = [f"{name}={value:g} (measured {measured[names.index(name)]:.2f}%)"
            for name, value in pairs or () if names.index(name) in measured]
    if not over:
        return None
    return (f"--anchor-acc {', '.join(over)} not used: an anchor's measured top-1 wins over a given "
            "one; drop the anchor's row from the measurements to search with the given value")


def _warn_resolution(r, given) -> None:
    """On stderr: a note when the latency table searched with was timed on another CPU model
    (tables travel), and the one-line warning when a latency front keeps members its table
    cannot tell apart (:func:`stitchnas.fronts.front_resolution_warning`)."""
    from ..costs import load_target, target_name
    from ..fronts import front_resolution_warning, timed_elsewhere
    from ..progress import get_logger

    here = timed_elsewhere(r.front)
    if here is not None:
        print(f"stitchnas: note: the {r.target} latencies are from a table timed on {r.front.timed_on}, "
              f"not on this machine ({here}): the front orders stitches by that machine's times",
              file=sys.stderr)
    spec = next((t for t in given if target_name(t) == r.target), None)
    batch = load_target(spec).batch_size if spec is not None else None
    warning = front_resolution_warning(r.front, batch)
    if warning:
        get_logger("search").warning(warning)


def _report(r, given: str | None = None) -> None:
    """One line per target searched (notes on stderr); ``given``: the space as the user named it."""
    for note in r.notes:
        print(f"stitchnas: note: {note}", file=sys.stderr)
    front = r.front
    sources = ", ".join(f"{front.count(s)} {s}" for s in ("measured", "predicted", "prior")
                        if front.count(s) or s != "prior")
    print(f"{front.space} on {r.target}: front of {len(front)} ({sources} accuracy) over "
          f"{','.join(front.objectives)}, from {r.distinct_candidates} "
          f"distinct of {front.study.get('candidates')} candidates in {r.n_trials_done} trials "
          f"({front.study.get('sampler')}, seed {front.study.get('seed')}, {r.seconds:.1f} s); "
          f"saved {r.path}; study {r.study_name} in {r.storage}"
          + (f"; {front.coverage}" if front.coverage else ""))
    if front.prior_note(given):
        print(f"note: {front.prior_note(given)}")


def _measure_note(r, space) -> str | None:
    """The command that measures the front's members whose top-1 is predicted, into the file the
    search read and on the same images; None when every member is measured, or the rows are
    published ones (no stitched weights here to measure with)."""
    ids = [m.id for m in r.front.members if m.acc1_source == "predicted"]
    if not ids or not r.rows or not r.front.measurements:
        return None
    if any(m.dataset.endswith(":published") for m in r.rows):
        return None
    command = evaluate_command(space, ids, r.front.measurements, r.rows)
    return (f"{len(ids)} of the {r.target} front's {len(r.front.members)} members have predicted top-1: "
            f"`{command}` measures them (then search again)")
