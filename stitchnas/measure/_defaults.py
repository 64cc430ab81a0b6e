"""Which measurements and proxy scores a command reads when it is given none: the space's files
under ``results/SPACE/``, else the last ``stitchnas run``'s (one place for search, predict,
suggest and predictor-cv)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StitchnasError
from ._measurements import read_measurements
from ._proxies import proxy_signals, read_proxies

if TYPE_CHECKING:  # pragma: no cover
    from ..space import SearchSpace

__all__ = ["default_measurements"]


def default_measurements(space: "SearchSpace", proxies: Any = None, who: str = "search",
                         required: bool = False) -> tuple[Path | None, Any]:
    """``(measurements file, proxies)`` a command reads when given none: the space's
    ``results/SPACE/measurements.jsonl`` with, unless ``proxies`` are given, the proxy scores
    beside it (``proxies.jsonl``, as `stitchnas proxy` writes them) when they are of the measured
    checkpoint; else the last ``stitchnas run``'s measurements and proxy scores; one log line says
    what is read. Else ``(None, proxies)``, or, when ``required``, an error saying how to make some."""
    from ..paths import MEASUREMENTS, PROXIES, measurements_path, proxies_path, results_flag, run_dir
    from ..progress import get_logger

    default = measurements_path(space.name)
    if default.is_file():
        beside = proxies_path(space.name)
        if proxies is None and beside.is_file():
            proxies = _proxies_of(space, read_measurements(default, space), beside, who)
        return default, proxies
    ran = run_dir(space.name)
    if not (ran / MEASUREMENTS).is_file():
        if required:
            given = getattr(space, "given_as", space.name)
            raise StitchnasError(
                f"no measurements of {given}: neither {default} nor a run's {ran / MEASUREMENTS} "
                f"exists; measure stitches with `stitchnas evaluate {given}{results_flag()}` (or "
                f"`stitchnas run {given}{results_flag()}`), or pass --measurements FILE")
        return None, proxies
    if proxies is None and (ran / PROXIES).is_file():
        proxies = ran / PROXIES
    get_logger(who).info(f"{who}: no {default}: reading the last run's {ran / MEASUREMENTS}"
                         + (f" and {proxies}" if proxies else ""))
    return ran / MEASUREMENTS, proxies


def _proxies_of(space: "SearchSpace", rows: list, path: Path, who: str) -> Path | None:
    """``path`` when its proxy scores are of the checkpoint ``rows`` were measured on (one log
    line says it is read), else ``None`` with a warning line saying why it is not."""
    from ..progress import get_logger

    try:
        proxy_signals(read_proxies(path, space), rows)
    except StitchnasError as err:
        get_logger(who).warning(f"{who}: not reading the proxy scores in {path}: {err}")
        return None
    get_logger(who).info(f"{who}: reading the proxy scores in {path} (of the measured checkpoint)")
    return path
