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
        parser.add_argument("--list", action="store_true", help="print the whole front (members that "
                                                                "fit the given limits)")
        parser.add_argument("--format", choices=("table", "jsonl"), default="table", help="for --list")

    def run(self, args: argparse.Namespace) -> int:
        from ..fronts import NothingFits, load_front

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
    """write one stitch as a standalone TorchScript/ONNX file"""

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
        parser.add_argument("--format", default="torchscript,onnx",
                            help="comma-separated: torchscript, onnx (default: both; ONNX is skipped "
                                 "with a note when its exporter is not installed)")
        parser.add_argument("--batch-size", type=positive_int, default=1, help="fixed input batch size")
        parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")

    def run(self, args: argparse.Namespace) -> int:
        import warnings

        from ..fronts import NothingFits, load_front
        from ..network import build_model, export_model, resolve_candidate
        from ..paths import checkpoint_path, export_dir
        from ..space import load_space

        space = load_space(args.space or DEFAULT_SPACE)
        limits = budgets(args)
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
        checkpoint = args.checkpoint
        if checkpoint is None:
            default = checkpoint_path(space.name)
            if default.is_file():
                checkpoint = str(default)
            elif not cand.is_anchor:
                raise StitchnasError(
                    f"stitch {cand.id} ({space.describe(cand.route)}) needs trained stitching layers "
                    f"but there is no checkpoint at {default}: train one with `stitchnas train "
                    f"{space.name}` or pass --checkpoint"
                )
        formats = [f for f in args.format.split(",") if f.strip()]
        out = Path(args.out) if args.out else export_dir(space.name) / f"{space.name}_id{cand.id}"
        module = build_model(space, cand, checkpoint, device=args.device)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            paths = export_model(module, out, space.input_size, batch_size=args.batch_size,
                                 formats=formats)
        for w in caught:
            if "skipped ONNX" in str(w.message):
                print(f"stitchnas: note: {w.message}", file=sys.stderr)
        shape = [args.batch_size, *space.input_size]
        chosen = (f"; on the front for target {args.target}: acc1 {point.acc1:.2f}% ({point.acc1_source})"
                  if point is not None else "")
        print(f"exported id {cand.id} of {space.name}: {space.describe(cand.route)} ({cand.route})"
              f"{chosen}; checkpoint {checkpoint or 'none (anchor weights)'}")
        for p in paths:
            kind = "TorchScript" if p.suffix == ".pt" else "ONNX"
            print(f"wrote {p} ({kind}, input {shape})")
        return 0
