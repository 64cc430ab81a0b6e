"""Latency on this machine: ``profile-latency`` (a target's lookup table)."""

from __future__ import annotations

import argparse

from ..errors import StitchnasError
from ._base import Command, add_space_argument, nonnegative_int, positive_int, seed, validate_count

__all__ = ["ProfileLatency"]


class ProfileLatency(Command):
    """time every distinct piece of a space on this machine for a target: a latency lookup table"""

    name = "profile-latency"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser)
        parser.add_argument("--target", required=True, help="a target YAML path or bundled name "
                                                            "(stitchnas targets)")
        parser.add_argument("--repeats", type=positive_int, default=30, help="timed runs per piece; "
                            "its 10th percentile is the latency (median and 90th percentile are kept "
                            "in the table too; default 30)")
        parser.add_argument("--warmup", type=nonnegative_int, default=5,
                            help="untimed runs first (default 5)")
        parser.add_argument("--validate", type=validate_count, default=None, metavar="K",
                            help="time K random candidates (or 'all') end to end, report the error "
                                 "and fit the overhead constants (default: 12, costs.DEFAULT_VALIDATE, "
                                 "for a new table or one not yet validated; 0: skip)")
        parser.add_argument("--seed", type=seed, default=0, help="seed choosing the --validate candidates")
        parser.add_argument("--out", help="table path (default: results/latency/SPACE__TARGET__KEY.json)")
        parser.add_argument("--force", action="store_true",
                            help="re-time even if this machine's table exists")
        parser.add_argument("--any-machine", action="store_true",
                            help="only show the saved table, measured on any machine (no timing)")

    def run(self, args: argparse.Namespace) -> int:
        from ..costs import (DEFAULT_VALIDATE, get_latency_table, latency_warning, load_latency_table,
                             load_target, save_validation_plot, target_costs, validate_latency,
                             validation_plot_path)
        from ..space import load_space

        space = load_space(args.space)
        target = load_target(args.target)
        if not target.measurable:
            costs = target_costs(space, target)
            fit = [c for c in costs if c.feasible]
            print(f"target {target.name} counts {target.cost_model} with fvcore: nothing to time and "
                  f"no device needed; {len(fit)} of {len(costs)} candidates of {space.name} fit "
                  f"{target.budgets.describe()} (costs: stitchnas enumerate {args.space})")
            return 0
        k = len(space) if args.validate == "all" else args.validate
        if args.any_machine:
            table = load_latency_table(space, target, path=args.out, check_machine=False)
            if k:
                raise StitchnasError("--any-machine shows a table from elsewhere; validation times "
                                     "on this machine: drop --validate or --any-machine")
        else:
            default = min(DEFAULT_VALIDATE, len(space))
            table = get_latency_table(space, target, path=args.out, rebuild=args.force,
                                      repeats=args.repeats, warmup=args.warmup,
                                      validate=default if k is None else k, seed=args.seed, progress=None)
            if k is None:  # a table reused as it is keeps its validation; one without gets it now
                k = default if table.validation is None else 0
            if table.reused and k:
                table = validate_latency(table, space, target, k, seed=args.seed,
                                         repeats=args.repeats, warmup=args.warmup, progress=None)
                table.save()
        for line in table.summary():
            print(line)
        plot = validation_plot_path(table) if args.any_machine else save_validation_plot(table)
        if plot is not None and plot.is_file():  # --any-machine only shows: it draws nothing
            print(f"validation plot (table against timed end to end): {plot}")
        warning = latency_warning(table, space=space.given_as, target=args.target)
        if warning:
            from ..progress import get_logger

            get_logger("latency").warning(warning)
        return 0
