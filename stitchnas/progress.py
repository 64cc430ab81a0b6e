"""Progress reporting: the ``stitchnas`` logger and whether progress bars show.

Everything stitchnas says while it works (an epoch finished, a step of ``run`` done, a warning)
goes through the ``stitchnas`` logger to stderr, one line each, so it reaches a log file as well
as a terminal; stdout carries only results. tqdm bars show on a terminal only, unless forced:
``stitchnas --progress`` shows them anywhere, ``stitchnas --quiet`` hides bars and progress lines
(warnings still print). A library user sees warnings (Python's last-resort handler) and, after
``logging.basicConfig(level=logging.INFO)`` or :func:`configure`, the progress lines too.

stitchnas's own level never touches anyone else's: Optuna's per-trial lines and fvcore's and
timm's warnings are hushed only for the duration of a stitchnas call (:func:`quiet_optuna`,
:func:`quiet_fvcore`, :func:`quiet_timm`, context managers that restore what they found), never
on import.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from typing import Iterator

__all__ = ["LOGGER", "MODES", "get_logger", "configure", "show_bars", "quiet_optuna", "quiet_fvcore",
           "quiet_timm"]

#: The name of the package's logger; modules log to children of it.
LOGGER = "stitchnas"
#: ``auto``: bars on a terminal, progress lines always; ``progress``: bars too when piped;
#: ``quiet``: no bars, no progress lines, warnings only.
MODES = ("auto", "progress", "quiet")

_mode = "auto"


def get_logger(name: str | None = None) -> logging.Logger:
    """The ``stitchnas`` logger, or its child ``stitchnas.NAME``."""
    return logging.getLogger(LOGGER if not name else f"{LOGGER}.{name}")


class _StderrHandler(logging.Handler):
    """One line per record on the *current* ``sys.stderr`` (written around any tqdm bar)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            stream = sys.stderr
            if _mode != "quiet" and stream.isatty():
                from tqdm import tqdm

                tqdm.write(msg, file=stream)
            else:
                stream.write(msg + "\n")
                stream.flush()
        except Exception:  # noqa: BLE001 - logging must never break the work
            self.handleError(record)


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"stitchnas: {level}{record.getMessage()}"


def configure(mode: str = "auto") -> None:
    """Send the ``stitchnas`` logger's lines to stderr (once) and set the progress ``mode``
    (one of :data:`MODES`): what the command line does before any verb runs."""
    global _mode
    if mode not in MODES:
        from .errors import StitchnasError

        raise StitchnasError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
    _mode = mode
    log = get_logger()
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Format())
        log.addHandler(handler)
    log.setLevel(logging.WARNING if mode == "quiet" else logging.INFO)


def show_bars(progress: bool | None = None) -> bool:
    """Whether a tqdm bar shows: ``progress`` if given, else the mode's choice (a terminal in
    ``auto``)."""
    if progress is not None:
        return bool(progress)
    if _mode != "auto":
        return _mode == "progress"
    return sys.stderr.isatty()


class _DropChatter(logging.Filter):
    """Optuna's per-run notes that say nothing about the search (the GP sampler falling back to
    sequential L-BFGS-B when greenlet is missing)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "greenlet" not in record.getMessage()


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """For the duration of a stitchnas call: no per-trial INFO lines from Optuna, none of its
    chatter. Optuna's verbosity and handlers are restored on exit (also as a decorator)."""
    import optuna

    before = optuna.logging.get_verbosity()
    log = logging.getLogger("optuna")
    chatter = _DropChatter()
    handlers = list(log.handlers)
    if before < logging.WARNING:
        optuna.logging.set_verbosity(logging.WARNING)
    for handler in handlers:
        handler.addFilter(chatter)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(chatter)
        if optuna.logging.get_verbosity() != before:
            optuna.logging.set_verbosity(before)


def quiet_fvcore():
    """For the duration of a FLOP count: fvcore's (and iopath's) loggers at ERROR (they warn about
    every op they skip); their levels are restored on exit."""
    return _at_error("fvcore", "iopath")


def quiet_timm():
    """While timm's own loader reads an anchor's checkpoint: timm's logger at ERROR (it warns
    about stems it adapts, which stitchnas reports in its own words); restored on exit."""
    return _at_error("timm")


@contextmanager
def _at_error(*names: str) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    before = [log.level for log in loggers]
    for log in loggers:
        if log.getEffectiveLevel() < logging.ERROR:
            log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for log, level in zip(loggers, before):
            log.setLevel(level)
