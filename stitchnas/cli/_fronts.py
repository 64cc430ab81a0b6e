"""Saved fronts: ``query`` (the best stitch within budgets) and ``export`` (one stitch as a file)."""

from __future__ import annotations

import argparse
import json
import sys

from ..objectives import LIMIT_KEYS, limit_help
from ._base import Command, DEFAULT_SPACE, add_space_argument, amount, nonnegative_int, positive_int

__all__ = ["Query", "Export"]

def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """--target/--front (which front) and one flag per limit (what must fit)."""
    parser.add_argument("--target", help="hardware target the front was searched for (default: "
                                         "the space's only saved front, or the only one of top-1 "
                                         "against the cost a --max-* flag bounds)")
    parser.add_argument("--front", help="front.json to read (default: results/SPACE/TARGET/front.json)")
    for key in LIMIT_KEYS:
        parser.add_argument("--" + key.replace("_", "-"), type=amount, help=limit_help(key))


def budgets(args: argparse.Namespace) -> dict:
    """The query limits given on the command line (only those set)."""
    return {k: getattr(args, k) for k in LIMIT_KEYS if getattr(args, k, None) is not None}


def _given_space(space_arg):
    """The space given on the command line (a YAML path too), or None: the front was read
    already, so the space only lends its anchors' names and the way the user names it."""
    if space_arg is None:
        return None
    try:
        from ..space import load_space

        return load_space(space_arg)
    except Exception:
        return None


def _named(route, names: list[str] | None) -> str | None:
    if not names or max(route.anchors) >= len(names):
        return None
    return ">".join(f"{names[s.anchor]}[{s.start}:{s.end}]" for s in route)


def _point_line(front, point, names: list[str] | None = None) -> str:
    coverage = {"coverage": front.coverage} if front.coverage else {}
    named = _named(point.route, names)
    return json.dumps({"space": front.space, "space_hash": front.space_hash, "target": front.target,
                       **point.to_json(), **({"route_named": named} if named else {}), **coverage})


def _front_notes(front, answer, limits: dict, space_arg, coverage: bool = False) -> None:
    """:func:`stitchnas.fronts.answer_notes`, on stderr; ``coverage``: also the front's partial
    coverage (``query`` prints that in its answer, ``export`` only here)."""
    from ..fronts import answer_notes

    for note in answer_notes(front, answer, limits, space=space_arg, coverage=coverage):
        print(f"stitchnas: note: {note}", file=sys.stderr)


def _given(space) -> str | None:
    return space.given_as if space is not None else None


