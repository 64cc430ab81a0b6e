"""What there is: ``spaces``, ``enumerate``, ``targets``."""

from __future__ import annotations

import argparse
import json
import sys

from ._base import Command, add_space_argument

__all__ = ["Spaces", "Enumerate", "Targets"]


class Spaces(Command):
    """list bundled search spaces"""

    name = "spaces"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'deit*'")

    def run(self, args: argparse.Namespace) -> int:
        from ..space import list_spaces, load_space

        for name in list_spaces(args.pattern):
            space = load_space(name)
            anchors = ", ".join(f"{a.name}={a.model}" for a in space.anchors)
            print(f"{name:<20} {space.rule.name:<9} {anchors}")
        return 0


class Enumerate(Command):
    """list every candidate of a space with its FLOPs and params (and the space's hash, which
    measurement rows carry)"""

    name = "enumerate"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_space_argument(parser)
        parser.add_argument("--format", choices=("jsonl", "table"), default="jsonl")
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
    """list bundled hardware targets"""

    name = "targets"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'cu*'")

    def run(self, args: argparse.Namespace) -> int:
        from ..costs import list_targets, load_target

        for name in list_targets(args.pattern):
            print(f"{name:<16} {load_target(name).describe()}")
        return 0
