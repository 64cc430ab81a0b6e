"""What there is: ``spaces``, ``enumerate``, ``targets``."""

from __future__ import annotations

import argparse
import json
import sys

from ._base import Command, add_space_argument, no_match

__all__ = ["Spaces", "Enumerate", "Targets", "add_format_argument", "anchor_text", "candidate_count",
           "space_json"]


#: kwargs that set an anchor's input and classes, not its size: left out of the table (the
#: input column shows the input), kept in ``--format json``.
_IO_KWARGS = ("img_size", "in_chans", "num_classes", "pretrained_cfg_overlay")


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    """``--format table|json`` of the listings (``spaces``, ``targets``, ``predictors``)."""
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table: aligned text for people (default); json: one JSON list, for "
                             "scripts")


def anchor_text(anchor) -> str:
    """``name: model(kwarg=value, ...)``: which timm model and what sizes it (input and class
    kwargs left out), so anchors of one timm name with other widths and depths differ."""
    kwargs = ", ".join(f"{k}={v}" for k, v in anchor.to_json()["kwargs"].items() if k not in _IO_KWARGS)
    return f"{anchor.name}: {anchor.model}" + (f"({kwargs})" if kwargs else "")


def candidate_count(space, build: bool = False) -> int | None:
    """How many candidates ``space`` has: from the structure cache, or, with ``build``, by building
    its structure (torch; cached after); None where it is not cached and not built."""
    return len(space.candidates) if build or space.structure_cached else None


def space_json(space, build: bool = False) -> dict:
    """What ``spaces --format json`` says of one space (no torch unless ``build``: ``candidates``
    is null where the space's structure is not cached)."""
    declared = getattr(space, "_input_size", None)
    return {
        "name": space.name, "description": space.description, "rule": space.rule.to_json(),
        "candidates": candidate_count(space, build), "input_size": list(declared) if declared else None,
        "anchors": [{**a.to_json(), "acc1": acc} for a, acc in zip(space.anchors, space.anchor_acc1)],
        "data": (space.extra.get("data") or {}).get("name"),
        "path": str(space.path) if space.path else None,
    }


class Spaces(Command):
    """list bundled search spaces: rule, candidates, input and anchors (--format json for scripts)"""

    name = "spaces"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'deit*'")
        parser.add_argument("--count", action="store_true",
                            help="count every space's candidates, building the structure of those "
                                 "this machine has not cached (torch; about half a second a space, "
                                 "once); without it, counts not cached show as ?")
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from ..space import list_spaces, load_space

        spaces = [load_space(name) for name in list_spaces(args.pattern)]
        if args.format == "json":
            print(json.dumps([space_json(sp, args.count) for sp in spaces], indent=1))
        if not spaces:
            return no_match("bundled space", args.pattern, list_spaces(), "spaces")
        if args.format == "json":
            return 0
        width = max((len(sp.name) for sp in spaces), default=0)
        known = [candidate_count(sp, args.count) for sp in spaces]
        counts = [f"{'?' if n is None else format(n, ',')} candidates" for n in known]
        count_width = max(map(len, counts))
        for space, count in zip(spaces, counts):
            declared = getattr(space, "_input_size", None)
            size = "x".join(map(str, declared)) if declared else "model's"
            anchors = "; ".join(anchor_text(a) for a in space.anchors)
            print(f"{space.name:<{width}}  {space.rule.name:<12} {count:>{count_width}}  {size:<11} {anchors}")
        if None in known:
            print(f"stitchnas: note: {known.count(None)} of {len(spaces)} spaces' candidates are not "
                  "counted (their structure is not cached on this machine): `stitchnas spaces --count` "
                  "counts them, once", file=sys.stderr)
        return 0


class Enumerate(Command):
    """list every candidate of a space with its FLOPs and params (and the space's hash, which
    measurement rows carry)"""

    name = "enumerate"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser)
        parser.add_argument("--format", choices=("jsonl", "table"), default="jsonl",
                            help="jsonl: one JSON object per candidate (default); table: aligned columns")
        parser.add_argument("--no-cache", action="store_true",
                            help="re-trace instead of using the profile cache")

    def run(self, args: argparse.Namespace) -> int:
        from ..costs import Profiler
        from ..space import load_space

        space = load_space(args.space)
        costs = Profiler(space, use_cache=not args.no_cache, progress=None).profile()
        out = sys.stdout
        if args.format == "jsonl":  # space and space_hash: what a measurement row of it carries
            for c in costs:
                out.write(json.dumps({**c.to_json(), "space": space.name,
                                      "space_hash": space.content_hash}) + "\n")
            return 0
        out.write(f"# {space.name}: {len(costs)} candidates ({space.num_ids} ids), rule "
                  f"{space.rule.name}, input {list(space.input_size)}, fvcore flops at batch 1; "
                  f"space_hash {space.content_hash}\n")
        priors = [f"{a.name}={v:g}" for a, v in zip(space.anchors, space.anchor_acc1) if v is not None]
        if priors:
            out.write(f"# anchors' top-1 priors (acc1): {', '.join(priors)}\n")
        unit, scale = ("GFLOPs", 1e9) if max(c.flops for c in costs) >= 1e9 else ("MFLOPs", 1e6)
        out.write(f"{'id':>5}  {unit:>9}  {'Mparams':>8}  route\n")
        for c in costs:
            out.write(f"{c.id:>5}  {c.flops / scale:>9.4f}  {c.params / 1e6:>8.3f}  "
                      f"{space.describe(c.route)}\n")
        return 0


class Targets(Command):
    """list bundled hardware targets: cost model, device and budgets (--format json for scripts)"""

    name = "targets"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'cu*'")
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from ..costs import list_targets, load_target

        targets = [load_target(name) for name in list_targets(args.pattern)]
        if args.format == "json":
            print(json.dumps([t.to_json() for t in targets], indent=1))
        if not targets:
            return no_match("bundled target", args.pattern, list_targets(), "targets")
        if args.format == "json":
            return 0
        width = max((len(t.name) for t in targets), default=0)
        for t in targets:
            print(f"{t.name:<{width}}  {t.describe()}")
        return 0
