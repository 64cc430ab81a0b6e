"""The ``stitchnas`` command line. Bad input ends in one line on stderr and exit code 2.

Each verb is a :class:`~stitchnas.cli._base.Command` in the module of its group; this module only
assembles the parser from :data:`COMMANDS` and runs the chosen one."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..errors import StitchnasError
from ._base import Command, Parser, add_progress_arguments, progress_mode
from ._bench import Bench
from ._fronts import Export, Query
from ._latency import ProfileLatency
from ._measure import Evaluate, ImportSnnet, Study, Train, TrainAnchors
from ._predict import Predict, PredictorCV, Predictors, Suggest
from ._search import Run, Search
from ._spaces import Enumerate, Spaces, Targets

__all__ = ["COMMANDS", "MAX_ERROR_CHARS", "build_parser", "error_text", "main"]

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
            add_progress_arguments(p)
            p.set_defaults(func=command.run)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="stitchnas", description="Neural architecture search over stitch space. "
                    "Progress goes to stderr (bars on a terminal); results to stdout.")
    add_progress_arguments(parser, top=True)
    _add_commands(parser, COMMANDS, dest="command")
    return parser


#: The longest error line printed (characters); a longer message loses its middle (" … "), so
#: the problem (its start) and the fix (its end) both stay.
MAX_ERROR_CHARS = 1000


def error_text(err: BaseException) -> str:
    """An error message as one bounded line: storage passwords masked, line breaks and other
    control characters written as escapes (a path may hold a newline), at most
    :data:`MAX_ERROR_CHARS` long."""
    from ..storage import scrub_secrets

    text = scrub_secrets(str(err)).strip()
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    if len(text) <= MAX_ERROR_CHARS:
        return text
    tail = MAX_ERROR_CHARS // 3
    return f"{text[:MAX_ERROR_CHARS - tail - 3]} … {text[-tail:]}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..progress import configure

    configure(progress_mode(args))
    try:
        return args.func(args)
    except StitchnasError as err:
        print(f"stitchnas: error: {error_text(err)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("stitchnas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
