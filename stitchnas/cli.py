"""The ``stitchnas`` command line. Bad input ends in one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .errors import StitchnasError

__all__ = ["main"]


def _cmd_spaces(args: argparse.Namespace) -> int:
    from .space import list_spaces, load_space

    for name in list_spaces(args.pattern):
        space = load_space(name)
        anchors = ", ".join(f"{a.name}={a.model}" for a in space.anchors)
        print(f"{name:<20} {space.rule.name:<9} {anchors}")
    return 0


def _cmd_enumerate(args: argparse.Namespace) -> int:
    from .profiler import Profiler
    from .space import load_space

    space = load_space(args.space)
    costs = Profiler(space, use_cache=not args.no_cache, progress=None).profile()
    out = sys.stdout
    if args.format == "jsonl":
        for c in costs:
            out.write(json.dumps(c.to_json()) + "\n")
    else:
        out.write(f"# {space.name}: {len(costs)} candidates ({space.num_ids} ids), rule "
                  f"{space.rule.name}, input {list(space.input_size)}, fvcore flops at batch 1\n")
        out.write(f"{'id':>5}  {'GFLOPs':>9}  {'Mparams':>8}  route\n")
        for c in costs:
            out.write(f"{c.id:>5}  {c.flops / 1e9:>9.4f}  {c.params / 1e6:>8.3f}  "
                      f"{space.describe(c.route)}\n")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .benchmarks import bench_profiling
    from .space import load_space

    space = load_space(args.space)
    report = bench_profiling(space, repeats=args.repeats, out_dir=Path(args.out), progress=None)
    print(json.dumps(report, indent=1))
    print(f"{space.name}: {report['candidates']} candidates; compositional "
          f"{report['compositional_s']:.2f} s vs tracing every candidate {report['full_trace_s']:.2f} s "
          f"(median of {report['repeats']}): {report['speedup']}x faster, identical counts: "
          f"{report['identical']}", file=sys.stderr)
    return 0 if report["identical"] else 1


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .space import DEFAULT_SPACE

    parser = _Parser(prog="stitchnas", description="Neural architecture search over stitch space.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("spaces", help="list bundled search spaces")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'deit*'")
    p.set_defaults(func=_cmd_spaces)

    p = sub.add_parser("enumerate", help="list every candidate of a space with its FLOPs and params")
    p.add_argument("space", nargs="?", default=DEFAULT_SPACE,
                   help=f"a space YAML path or bundled name (default: {DEFAULT_SPACE})")
    p.add_argument("--format", choices=("jsonl", "table"), default="jsonl")
    p.add_argument("--no-cache", action="store_true", help="re-trace instead of using the profile cache")
    p.set_defaults(func=_cmd_enumerate)

    p = sub.add_parser("bench", help="benchmarks (commands, not tests)")
    bsub = p.add_subparsers(dest="bench", required=True, parser_class=_Parser)
    b = bsub.add_parser("profiling", help="compositional profiling vs tracing every candidate")
    b.add_argument("space", nargs="?", default="deit3_sl_v2")
    b.add_argument("--repeats", type=_positive_int, default=3)
    b.add_argument("--out", default="results/benchmarks", help="folder for the JSON report")
    b.set_defaults(func=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StitchnasError as err:
        print(f"stitchnas: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("stitchnas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
