"""Saved fronts: ``query`` (the best stitch within budgets) and ``export`` (one stitch as a file)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import StitchnasError
from ..objectives import LIMIT_KEYS, limit_help
from ._base import Command, DEFAULT_SPACE, add_space_argument, amount, nonnegative_int, positive_int

__all__ = ["Query", "Export"]

def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """--target/--front (which front) and one flag per limit (what must fit)."""
    parser.add_argument("--target", default="cpu", help="hardware target the front was searched for "
                                                        "(default: cpu)")
    parser.add_argument("--front", help="front.json to read (default: results/SPACE/TARGET/front.json)")
    for key in LIMIT_KEYS:
        parser.add_argument("--" + key.replace("_", "-"), type=amount, help=limit_help(key))


def budgets(args: argparse.Namespace) -> dict:
    """The query limits given on the command line (only those set)."""
    return {k: getattr(args, k) for k in LIMIT_KEYS if getattr(args, k, None) is not None}


def _point_line(front, point) -> str:
    coverage = {"coverage": front.coverage} if front.coverage else {}
    return json.dumps({"space": front.space, "space_hash": front.space_hash, "target": front.target,
                       **point.to_json(), **coverage})


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
        parser.add_argument("--format", choices=("table", "jsonl"), default="table", help="for --list")

    def run(self, args: argparse.Namespace) -> int:
        from ..fronts import NothingFits, load_front

        if args.model:
            from ..network import read_front_model
            from ..fronts import Front

            doc = read_front_model(args.model, front=args.front)  # refuses another front version
            front = Front.from_json(doc["front"], path=args.model)
        else:
            space = args.space if args.space is not None or args.front else DEFAULT_SPACE
            front = load_front(space, target=args.target, path=args.front)  # no space check for --front
        limits = budgets(args)
        try:
            if not args.list:
                print(_point_line(front, front.best(**limits)))
                return 0
            members = front.fits(**limits)
            if limits and not members:
                front.best(**limits)  # raises NothingFits with the explanation
        except NothingFits as err:
            print(f"stitchnas: nothing fits: {err}", file=sys.stderr)
            return 1
        if args.format == "jsonl":
            for m in members:
                print(_point_line(front, m))
            return 0
        self.print_table(front, members, limits)
        return 0

    @staticmethod
    def print_table(front, members, limits: dict) -> None:
        budget_text = ", ".join(f"{k}={v}" for k, v in front.target_budgets.items() if v is not None)
        asked = ", ".join(f"{k}={v}" for k, v in limits.items())
        print(f"# {front.space} on target {front.target}: {len(front.members)} members on the front "
              f"({', '.join(front.objectives)}); budgets: {budget_text or 'none'}; predictor: "
              f"{front.predictor or 'none'}; {front.measured_ids} measured ids"
              + (f"; {len(members)} fit {asked}" if limits else ""))
        if front.coverage:
            print(f"# {front.coverage}")
        if front.prior_note():
            print(f"# {front.prior_note()}")
        big = max((m.flops for m in front.members), default=0) >= 1e9
        unit, scale = ("GFLOPs", 1e9) if big else ("MFLOPs", 1e6)
        print(f"{'id':>5}  {'acc1':>6}  {'source':<9}  {unit:>9}  {'Mparams':>8}  {'lat_ms':>8}  "
              f"{'mem_MB':>8}  route")

        def opt(v):
            return f"{v:>8.3f}" if v is not None else f"{'-':>8}"

        from ..fronts import anchor_names

        names = anchor_names(front)  # the bundled space of that name, if its hash matches
        for m in members:
            named = ("  " + ">".join(f"{names[s.anchor]}[{s.start}:{s.end}]" for s in m.route)
                     if names and max(m.route.anchors) < len(names) else "")
            print(f"{m.id:>5}  {m.acc1:>6.2f}  {m.acc1_source:<9}  {m.flops / scale:>9.4f}  "
                  f"{m.params / 1e6:>8.3f}  {opt(m.latency_ms)}  {opt(m.memory_mb)}  {m.route}{named}"
                  + ("  (anchor)" if m.is_anchor else ""))


class Export(Command):
    """write one stitch as a standalone TorchScript/ONNX file, or the whole front as one
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
                                          "results/SPACE/export/SPACE_idN); .pt/.onnx are added")
        parser.add_argument("--format", help="comma-separated: torchscript, onnx (default: both; ONNX is "
                                             "skipped with a note when its exporter is not installed); "
                                             "with --switchable: bundle, torchscript (default: both)")
        parser.add_argument("--switchable", action="store_true",
                            help="the whole front (the members within any given limits) as one model: "
                                 "OUT.pt (bundle, stitchnas.load_front_model) and OUT.ts (TorchScript)")
        parser.add_argument("--allow-random-weights", action="store_true",
                            help="export anchors without weights (random) or untrained stitching "
                                 "layers: for size and speed checks only")
        parser.add_argument("--batch-size", type=positive_int, default=1, help="fixed input batch size")
        parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")

    def run(self, args: argparse.Namespace) -> int:
        import warnings

        from ..fronts import NothingFits, load_front
        from ..network import (build_model, check_weights, describe_sources, export_model,
                               resolve_candidate, weights_sources)
        from ..paths import export_dir
        from ..space import load_space

        space = load_space(args.space or DEFAULT_SPACE)
        limits = budgets(args)
        if args.switchable:
            return self.run_switchable(args, space, limits)
        point = None
        if args.id is not None or args.route is not None:
            if limits or args.front:
                raise StitchnasError("budget flags and --front pick a stitch from a front: drop them, "
                                     "or drop --id/--route")
            cand = resolve_candidate(space, args.id if args.id is not None else args.route)
        else:
            front = load_front(space, target=args.target, path=args.front)
            try:
                point = front.best(**limits)
            except NothingFits as err:
                print(f"stitchnas: nothing fits: {err}", file=sys.stderr)
                return 1
            cand = resolve_candidate(space, point)
        checkpoint = default_checkpoint(args, space, stitched=not cand.is_anchor,
                                        what=f"stitch {cand.id} ({space.describe(cand.route)})")
        formats = [f for f in (args.format or "torchscript,onnx").split(",") if f.strip()]
        out = Path(args.out) if args.out else export_dir(space.name) / f"{space.name}_id{cand.id}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # untrained layers: refused below unless allowed
            module = build_model(space, cand, checkpoint, device=args.device)
        sources = weights_sources(space, checkpoint)
        check_weights(space, sources, cand.route.anchors, not cand.is_anchor, args.allow_random_weights)
        meta = {"space": space.name, "space_hash": space.content_hash, "id": cand.id,
                "route": cand.route.to_json(), "weights": sources}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            paths = export_model(module, out, space.input_size, batch_size=args.batch_size,
                                 formats=formats, metadata=meta)
        for w in caught:
            if "skipped ONNX" in str(w.message):
                print(f"stitchnas: note: {w.message}", file=sys.stderr)
        shape = [args.batch_size, *space.input_size]
        chosen = (f"; on the front for target {args.target}: acc1 {point.acc1:.2f}% ({point.acc1_source})"
                  if point is not None else "")
        print(f"exported id {cand.id} of {space.name}: {space.describe(cand.route)} ({cand.route})"
              f"{chosen}; weights: "
              f"{describe_sources(sources, cand.route.anchors, stitched=not cand.is_anchor)}")
        for p in paths:
            kind = "TorchScript" if p.suffix == ".pt" else "ONNX"
            print(f"wrote {p} ({kind}, input {shape})")
        return 0

    def run_switchable(self, args: argparse.Namespace, space, limits: dict) -> int:
        """``export --switchable``: the front's members (within ``limits``) as one model."""
        from dataclasses import replace

        from ..fronts import NothingFits, load_front
        from ..network import describe_sources, export_front, weights_sources
        from ..paths import export_dir

        if args.id is not None or args.route is not None:
            raise StitchnasError("--switchable exports a whole front: drop --id/--route (budget flags "
                                 "keep the members within them)")
        front = load_front(space, target=args.target, path=args.front)
        if limits:
            try:
                front.best(**limits)  # nothing fits: exit 1 naming the cheapest member
            except NothingFits as err:
                print(f"stitchnas: nothing fits: {err}", file=sys.stderr)
                return 1
            front = replace(front, members=tuple(front.fits(**limits)))
        stitched = any(m.route.num_stitches for m in front.members)
        checkpoint = default_checkpoint(args, space, stitched, f"the front of {space.name} for "
                                        f"target {front.target!r}")
        formats = [f for f in (args.format or "bundle,torchscript").split(",") if f.strip()]
        out = (Path(args.out) if args.out
               else export_dir(space.name) / f"{space.name}_{front.target}_front")
        paths = export_front(front, out, space=space, checkpoint=checkpoint, formats=formats,
                             batch_size=args.batch_size, allow_random_weights=args.allow_random_weights,
                             device=args.device)
        anchors = {a for m in front.members for a in m.route.anchors}
        sources = weights_sources(space, checkpoint)
        print(f"exported the front of {space.name} for target {front.target!r} as one switchable "
              f"model: {len(front.members)} members (ids {', '.join(str(m.id) for m in front.members)})"
              f"; weights: {describe_sources(sources, anchors, stitched)}")
        shape = [args.batch_size, *space.input_size]
        for p in paths:
            kind = ("bundle, load with stitchnas.load_front_model" if p.suffix == ".pt" else
                    f"TorchScript, forward(x, stitch_id) and select(...), input {shape}")
            print(f"wrote {p} ({p.stat().st_size / 2**20:.2f} MiB; {kind})")
        return 0


def default_checkpoint(args: argparse.Namespace, space, stitched: bool, what: str) -> str | None:
    """--checkpoint, else results/SPACE/stitched.pt when present; an error when ``stitched``
    needs one and there is none (unless --allow-random-weights)."""
    from ..paths import checkpoint_path

    if args.checkpoint is not None:
        return args.checkpoint
    default = checkpoint_path(space.name)
    if default.is_file():
        return str(default)
    if stitched and not args.allow_random_weights:
        raise StitchnasError(
            f"{what} needs trained stitching layers but there is no checkpoint at {default}: train "
            f"one with `stitchnas train {space.name}` or pass --checkpoint"
        )
    return None
