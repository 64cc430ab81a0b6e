"""Predicting accuracy: ``predictor-cv``, ``predict``, ``suggest``, ``predictors``."""

from __future__ import annotations

import argparse
import json

from .._registry import PREDICTOR_ENTRY_POINTS
from ._base import (Command, add_measurements_argument, add_proxies_argument, add_space_argument, fraction,
                    evaluate_command, measured, measurements_and_proxies, no_match, nonnegative_float,
                    positive_int, seed)

__all__ = ["PredictorCV", "Predict", "Suggest", "Predictors", "BUILTIN_PREDICTORS", "predictor_rows"]


class PredictorCV(Command):
    """how well a predictor ranks unmeasured stitches, against the FLOPs baseline (repeated random
    splits)"""

    name = "predictor-cv"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        add_measurements_argument(parser)
        parser.add_argument("--train-fraction", type=fraction, default=0.2,
                            help="share of the measured rows each split fits on (default 0.2)")
        parser.add_argument("--repeats", type=positive_int, default=20,
                            help="random splits averaged (default 20)")
        parser.add_argument("--predictor", default="auto",
                            help="a name (stitchnas predictors), or module:Class")
        parser.add_argument("--seed", type=seed, default=0,
                            help="seed of the first split (split i uses seed + i; default 0)")
        add_proxies_argument(parser)
        parser.add_argument("--json", action="store_true", help="also print the report as one JSON line")

    def run(self, args: argparse.Namespace) -> int:
        from ..measure import load_proxy_signals
        from ..predict import cross_validate
        from ..space import load_space

        space = load_space(args.space)
        path, proxies = measurements_and_proxies(space, args, self.name)
        rows = measured(space, path)
        r = cross_validate(space, rows, args.predictor, train_fraction=args.train_fraction,
                           repeats=args.repeats, seed=args.seed,
                           signals=load_proxy_signals(proxies, space, rows))
        print(f"# {space.name}: {r.rows} measured stitches, fitted on {r.train_size} "
              f"({args.train_fraction:.0%}), scored on the other {r.rows - r.train_size}; mean of "
              f"{r.repeats} random splits (seeds {r.seed}..{r.seed + r.repeats - 1})")
        width = max(22, len(r.predictor))  # a plug-in's module:Class keeps the columns aligned
        print(f"{'predictor':<{width}} {'kendall_tau':>11} {'spearman_rho':>12} {'mae':>7} {'prec@top10%':>11}")
        for label, sc in ((r.predictor, r.scores), ("flops (baseline)", r.baseline)):
            print(f"{label:<{width}} {sc.kendall_tau:>11.3f} {sc.spearman_rho:>12.3f} {sc.mae:>7.2f} "
                  f"{sc.precision_top10:>11.2f}")
        print(f"# {r.gain_line()}")
        if r.constant_note():
            from ..progress import get_logger

            get_logger(self.name).warning(r.constant_note())
        if args.json:
            print(json.dumps(r.to_json()))
        return 0


class Predict(Command):
    """fit a predictor on every measured row and predict every candidate"""

    name = "predict"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        add_measurements_argument(parser)
        parser.add_argument("--predictor", default="auto",
                            help="a name (stitchnas predictors), or module:Class (default auto)")
        parser.add_argument("--seed", type=seed, default=0, help="the predictor's random_state (default 0)")
        parser.add_argument("--out", help="JSONL: id, route, acc1_pred, acc1_std, measured, and a "
                                          "plot beside it (P.jsonl -> P.png; default: a table on "
                                          "stdout, nothing written)")
        parser.add_argument("--no-plot", dest="plot", action="store_false",
                            help="with --out, skip the plot (importing matplotlib takes about half a "
                                 "second, which loops of predict may not want)")
        add_proxies_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from .._verbs import predict_details  # stitchnas.predict_candidates: the same function

        rows, fit, held, space = predict_details(  # no --measurements: the same default there
            args.space, measurements=args.measurements, predictor=args.predictor, seed=args.seed,
            out=args.out, proxies=args.proxies, plot=args.plot)
        summary = (f"predicted top-1 of {len(rows)} candidates of {space.name} with {args.predictor}"
                   + (f" (chose {fit.chosen})" if fit.chosen else "")
                   + f", fitted on {len(held)} measured")
        guessed = {r["acc1_pred"] for r in rows if not r["measured"]}
        if len(guessed) == 1 and sum(not r["measured"] for r in rows) > 1:
            from ..progress import get_logger

            get_logger(self.name).warning(
                f"{args.predictor} predicted one top-1 ({guessed.pop():.2f}%) for every unmeasured "
                f"stitch (fitted on {len(held)} rows): it ranks nothing, so search and suggest would "
                "choose among them by cost alone; a model for so few rows may need other settings")
        if args.out is not None:
            from ..predict import prediction_plot_path

            plotted = f" (plot: {prediction_plot_path(args.out)})" if args.plot else ""
            print(f"{summary}; wrote {args.out}{plotted}")
            return 0
        acc = {m.id: m.acc1 for m in held}
        flops = dict(zip((st.id for st in fit.stitches), (st.flops for st in fit.stitches)))
        print(f"# {summary}; best predicted first (--out FILE writes them as JSONL)")
        print(f"{'id':>5} {'pred top-1':>10} {'std':>6} {'measured':>8} {'flops':>12}  route")
        for row in sorted(rows, key=lambda r: (-r["acc1_pred"], r["id"])):
            std = "" if row["acc1_std"] is None else f"{row['acc1_std']:.2f}"
            seen = f"{acc[row['id']]:.2f}" if row["id"] in acc else "-"
            print(f"{row['id']:>5} {row['acc1_pred']:>10.2f} {std:>6} {seen:>8} {flops[row['id']]:>12.4g}  "
                  f"{space.describe(space.candidate(row['id']).route)}")
        return 0


