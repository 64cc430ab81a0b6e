"""The ``stitchnas`` command line. Bad input ends in one line on stderr and exit code 2.

Each verb is a :class:`~stitchnas.cli._base.Command` in the module of its group; this module only
assembles the parser from :data:`COMMANDS` and runs the chosen one."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..errors import StitchnasError
from ._base import Command, Parser
from ._bench import Bench
from ._fronts import Export, Query
from ._latency import ProfileLatency
from ._measure import Evaluate, ImportSnnet, Study, Train, TrainAnchors
from ._predict import Predict, PredictorCV, Predictors, Suggest
from ._search import Run, Search
from ._spaces import Enumerate, Spaces, Targets

__all__ = ["COMMANDS", "build_parser", "main"]

#: Every verb, in the order ``stitchnas --help`` lists them.
COMMANDS: tuple[type[Command], ...] = (
    Run, Spaces, Enumerate, TrainAnchors, Train, Evaluate, ImportSnnet, Study, PredictorCV, Predict,
    Suggest, Predictors, Bench, Query, Export, Targets, ProfileLatency, Search,
)


def _add_commands(parser: argparse.ArgumentParser, commands: Sequence[type[Command]], dest: str) -> None:
    sub = parser.add_subparsers(dest=dest, required=True, parser_class=Parser)
    for cls in commands:
        command = cls()
        p = sub.add_parser(cls.name, help=cls.help_line())
        command.add_arguments(p)
        if cls.subcommands:
            _add_commands(p, cls.subcommands, dest=cls.name)
        else:
            p.set_defaults(func=command.run)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="stitchnas", description="Neural architecture search over stitch space.")
    _add_commands(parser, COMMANDS, dest="command")
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
