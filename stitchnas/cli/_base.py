"""What every command shares: the :class:`Command` base, the parser, argument types and helpers.

A command is a class: its docstring is the line ``stitchnas --help`` shows, ``add_arguments``
declares its flags and ``run`` does the work (heavy imports stay inside ``run``, so building the
parser never imports torch). A group of sub-commands (``bench``) lists them in ``subcommands``.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Any, ClassVar

from .._util import close_matches
from ..errors import StitchnasError
from ..space import DEFAULT_SPACE

__all__ = [
    "MAX_ERROR_CHARS", "Command", "Parser", "error_text", "DEFAULT_SPACE", "SPACE_HELP", "add_space_argument", "positive_int",
    "positive_float", "nonnegative_float", "nonnegative_int", "seed", "fraction", "share", "device", "validate_count", "amount", "measured", "trials", "MAX_TRIALS",
    "add_progress_arguments", "progress_mode", "add_results_argument", "given_options", "option_name",
]

SPACE_HELP = f"a space YAML path or bundled name (default: {DEFAULT_SPACE})"


class Command:
    """(the docstring of a command is its help line)"""

    #: The verb on the command line.
    name: ClassVar[str] = ""
    #: For a group of commands (``bench``): its sub-commands, in the order ``--help`` lists them.
    subcommands: ClassVar[tuple[type[Command], ...]] = ()
    #: Whether the command counts FLOPs through the profile cache, which must be writable: an
    #: unusable cache folder is then one line before the command starts (not seconds into it).
    needs_cache: ClassVar[bool] = False

    @classmethod
    def help_line(cls) -> str:
        return " ".join((cls.__doc__ or "").split())

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the command's arguments (none by default)."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the work; the exit code (0 done, 1 nothing fits/not identical, 2 bad input)."""
        raise NotImplementedError


#: The longest error line printed (characters); a longer message loses its middle (" … "), so
#: the problem (its start) and the fix (its end) both stay.
MAX_ERROR_CHARS = 1000


def error_text(err: BaseException | str) -> str:
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


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one bounded line, exit 2, the prefix of every error
        message = " ".join(str(message).split())  # a value may be huge or hold escapes
        self.exit(2, f"stitchnas: error: {error_text(f'{message} (see {self.prog} --help)')}\n")