class Suggest(Command):
    """the unmeasured stitches most likely to be on the Pareto front (worth measuring next)"""

    name = "suggest"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, described=False)
        add_measurements_argument(parser)
        parser.add_argument("-k", "--k", type=positive_int, default=8, help="stitches to suggest (default 8)")
        parser.add_argument("--predictor", default="auto",
                            help="a name (stitchnas predictors), or module:Class (default auto)")
        parser.add_argument("--cost", choices=("flops", "params"), default="flops",
                            help="the cost axis of the front (default flops)")
        parser.add_argument("--acquisition", choices=("pareto", "optimistic"), default="pareto",
                            help="pareto: probability of being on the front, from posterior samples; "
                                 "optimistic: hypervolume gain at mean + kappa * std")
        parser.add_argument("--kappa", type=nonnegative_float, default=1.0,
                            help="pareto: scale of the posterior spread (0: the predicted front); "
                                 "optimistic: mean + kappa * std")
        parser.add_argument("--shape-spread", type=nonnegative_float, default=None,
                            help="pareto: spread of one offset per route shape in each posterior "
                                 "sample, as a multiple of the measured top-1's spread about the "
                                 "FLOPs trend (default 0.5; 0: none)")
        parser.add_argument("--seed", type=seed, default=0,
                            help="seed of the predictor and the posterior samples (default 0)")
        parser.add_argument("--format", choices=("table", "jsonl"), default="table",
                            help="table (default) or one JSON object per suggestion")
        add_proxies_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from ..measure import load_proxy_signals
        from ..predict import suggest
        from ..space import load_space

        space = load_space(args.space)
        path, proxies = measurements_and_proxies(space, args, self.name)
        rows = measured(space, path)
        picks = suggest(space, rows, k=args.k, predictor=args.predictor, cost=args.cost,
                        kappa=args.kappa, seed=args.seed, acquisition=args.acquisition,
                        signals=load_proxy_signals(proxies, space, rows),
                        **({} if args.shape_spread is None else {"shape_spread": args.shape_spread}))
        if args.format == "jsonl":
            for s in picks:
                print(json.dumps(s.to_json()))
            return 0
        if not picks:
            print(f"# every candidate of {space.given_as} is measured in {path}: nothing "
                  "to suggest")
            return 0
        print(f"# measure next ({len(picks)} of {len(space) - len(rows)} unmeasured), best first:")
        score = "P(front)" if args.acquisition == "pareto" else "gain"
        print(f"{'id':>5} {'pred top-1':>10} {'std':>6} {args.cost:>12} {score:>8}  route")
        for s in picks:
            print(f"{s.id:>5} {s.acc1_pred:>10.2f} {s.acc1_std:>6.2f} {s.cost:>12.4g} {s.gain:>8.4f}  "
                  f"{s.route}")
        print(f"# then: {evaluate_command(space, [s.id for s in picks], path, rows)}")
        return 0


#: The predictors stitchnas registers itself (stitchnas.predict), listed without importing
#: scikit-learn; a test keeps it equal to the registry.
BUILTIN_PREDICTORS = {
    "auto": "the default: route (or proxy, given proxy scores), unless FLOPs alone already "
            "rank the measured stitches (cross-validated)",
    "extra_trees": "extra trees on structural stitch features; std: the trees' spread",
    "flops": "isotonic fit of top-1 on log-FLOPs: the baseline every predictor must beat",
    "gp": "Gaussian process on stitch features (mean and std)",
    "proxy": "a line in proxy scores (stitchnas proxy), the route model on what it leaves",
    "prior": "the anchors' top-1 interpolated (no stitch measured)",
    "random_forest": "random forest on structural stitch features; std: the trees' spread",
    "route": "extra trees and a ridge line on relative route features, averaged",
}


def predictor_rows(pattern: str = "*") -> list[dict]:
    """Name, source and description of every predictor matching ``pattern``: the built-ins,
    those registered in this process (if stitchnas.predict is loaded) and installed entry points
    (listed by name, not loaded)."""
    import fnmatch
    import sys
    from importlib.metadata import entry_points

    rows = {n: {"name": n, "source": "built-in", "about": about}
            for n, about in BUILTIN_PREDICTORS.items()}
    loaded = sys.modules.get("stitchnas.predict._predictors")
    if loaded is not None:  # registered by this process's code: listed too
        for n in loaded.PREDICTORS.names():
            rows.setdefault(n, {"name": n, "source": "registered", "about": ""})
    try:
        eps = list(entry_points(group=PREDICTOR_ENTRY_POINTS))
    except Exception:  # noqa: BLE001 - a broken installed distribution must not break listing
        eps = []
    for ep in eps:
        rows.setdefault(ep.name, {"name": ep.name, "source": "entry point", "about": ep.value})
    return [rows[n] for n in sorted(rows) if fnmatch.fnmatch(n, pattern)]


class Predictors(Command):
    """list predictors: built-in, registered and installed entry points (--format json for
    scripts)"""

    name = "predictors"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from ._spaces import add_format_argument

        parser.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'gp*'")
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        rows = predictor_rows(args.pattern)
        if args.format == "json":
            print(json.dumps(rows, indent=1))
        if not rows:
            return no_match("predictor", args.pattern, [r["name"] for r in predictor_rows()], "predictors")
        if args.format == "json":
            return 0
        for r in rows:
            print(f"{r['name']:<14} {r['source']:<12} {r['about']}")
        return 0
