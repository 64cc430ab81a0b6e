"""Predicting accuracy: ``predictor-cv``, ``predict``, ``suggest``, ``predictors``."""

from __future__ import annotations

import argparse
import json

from ._base import Command, add_space_argument, fraction, measured, nonnegative_float, positive_int, seed

__all__ = ["PredictorCV", "Predict", "Suggest", "Predictors"]


class PredictorCV(Command):
    """how well a predictor ranks unmeasured stitches, against the FLOPs baseline (repeated random
    splits)"""

    name = "predictor-cv"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        parser.add_argument("--measurements", required=True, help="a measurements file of the space")
        parser.add_argument("--train-fraction", type=fraction, default=0.2)
        parser.add_argument("--repeats", type=positive_int, default=20)
        parser.add_argument("--predictor", default="auto",
                            help="a name (stitchnas predictors), or module:Class")
        parser.add_argument("--seed", type=seed, default=0)
        parser.add_argument("--json", action="store_true", help="also print the report as one JSON line")

    def run(self, args: argparse.Namespace) -> int:
        from ..predict import cross_validate
        from ..space import load_space

        space = load_space(args.space)
        rows = measured(space, args.measurements)
        r = cross_validate(space, rows, args.predictor, train_fraction=args.train_fraction,
                           repeats=args.repeats, seed=args.seed)
        print(f"# {space.name}: {r.rows} measured stitches, fitted on {r.train_size} "
              f"({args.train_fraction:.0%}), scored on the other {r.rows - r.train_size}; mean of "
              f"{r.repeats} random splits (seeds {r.seed}..{r.seed + r.repeats - 1})")
        print(f"{'predictor':<22} {'kendall_tau':>11} {'spearman_rho':>12} {'mae':>7} {'prec@top10%':>11}")
        for label, sc in ((r.predictor, r.scores), ("flops (baseline)", r.baseline)):
            print(f"{label:<22} {sc.kendall_tau:>11.3f} {sc.spearman_rho:>12.3f} {sc.mae:>7.2f} "
                  f"{sc.precision_top10:>11.2f}")
        if args.json:
            print(json.dumps(r.to_json()))
        return 0


class Predict(Command):
    """fit a predictor on every measured row and predict every candidate"""

    name = "predict"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        parser.add_argument("--measurements", required=True)
        parser.add_argument("--predictor", default="auto")
        parser.add_argument("--seed", type=seed, default=0)
        parser.add_argument("--out", required=True, help="JSONL: id, route, acc1_pred, acc1_std, measured")

    def run(self, args: argparse.Namespace) -> int:
        from ..fileio import atomic_write
        from ..predict import fit_on_measured
        from ..space import load_space

        space = load_space(args.space)
        rows = measured(space, args.measurements)
        fit = fit_on_measured(space, rows, args.predictor, random_state=args.seed)
        stitches = fit.stitches
        mean, std = fit.predict()
        known = {m.id for m in rows}
        with atomic_write(args.out) as fh:
            for i, st in enumerate(stitches):
                fh.write(json.dumps({"id": st.id, "route": st.route.to_json(),
                                     "acc1_pred": round(float(mean[i]), 4),
                                     "acc1_std": None if std is None else round(float(std[i]), 4),
                                     "measured": st.id in known}) + "\n")
        chosen = fit.chosen
        print(f"predicted top-1 of {len(stitches)} candidates of {space.name} with {args.predictor}"
              + (f" (chose {chosen})" if chosen else "")
              + f", fitted on {len(rows)} measured; wrote {args.out}")
        return 0


class Suggest(Command):
    """the unmeasured stitches most likely to be on the Pareto front (worth measuring next)"""

    name = "suggest"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        parser.add_argument("--measurements", required=True)
        parser.add_argument("--k", type=positive_int, default=8)
        parser.add_argument("--predictor", default="auto")
        parser.add_argument("--cost", choices=("flops", "params"), default="flops")
        parser.add_argument("--acquisition", choices=("pareto", "optimistic"), default="pareto",
                            help="pareto: probability of being on the front, from posterior samples; "
                                 "optimistic: hypervolume gain at mean + kappa * std")
        parser.add_argument("--kappa", type=nonnegative_float, default=1.0,
                            help="pareto: scale of the posterior spread (0: the predicted front); "
                                 "optimistic: mean + kappa * std")
        parser.add_argument("--seed", type=seed, default=0)
        parser.add_argument("--format", choices=("table", "jsonl"), default="table")

    def run(self, args: argparse.Namespace) -> int:
        from ..predict import suggest
        from ..space import load_space

        space = load_space(args.space)
        rows = measured(space, args.measurements)
        picks = suggest(space, rows, k=args.k, predictor=args.predictor, cost=args.cost,
                        kappa=args.kappa, seed=args.seed, acquisition=args.acquisition)
        if args.format == "jsonl":
            for s in picks:
                print(json.dumps(s.to_json()))
            return 0
        print(f"# measure next ({len(picks)} of {len(space) - len(rows)} unmeasured), best first:")
        score = "P(front)" if args.acquisition == "pareto" else "gain"
        print(f"{'id':>5} {'pred top-1':>10} {'std':>6} {args.cost:>12} {score:>8}  route")
        for s in picks:
            print(f"{s.id:>5} {s.acc1_pred:>10.2f} {s.acc1_std:>6.2f} {s.cost:>12.4g} {s.gain:>8.4f}  "
                  f"{s.route}")
        print(f"# then: stitchnas evaluate {space.name} --ids {','.join(str(s.id) for s in picks)}")
        return 0


class Predictors(Command):
    """list predictors (built-in, registered, entry points)"""

    name = "predictors"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pattern", nargs="?", default="*")

    def run(self, args: argparse.Namespace) -> int:
        from ..predict import list_predictors

        print("\n".join(list_predictors(args.pattern)))
        return 0