def add_progress_arguments(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``--progress`` / ``--quiet``, accepted before the verb and after it (``stitchnas --quiet
    run`` and ``stitchnas run --quiet``); the verb's own flags do not reset the global ones."""
    group = parser.add_mutually_exclusive_group()
    default = None if top else argparse.SUPPRESS
    group.add_argument("--progress", dest="progress_mode", action="store_const", const="progress",
                       default=default, help="show progress bars even when stderr is not a terminal")
    group.add_argument("--quiet", dest="progress_mode", action="store_const", const="quiet",
                       default=default, help="no progress bars or progress lines (warnings still show)")


def add_results_argument(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``--results DIR``, before the verb or after it: the results root every default path of the
    command lies under (``$STITCHNAS_RESULTS`` for one command), so ``query`` and ``export`` read
    what ``search --out-dir DIR`` or ``run --out DIR`` wrote."""
    parser.add_argument("--results", metavar="DIR", default=None if top else argparse.SUPPRESS,
                        help="results root for every default path (default: $STITCHNAS_RESULTS or "
                             "results); run's --out and search's --out-dir win")


def progress_mode(args: argparse.Namespace) -> str:
    """The progress mode the command line asked for (``auto`` if neither flag)."""
    return getattr(args, "progress_mode", None) or "auto"


def add_space_argument(parser: argparse.ArgumentParser, default: str | None = DEFAULT_SPACE,
                       described: bool = True) -> None:
    """The optional SPACE positional (a YAML path or a bundled name), its default in its help
    (None: the command falls back to the default space itself). ``described`` is unused: every
    argument has help now."""
    shown = default if default is not None else DEFAULT_SPACE
    parser.add_argument("space", nargs="?", default=default,
                        help=f"a space YAML path or bundled name (default: {shown})")


def _number(text: str, cast, ok, expected: str, bad_value: str | None = None):
    """``cast(text)`` if ``ok`` holds for it, else argparse's error "expected EXPECTED, got ..."
    (``bad_value`` words the range error where it differs from the parse error)."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {bad_value or expected}, got {text}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "a positive integer")


#: The most search trials one command may ask for: far beyond any space searched (the exact
#: search records fronts of up to 2 x 10^4), yet refused before a study runs for ever.
MAX_TRIALS = 10 ** 6


def trials(text: str) -> int:
    """A trial budget: an integer in 1..:data:`MAX_TRIALS`."""
    return _number(text, int, lambda v: 1 <= v <= MAX_TRIALS, "a positive integer",
                   f"a positive integer up to {MAX_TRIALS:,}")


def positive_float(text: str) -> float:
    return _number(text, float, lambda v: math.isfinite(v) and v > 0, "a positive number")


def nonnegative_float(text: str) -> float:
    """A finite number >= 0 (``--kappa``, where 0 means something)."""
    return _number(text, float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0",
                   "a finite number >= 0")


def seed(text: str) -> int:
    """A random seed: an integer in 0..2**32-1 (what NumPy and torch accept)."""
    return _number(text, int, lambda v: 0 <= v < 2 ** 32, "a seed (an integer 0..4294967295)")


def given_options(args: argparse.Namespace, *dests: str) -> dict[str, Any]:
    """The options among ``dests`` given on the command line (by dest, in the order named; an
    option left at its default None is not), for options that only mean something beside another:
    the command refuses them without it, and passes on only those given, so the defaults live in
    the function called."""
    return {d: getattr(args, d) for d in dests if getattr(args, d) is not None}


def option_name(dest: str) -> str:
    """``--stale-after-s`` for ``stale_after_s``."""
    return "--" + dest.replace("_", "-")


def evaluate_command(space, ids, path, rows) -> str:
    """``stitchnas evaluate SPACE --ids ...`` that measures ``ids`` into the measurements file at
    ``path`` (``--out`` unless it is the space's default file) on the images its ``rows`` were
    measured on (``--val-subset N`` where they share one such label), under this command's results
    root (``--results DIR``, where one was given: the checkpoint is found there)."""
    import shlex

    from ..measure import val_subset_option
    from ..paths import measurements_path, results_flag

    into = ("" if Path(path).resolve() == measurements_path(space.name).resolve()
            else f" --out {shlex.quote(str(path))}")  # the new rows beside these
    labels = {m.dataset for m in rows}  # and on the same images
    into += val_subset_option(labels.pop()) if len(labels) == 1 else ""
    return f"stitchnas evaluate {space.given_as} --ids {','.join(map(str, ids))}{into}{results_flag()}"


def no_match(kind: str, pattern: str, names: list[str], command: str) -> int:
    """Say on stderr that no ``kind`` matches ``pattern`` (with the names that come close) and
    return exit code 1, as ``query`` does when nothing fits: an empty listing is not bad input."""
    literal = re.sub(r"[*?\[\]]", "", pattern)
    near = [n for n in names if literal and literal in n][:3] or close_matches(literal, names)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    print(f"stitchnas: no {kind} matches {pattern!r}{hint} (all of them: `stitchnas {command}`)",
          file=sys.stderr)
    return 1


def name_list(text: str) -> list[str]:
    """Comma-separated names (``--predictors gp,route``), blanks dropped, at least one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names like a,b, got {text!r}")
    return names


def seed_list(text: str) -> list[int]:
    """Comma-separated seeds (``--seeds 0,1,2``), each as :func:`seed` takes it, at least one."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated seeds like 0,1,2, got {text!r}")
    try:
        return [seed(p) for p in parts]
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentTypeError(f"{err} in {text!r} (comma-separated seeds like 0,1,2)") from None


_DEVICE_RE = re.compile(r"(cpu|cuda|mps|xpu)(:\d+)?")


def device(text: str) -> str:
    """A torch device this machine has: cpu, cuda, cuda:N, mps or xpu:N (checked before any
    work; torch is imported only for a device other than cpu)."""
    text = text.strip()
    if not _DEVICE_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected a device: cpu, cuda, cuda:N, mps or xpu:N, got {text!r}")
    from ..errors import device_problem

    problem = device_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def fraction(text: str) -> float:
    """A share strictly between 0 and 1."""
    return _number(text, float, lambda v: 0 < v < 1, "a number between 0 and 1",
                   "a number between 0 and 1 (both excluded)")


def share(text: str) -> float:
    """A share of a whole: above 0, at most 1."""
    return _number(text, float, lambda v: 0 < v <= 1, "a number above 0 and at most 1")


def nonnegative_int(text: str) -> int:
    return 0 if text.strip() == "0" else positive_int(text)


def validate_count(text: str) -> int | str:
    """``--validate K``: a count of candidates, or ``all``."""
    return "all" if text.strip().lower() == "all" else nonnegative_int(text)


_AMOUNT_SUFFIX = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def amount(text: str) -> float | int:
    """A limit: a number >= 0, e.g. 20, 0.5, 1.5e9 or 1.5G (suffixes k, M, G, T)."""
    raw = text.strip()
    scale = 1.0
    if raw and raw[-1].lower() in _AMOUNT_SUFFIX:
        raw, scale = raw[:-1], _AMOUNT_SUFFIX[raw[-1].lower()]
    try:
        value = float(raw) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number like 20, 1.5e9 or 1.5G, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return int(value) if value.is_integer() else value


def measured(space, path) -> list:
    """The rows of a measurements file of ``space``; an error if it is missing or empty."""
    from ..measure import read_measurements

    if not Path(path).exists():  # a folder, FIFO or device exists: the reader says what it is
        raise StitchnasError(f"measurements file {path} does not exist: measure stitches with "
                             f"`stitchnas evaluate {space.given_as}` (or import published ones)")
    rows = read_measurements(path, space)
    if not rows:
        raise StitchnasError(f"measurements file {path} has no rows: measure some stitches first")
    return rows


def add_measurements_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--measurements", help="a measurements file of the space (default: "
                        "results/SPACE/measurements.jsonl, else the last `stitchnas run`'s; each with "
                        "the proxy scores beside it, when of the measured checkpoint)")


def measurements_and_proxies(space, args: argparse.Namespace, who: str) -> tuple[Any, Any]:
    """``(--measurements, --proxies)``, or, without a file given, the ones ``search`` reads by
    default (:func:`stitchnas.measure.default_measurements`, an error when there are none)."""
    from ..measure import default_measurements

    if args.measurements is not None:
        return args.measurements, args.proxies
    return default_measurements(space, args.proxies, who=who, required=True)


def add_proxies_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--proxies", help="every candidate's proxy scores (`stitchnas proxy`, "
                        "of the measured checkpoint): the predictor reads them (auto then takes the "
                        "proxy model)")
