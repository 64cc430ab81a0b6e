"""Whether a latency table's numbers are numbers: every timing and byte count finite and >= 0,
the overhead constants finite (a table is a JSON file anyone may edit; one NaN piece would make
every route through it vanish from a front)."""

from __future__ import annotations

import math
from typing import Any

from .._util import short_repr

__all__ = ["number_problem"]


_TIMINGS = ("median_ms", "p10_ms", "p90_ms", "iqr_ms")
_BYTES = ("input_bytes", "params_bytes", "peak_bytes")


def _bad_number(value: Any, *, signed: bool = False) -> bool:
    """Not a finite real number (>= 0 unless ``signed``); bools and huge integers are bad."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    try:
        return not math.isfinite(float(value)) or (not signed and value < 0)
    except OverflowError:
        return True


def number_problem(table: Any, required: tuple[str, ...]) -> str | None:
    """What is wrong with the table's numbers, in a few words naming the piece and the field
    (None: every timing and byte count is a finite number >= 0, the overhead constants finite).
    ``table``: a :class:`~._table.LatencyTable`; ``required``: the timings every piece must have
    (the median and the statistic tables compose)."""
    for key, stats in table.pieces.items():
        if not isinstance(stats, dict):
            return f"piece {key!r} must map {', '.join(_TIMINGS)} to numbers, got {short_repr(stats)}"
        for name in dict.fromkeys(required + _TIMINGS):
            if name not in stats:
                if name in required:
                    return f"piece {key!r} has no {name!r}"
                continue
            if _bad_number(stats[name]):
                return (f"piece {key!r} has {name} {short_repr(stats[name])}: timings must be finite "
                        "numbers >= 0")
        if "samples_ms" in stats:
            times = stats["samples_ms"]
            if not isinstance(times, list) or not times or any(_bad_number(t) for t in times):
                return (f"piece {key!r} has samples_ms {short_repr(times)}: it must be a non-empty list "
                        "of times (finite numbers >= 0), one per round")
    lengths = {len(st["samples_ms"]) if "samples_ms" in st else 0 for st in table.pieces.values()}
    if len(lengths) > 1:
        return ("its pieces' samples_ms do not line up: every piece needs one time per round "
                f"(lengths {sorted(lengths)})")
    memory = table.memory
    if _bad_number(memory.get("input_bytes")):
        return f"'memory.input_bytes' is {short_repr(memory.get('input_bytes'))}: byte counts must be >= 0"
    pieces = memory.get("pieces")
    if not isinstance(pieces, dict):
        return f"'memory.pieces' must map pieces to byte counts, got {short_repr(pieces)}"
    for key, counts in pieces.items():
        if not isinstance(counts, dict):
            return f"memory of piece {key!r} must map {', '.join(_BYTES)} to numbers"
        for name in _BYTES:
            if name not in counts:
                return f"memory of piece {key!r} has no {name!r}"
            if _bad_number(counts[name]):
                return (f"memory of piece {key!r} has {name} {short_repr(counts[name])}: byte counts "
                        "must be finite numbers >= 0")
    for name in ("per_network_ms", "per_stitch_ms"):
        if name in table.overhead and _bad_number(table.overhead[name], signed=True):
            return f"overhead {name} is {short_repr(table.overhead[name])}: it must be a finite number"
    return None
