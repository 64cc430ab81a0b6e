"""The ``stitchnas`` command line. Bad input ends in one line on stderr and exit code 2.

Each verb is a :class:`~stitchnas.cli._base.Command` in the module of its group; this module only
assembles the parser from :data:`COMMANDS` and runs the chosen one."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..errors import StitchnasError
from ._base import (MAX_ERROR_CHARS, Command, Parser, add_progress_arguments, add_results_argument, error_text,
                    progress_mode)
from ._bench import Bench
from ._fronts import Export, Query
from ._latency import ProfileLatency
from ._measure import Evaluate, ImportSnnet, Proxy, Study, Train, TrainAnchors
from ._predict import Predict, PredictorCV, Predictors, Suggest
from ._search import Run, Search
from ._spaces import Enumerate, Spaces, Targets

__all__ = ["COMMANDS", "MAX_ERROR_CHARS", "build_parser", "error_text", "main", "version"]

#: Every verb, in the order ``stitchnas --help`` lists them.
COMMANDS: tuple[type[Command], ...] = (
    Run, Spaces, Enumerate, TrainAnchors, Train, Evaluate, Proxy, ImportSnnet, Study, PredictorCV, Predict,
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
            add_results_argument(p)
            p.set_defaults(func=command.run, needs_cache=command.needs_cache, verb_parser=p)


def version() -> str:
    """The installed distribution's version (``importlib.metadata``), else ``stitchnas.__version__``
    (a source checkout that is not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("stitchnas")
    except PackageNotFoundError:
        from .. import __version__

        return __version__


class _Version(argparse.Action):
    """``--version``: print ``stitchnas VERSION`` and exit 0 (looked up only when asked)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"stitchnas {version()}")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="stitchnas", description="Neural architecture search over stitch space. "
                    "Progress goes to stderr (bars on a terminal); results to stdout.")
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    add_progress_arguments(parser, top=True)
    add_results_argument(parser, top=True)
    _add_commands(parser, COMMANDS, dest="command")
    return parser


def _ignore_file_size_signal() -> None:
    """Past ``ulimit -f`` a write fails with EFBIG (one line) instead of SIGXFSZ killing us."""
    import signal

    if hasattr(signal, "SIGXFSZ"):
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        except ValueError:  # not the main thread (a library caller's worker)
            pass


def _unrecognized(parser: argparse.ArgumentParser, extra: Sequence[str]) -> None:
    """Exit 2 naming the arguments ``parser`` did not take, and the flag the first was close to."""
    from .._util import close_matches

    flags = {s.lstrip("-"): s for action in parser._actions for s in action.option_strings
             if s not in ("-h", "--help")}  # compared without dashes, which every flag shares
    first = next((a.split("=")[0].lstrip("-") for a in extra if a.startswith("-")), None)
    close = close_matches(first, flags, 1) if first else []
    hint = f"; did you mean {flags[close[0]]}?" if close else ""
    parser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # the verb's parser says it, so the hint names the verb's --help and its flags
        _unrecognized(getattr(args, "verb_parser", parser), extra)
    from ..progress import configure

    configure(progress_mode(args))
    _ignore_file_size_signal()
    from ..paths import results_root

    try:
        with results_root(args.results, "--results"):
            if getattr(args, "needs_cache", False) and not getattr(args, "no_cache", False):
                from .._cache import check_cache_folder

                check_cache_folder()
            code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below, not at exit
        return code
    except StitchnasError as err:
        print(f"stitchnas: error: {error_text(err)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # stdout closed early (`stitchnas query --list | head`): not an error
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except (OSError, ValueError):
            pass
        return 0
    except OSError as err:  # a write that failed outside fileio's writers: still one line
        from ..fileio import is_write_error, write_error

        if not is_write_error(err):
            raise  # not a failed write: a bug, shown as such
        print(f"stitchnas: error: {error_text(write_error(err, err.filename))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # a step that kept its work says where (SearchInterrupted)
        why = error_text(err)
        line = why if why.startswith("interrupted") else f"interrupted: {why}" if why else "interrupted"
        print(f"stitchnas: {line}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
