"""Progress reporting: the ``stitchnas`` logger and whether progress bars show.

Everything stitchnas says while it works (an epoch finished, a step of ``run`` done, a warning)
goes through the ``stitchnas`` logger to stderr, one line each, so it reaches a log file as well
as a terminal; stdout carries only results. tqdm bars show on a terminal only, unless forced:
``stitchnas --progress`` shows them anywhere, ``stitchnas --quiet`` hides bars and progress lines
(warnings still print). A library user sees warnings (Python's last-resort handler) and, after
``logging.basicConfig(level=logging.INFO)`` or :func:`configure`, the progress lines too.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["LOGGER", "MODES", "get_logger", "configure", "show_bars"]

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
        return progress
    if _mode != "auto":
        return _mode == "progress"
    return sys.stderr.isatty()