class Query(Command):
    """the most accurate stitch on a saved front within budgets (JSON)"""

    name = "query"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, default=None)
        add_budget_arguments(parser)
        parser.add_argument("--model", help="a switchable front model (`export --switchable`): query "
                                            "the front inside it; with --front, also check that it "
                                            "was exported from that front")
        parser.add_argument("--list", action="store_true", help="print the whole front (members that "
                                                                "fit the given limits)")
        parser.add_argument("--format", choices=("table", "jsonl"),
                            help="table or jsonl (default: a table with --list, else the answer as "
                                 "one JSON line)")

    def run(self, args: argparse.Namespace) -> int:
        from .._verbs import front_of  # what stitchnas.query reads: the same front, the same checks
        from ..fronts import NothingFits

        limits = budgets(args)
        front = front_of(args.space, args.target, args.front, args.model, limits)
        from ..fronts import anchor_names

        space = _given_space(args.space)
        names = anchor_names(front, space)  # else the bundled space of the front's name, if its hash matches
        try:
            if not args.list:
                answer = front.best(**limits)
                if args.format == "table":
                    self.print_table(front, [answer], limits, names, _given(space), answer=True)
                else:
                    print(_point_line(front, answer, names))
                _front_notes(front, answer, limits, args.space)
                return 0
            members = front.fits(**limits)
            if limits and not members:
                front.best(**limits)  # raises NothingFits with the explanation
        except NothingFits as err:
            print(f"stitchnas: nothing fits: {err}", file=sys.stderr)
            return 1
        if args.format == "jsonl":
            for m in members:
                print(_point_line(front, m, names))
        else:
            self.print_table(front, members, limits, names, _given(space))
        _front_notes(front, None, limits, args.space)
        return 0

    @staticmethod
    def print_table(front, members, limits: dict, names: list[str] | None = None,
                    given: str | None = None, answer: bool = False) -> None:
        budget_text = ", ".join(f"{k}={v}" for k, v in front.target_budgets.items() if v is not None)
        asked = ", ".join(f"{k}={v}" for k, v in limits.items())
        print(f"# {front.space} on target {front.target}: {len(front.members)} members on the front "
              f"({', '.join(front.objectives)}); budgets: {budget_text or 'none'}; predictor: "
              f"{front.predictor or 'none'}; {front.measured_ids} measured ids"
              + (f"; the answer for {asked or 'no limits'}" if answer
                 else f"; {len(members)} fit {asked}" if limits else ""))
        if front.coverage:
            print(f"# {front.coverage}")
        if front.latency_error_pct is not None or front.timed_on:
            print(f"# latencies as composed by the {front.target} latency table"
                  + (f" timed on {front.timed_on}" if front.timed_on else "")
                  + (f", whose validation erred {front.latency_error_pct:.1f}% (median) end to end"
                     if front.latency_error_pct is not None else ""))
        if front.prior_note(given):
            print(f"# {front.prior_note(given)}")
        big = max((m.flops for m in front.members), default=0) >= 1e9
        unit, scale = ("GFLOPs", 1e9) if big else ("MFLOPs", 1e6)
        print(f"{'id':>5}  {'acc1':>6}  {'source':<9}  {unit:>9}  {'Mparams':>8}  {'lat_ms':>8}  "
              f"{'mem_MB':>8}  route")

        def opt(v):
            return f"{v:>8.3f}" if v is not None else f"{'-':>8}"

        for m in members:
            named = _named(m.route, names)
            named = f"  {named}" if named else ""
            print(f"{m.id:>5}  {m.acc1:>6.2f}  {m.acc1_source:<9}  {m.flops / scale:>9.4f}  "
                  f"{m.params / 1e6:>8.3f}  {opt(m.latency_ms)}  {opt(m.memory_mb)}  {m.route}{named}"
                  + ("  (anchor)" if m.is_anchor else ""))


