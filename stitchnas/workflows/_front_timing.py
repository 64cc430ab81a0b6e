"""Checks of a run's latency fronts against the machine: whether a saved table still fits it,
and whether the front's members timed end to end are where the table put them (whether the table
can tell them apart at all is :func:`stitchnas.fronts.front_resolution_warning`)."""

from __future__ import annotations

__all__ = ["drift_pct", "drift_warning", "fits_machine", "off_by", "order_line", "order_tolerance"]


def fits_machine(drift_pct: float) -> bool:
    """Whether a saved table whose anchors run ``drift_pct`` off it (median) may be reused: within
    the median limit a fresh table must meet (at 10% the front's timing later drifted past 10%)."""
    from ..costs import MAX_MEDIAN_APE_PCT
    return abs(drift_pct) <= MAX_MEDIAN_APE_PCT


def drift_pct(composed: dict[int, float], timed: dict[int, float]) -> float:
    """Median of each stitch's end-to-end time against its composed latency, in percent (+: the
    machine runs slower now than the table says)."""
    import statistics

    return statistics.median((timed[i] / ms - 1) * 100 for i, ms in composed.items())


def off_by(drift: float) -> str:
    """``"12% faster than this machine now"``: how a table's latencies compare with the machine."""
    return f"{abs(drift):.0f}% {'faster' if drift > 0 else 'slower'} than this machine now"


def drift_warning(target: str, members, timed: dict[int, float], space: str,
                  fresh: bool = False) -> str | None:
    """One line when a reused or fresh table is off this machine's current timings by more than
    the validation's worst-case limit (median over the front's members; a machine's speed wanders
    by about 5% from one minute to the next, so the median limit would cry wolf), saying what to do.
    ``fresh``: the table was timed in this same run, so what moved is the machine, not the table."""
    from ..costs import MAX_WORST_APE_PCT

    drift = drift_pct({m.id: m.latency_ms for m in members}, timed)
    if abs(drift) <= MAX_WORST_APE_PCT:
        return None
    retime = f"stitchnas profile-latency {space} --target {target} --force"
    if fresh:
        return (f"the {target} latency table, timed earlier in this run, is {off_by(drift)} (front "
                f"members timed end to end, median; limit {MAX_WORST_APE_PCT:g}%): this machine's speed "
                f"moved that much meanwhile, so latencies here are good to about {abs(drift):.0f}%; "
                f"for steadier ones re-time it with {retime} on a quiet machine")
    return (f"the {target} latency table is {off_by(drift)} (front members timed end to end, median; "
            f"limit {MAX_WORST_APE_PCT:g}%): its latencies still order the front only if the load is "
            f"even; re-time it here with {retime}, on a quiet machine")


def order_tolerance(table, front) -> float | None:
    """What either clock resolves when a latency front's order is checked: the worst end-to-end
    error of ``table``'s validation (its composition's), else the front's median error."""
    from ..costs import validation_error

    v = getattr(table, "validation", None)
    worst = validation_error(v).get("worst_ape_pct") if v else None
    return worst if worst is not None else front.latency_error_pct


def order_line(members, timed: dict[int, float], warned: bool = False,
               tolerance_pct: float | None = None) -> str:
    """Whether a latency front's members, sorted by composed latency, are sorted by their
    end-to-end times too (the pairs out of order named; ``warned``: a warning about this front
    was given, which the line points to). ``tolerance_pct`` (the table's worst validation error:
    how far a composed latency was seen off an end-to-end one) is what either clock resolves: a
    pair the table puts closer than that, or that timed the other way round by less than that,
    is noise either way: counted as such, not as out of order."""
    by_composed = sorted(members, key=lambda m: (m.latency_ms, m.id))
    pairs = [(a, b) for k, a in enumerate(by_composed) for b in by_composed[k + 1:]
             if timed[a.id] > timed[b.id]]
    tol = tolerance_pct or 0.0
    wrong = [(a.id, b.id) for a, b in pairs if (b.latency_ms / a.latency_ms - 1) * 100 >= tol
             and (timed[a.id] / timed[b.id] - 1) * 100 >= tol]
    ties = len(pairs) - len(wrong)
    drift = drift_pct({m.id: m.latency_ms for m in members}, timed)
    head = (f"Front members timed end to end ({len(members)}; median {abs(drift):.0f}% "
            f"{'slower' if drift >= 0 else 'faster'} than the table): ")
    tied = (f"{ties} pair(s) timed the other way round within the table's validation error "
            f"({tol:.1f}%), as noise may")
    if not wrong:
        return head + "ordered as the latency table says" + (f"; {tied}." if ties else ".")
    return head + (f"{len(wrong)} pair(s) out of order ("
                   + ", ".join(f"{a} timed slower than {b}" for a, b in wrong[:5])
                   + "): the table's latencies do not order this front"
                   + (f" ({tied})" if ties else "")
                   + ("; see the warning above." if warned else "."))