class Export(Command):
    """write one stitch as a standalone file (torch.export .pt2, ONNX, TorchScript), or the whole front as one
    switchable model (--switchable)"""

    name = "export"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser, default=None)
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--id", type=nonnegative_int, help="candidate id")
        which.add_argument("--route", help="route, e.g. '0[0:4]>1[4:12]'")
        add_budget_arguments(parser)
        parser.add_argument("--checkpoint", help="stitched checkpoint (default: results/SPACE/stitched.pt "
                                                 "if present)")
        parser.add_argument("--out", help="output path without suffix (default: "
                                          "results/SPACE/export/SPACE_idN); .pt2/.onnx/.pt are added "
                                          "(a suffix of these, or .ts, given with it is dropped first)")
        parser.add_argument("--format", help="comma-separated: pt2 (torch.export), onnx, torchscript "
                                             "(deprecated by torch) (default: pt2,onnx; ONNX is "
                                             "skipped with a note when its exporter is not installed); "
                                             "with --switchable: bundle, torchscript (default: both)")
        parser.add_argument("--switchable", action="store_true",
                            help="the whole front (the members within any given limits) as one model: "
                                 "OUT.pt (bundle, stitchnas.load_front_model) and OUT.ts (TorchScript)")
        parser.add_argument("--allow-random-weights", action="store_true",
                            help="export anchors without weights (random) or untrained stitching "
                                 "layers: for size and speed checks only")
        parser.add_argument("--batch-size", type=positive_int, default=1, help="example batch size (pt2 and ONNX "
                            "take any batch; TorchScript and --switchable are fixed to it)")
        parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
        parser.add_argument("--batchnorm", choices=("route", "shared"), default="route",
                            help="BatchNorm statistics: re-estimated for the route on the space's "
                                 "training images as `evaluate` measured it (route, the default), or "
                                 "the checkpoint's shared ones (shared); LayerNorm families: no effect")
        parser.add_argument("--data", help="with BatchNorm statistics per route: the data set they are "
                                           "estimated on, as given to `evaluate` (default: the space's)")
        parser.add_argument("--data-root", help="folder holding the dataset's files")

    def run(self, args: argparse.Namespace) -> int:
        import warnings

        from .._verbs import export_details  # stitchnas.export: the same function
        from ..fronts import NothingFits
        from ..network import describe_sources

        if args.switchable:
            return self.run_switchable(args)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                done = export_details(args.space, **export_kwargs(args))
        except NothingFits as err:
            print(f"stitchnas: nothing fits: {err}", file=sys.stderr)
            return 1
        for w in caught:
            if "skipped ONNX" in str(w.message) or issubclass(w.category, FutureWarning):
                print(f"stitchnas: note: {w.message}", file=sys.stderr)
        from ..space import load_space

        space = load_space(args.space or DEFAULT_SPACE)
        cand, point, sources, paths = space.candidate(done.id), done.point, done.weights, done.paths
        shape = [args.batch_size, *space.input_size]
        chosen = (f"; on the front for target {args.target}: acc1 {point.acc1:.2f}% ({point.acc1_source})"
                  if point is not None else "")
        print(f"exported id {cand.id} of {space.name}: {space.describe(cand.route)} ({cand.route})"
              f"{chosen}; weights: "
              f"{describe_sources(sources, cand.route.anchors, stitched=not cand.is_anchor)}")
        for p in paths:
            kind = {".pt": "TorchScript", ".pt2": "torch.export program, batch dynamic; load with "
                    "stitchnas.network.load_exported"}.get(p.suffix, "ONNX, batch dynamic")
            size = shape if p.suffix == ".pt" else ["batch", *shape[1:]]
            print(f"wrote {p} ({kind}, input {size})".replace("'", ""))
        if point is not None:
            _front_notes(done.front, point, budgets(args), args.space, coverage=True)
        return 0

    def run_switchable(self, args: argparse.Namespace) -> int:
        """``export --switchable``: the front's members (within the limits) as one model."""
        from .._verbs import export_details
        from ..fronts import NothingFits
        from ..network import describe_sources
        from ..space import load_space

        try:
            done = export_details(args.space, **export_kwargs(args))
        except NothingFits as err:  # nothing fits: exit 1 naming the cheapest member
            print(f"stitchnas: nothing fits: {err}", file=sys.stderr)
            return 1
        space, front, sources, paths = load_space(args.space or DEFAULT_SPACE), done.front, done.weights, done.paths
        stitched = any(m.route.num_stitches for m in front.members)
        anchors = {a for m in front.members for a in m.route.anchors}
        print(f"exported the front of {space.name} for target {front.target!r} as one switchable "
              f"model: {len(front.members)} members (ids {', '.join(str(m.id) for m in front.members)})"
              f"; weights: {describe_sources(sources, anchors, stitched)}")
        shape = [args.batch_size, *space.input_size]
        for p in paths:
            kind = ("bundle, load with stitchnas.load_front_model" if p.suffix == ".pt" else
                    f"TorchScript, forward(x, stitch_id) and select(...), input {shape}")
            print(f"wrote {p} ({p.stat().st_size / 2**20:.2f} MiB; {kind})")
        _front_notes(front, None, budgets(args), args.space, coverage=True)
        return 0


def export_kwargs(args: argparse.Namespace) -> dict:
    """``stitchnas export``'s options as :func:`stitchnas.export`'s keyword arguments (the same
    names)."""
    return {"id": args.id, "route": args.route, "target": args.target, "front": args.front,
            "checkpoint": args.checkpoint, "out": args.out, "format": args.format,
            "switchable": args.switchable, "allow_random_weights": args.allow_random_weights,
            "batch_size": args.batch_size, "device": args.device, "batchnorm": args.batchnorm,
            "data": args.data, "data_root": args.data_root, **budgets(args)}
