"""Load-time checks of a front: its members among themselves (torch-free) and against its space.

A hand-edited or damaged ``front.json`` must not be answered from: every member's values are
in range (top-1 in 0..100, costs >= 0, finite), every objective of the front has a value, no
member dominates another (ties allowed), and, with the space at hand, every member's id is a
candidate of the space with the same route. Each problem is one line naming the file, the
member and the field; the caller adds how to rewrite the file.

A front that loads can still answer wrongly: :func:`answer_notes` says when (measurements
changed since the search, latencies timed on another machine or within the table's error), and
:func:`front_resolution_warning` when its latency steps are finer than its table can resolve.
"""

from __future__ import annotations

from shlex import quote
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import StitchnasError
from ..objectives import OBJECTIVES, format_amount, format_value

if TYPE_CHECKING:  # pragma: no cover
    from ..space import SearchSpace
    from ._front import Front, FrontPoint

__all__ = ["check_members", "check_space", "bundled_space_of", "stale_front_note", "answer_notes",
           "timed_elsewhere", "front_resolution_warning", "front_accuracy_note"]


def _values(m: FrontPoint, front: Front) -> str:
    return ", ".join(format_value(o, m.value(o)) for o in front.objectives)


def check_members(front: Front) -> None:
    """Every member has a value for each objective and none dominates another (a front holds
    only mutually non-dominated stitches; equal values on every objective are allowed)."""
    for m in front.members:
        for o in front.objectives:
            if m.value(o) is None:
                raise StitchnasError(f"member id {m.id} has no {o!r}, an objective of this front "
                                     f"({', '.join(front.objectives)})")
    if len(front.members) < 2:
        return
    from ..pareto import nondominated

    rows = [[float(m.value(o)) for o in front.objectives] for m in front.members]
    directions = [OBJECTIVES[o] for o in front.objectives]
    sure = [m.acc1_source == "measured" for m in front.members]  # see stitchnas.pareto
    keep = nondominated(rows, directions, certain=sure)
    if keep.all():
        return
    sign = [-1.0 if d == "maximize" else 1.0 for d in directions]
    i = int(next(k for k, ok in enumerate(keep) if not ok))
    low = [v * s for v, s in zip(rows[i], sign)]
    for j, row in enumerate(rows):
        other = [v * s for v, s in zip(row, sign)]
        if sure[i] and not sure[j]:
            continue  # a prediction never pushes out a measured member
        if all(a <= b for a, b in zip(other, low)) and any(a < b for a, b in zip(other, low)):
            a, b = front.members[i], front.members[j]
            raise StitchnasError(
                f"member id {a.id} ({_values(a, front)}) is dominated by member id {b.id} "
                f"({_values(b, front)}): a front holds only stitches no other member beats on "
                "every objective, so the file was edited or damaged")
    raise StitchnasError("a member is dominated by another")  # pragma: no cover - nondominated agrees


def check_space(front: Front, space: SearchSpace) -> None:
    """Every member is the candidate of ``space`` with its id: same route, anchors marked as
    anchors. ``space`` must have the front's content hash (checked by the caller). A large space
    enumerated before answers from its id cache (:attr:`SearchSpace.id_routes`)."""
    routes = space.id_routes
    num = len(routes)
    for m in front.members:
        if m.id >= num:
            raise StitchnasError(f"member id {m.id} is not in space {space.name!r} (ids "
                                 f"0..{num - 1})")
        try:
            m.route.validate(space.depths)
        except StitchnasError as err:
            raise StitchnasError(f"member id {m.id}: {err}") from None
        route = routes[m.id]
        if route is None:
            raise StitchnasError(f"member id {m.id}: id {m.id} of space {space.name!r} is kept for the "
                                 "official numbering but is not a valid network")
        if route != m.route:
            raise StitchnasError(f"member id {m.id} has route {m.route}, but candidate {m.id} of "
                                 f"space {space.name!r} is {route}")
        anchor = route.num_stitches == 0
        if m.is_anchor != anchor:
            raise StitchnasError(f"member id {m.id}: 'is_anchor' is {str(m.is_anchor).lower()}, but "
                                 f"its route {m.route} {'is' if anchor else 'is not'} an "
                                 "anchor alone")


def bundled_space_of(front: Front) -> SearchSpace | None:
    """The bundled space the front was searched on (same name and content hash), or None.
    Loading a space imports torch: callers that must stay torch-free skip this."""
    from ..paths import check_name
    from ..space import bundled_spaces_dir, load_space

    try:
        if not (bundled_spaces_dir() / f"{check_name(front.space, 'space')}.yaml").is_file():
            return None
        space = load_space(front.space)
        return space if space.content_hash == front.space_hash else None
    except StitchnasError:
        return None


def stale_front_note(front: Front, space: str | None = None) -> str | None:
    """A line when the measurements file ``front`` was searched with has changed since (its
    digest differs; for older fronts without one, it holds more measured stitches of the space):
    the front answers from the old figures until searched again. None when unchanged, gone or
    unreadable. Reads the file alone (no torch); ``space``: as the user names it."""
    return _stale_note(front, space, _measurements_file(front))


def _measurements_file(front: Front) -> tuple[bool, dict[int, dict]] | None:
    """The measurements file ``front`` was searched with, read once: whether its bytes are the
    ones searched (same digest), and its rows of the front's space by id, as parsed JSON. None
    when the front names no file or it cannot be read."""
    import hashlib
    import json
    from pathlib import Path

    if not front.measurements:
        return None
    rows = {}
    try:
        data = Path(front.measurements).read_bytes()  # one read: digest and rows of the same bytes
        for line in data.decode("utf-8").splitlines():
            row = json.loads(line) if line.strip() else None
            if isinstance(row, dict) and row.get("space_hash") == front.space_hash \
                    and isinstance(row.get("id"), int):
                rows[row["id"]] = row
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    return front.measurements_sha256 == hashlib.sha256(data).hexdigest(), rows


def _stale_note(front: Front, space: str | None, file: tuple[bool, dict[int, dict]] | None) -> str | None:
    """:func:`stale_front_note` from the file as :func:`_measurements_file` read it."""
    if file is None or file[0]:
        return None
    ids = file[1]
    if front.measurements_sha256 is None and len(ids) <= front.measured_ids:
        return None
    return (f"{front.measurements} has changed since the {front.target} front was searched on it "
            f"({front.measured_ids} measured stitches then, {len(ids)} now): search again for a "
            f"front from what it holds (`stitchnas search {quote(str(space or front.given_as or front.space))} "
            f"--target {quote(front.target)} --measurements {quote(front.measurements)}`)")


def answer_notes(front: Front, answer: FrontPoint | None = None, limits: Mapping[str, Any] | None = None,
                 *, space: str | None = None, coverage: bool = False) -> list[str]:
    """What an answer read from ``front`` cannot show, one line each (none when all is well):
    with ``coverage``, the front's "evaluated X of N candidates" (:attr:`Front.coverage`; off
    where the answer carries it, as ``query``'s JSON does); the measurements file changed since
    the search (:func:`stale_front_note`); with a latency budget in ``limits``
    (``max_latency_ms``, as :meth:`Front.best` takes them), latencies timed on another CPU model
    than this machine's, and (given the ``answer``) a more accurate member over the budget by
    less than the latency table's median error, a cheaper measured member within measurement
    noise of a measured answer, and an answer whose top-1 is the anchors' prior. Needs no torch."""
    limits = dict(limits or {})
    file = _measurements_file(front)
    notes = [front.coverage if coverage else None, _stale_note(front, space, file),
             _other_machine_note(front, limits, space)]
    if answer is not None:
        notes += [_prior_note(answer), _within_error_note(front, answer, limits),
                  _cheaper_within_noise_note(front, answer, file)]
    return [n for n in notes if n]


def _prior_note(answer: FrontPoint) -> str | None:
    """An answer whose top-1 is the anchors' prior (no stitch measured) is a place to start
    measuring, not an accuracy (the JSON's ``acc1_source`` says it too; a terminal shows this)."""
    if answer.acc1_source != "prior":
        return None
    if answer.is_anchor:
        what = "the acc1 given for this anchor (space file or --anchor-acc), not measured here"
    else:
        spread = f", std {answer.acc1_std:.1f} points" if answer.acc1_std is not None else ""
        what = f"a prior read off the anchors' acc1{spread}, not a measurement"
    return (f"id {answer.id}'s top-1 ({answer.acc1:.2f}%) is {what}: measure stitches (`stitchnas "
            "evaluate`), then search again")


def _cheaper_within_noise_note(front: Front, answer: FrontPoint,
                               file: tuple[bool, dict[int, dict]] | None) -> str | None:
    """The cheapest measured member, no costlier than the measured ``answer`` on any cost, whose
    top-1 is below the answer's by less than two standard errors of the difference (from the
    rows of the front's measurements ``file``, as :func:`_measurements_file` read it:
    :func:`stitchnas.measure.difference_stderr`): it may serve as well. None when there is none,
    or the file is gone, changed (:func:`_stale_note` says so) or carries no error."""
    from types import SimpleNamespace

    from ..measure import difference_stderr

    costs = front.cost_objectives
    cheaper = [m for m in front.members if m.id != answer.id and m.acc1_source == "measured"
               and all(m.value(o) <= answer.value(o) for o in costs if m.value(o) is not None
                       and answer.value(o) is not None)]
    if answer.acc1_source != "measured" or not cheaper or file is None:
        return None
    same, parsed = file
    if front.measurements_sha256 and not same:
        return None
    try:
        rows = {i: SimpleNamespace(acc1=float(row["acc1"]), dataset=str(row.get("dataset")),
                                   extra=tuple(row.items()))  # what difference_stderr reads
                for i, row in parsed.items() if i in {answer.id, *(m.id for m in cheaper)}}
    except (ValueError, TypeError, KeyError):
        return None
    cost = costs[0]
    for m in sorted(cheaper, key=lambda m: m.value(cost)):
        err = difference_stderr(rows[answer.id], rows[m.id]) if {answer.id, m.id} <= rows.keys() else None
        if err is not None and answer.acc1 - m.acc1 < 2 * err[0]:
            return (f"id {m.id} costs less ({format_amount(cost, m.value(cost))} against "
                    f"{format_amount(cost, answer.value(cost))}) and measured {answer.acc1 - m.acc1:.2f} points "
                    f"below this answer, within two standard errors of the difference (standard error "
                    f"{err[0]:.2f}): it may serve as well")
    return None


def _other_machine_note(front: Front, limits: dict, space: str | None) -> str | None:
    """Tables travel, so "under 20 ms" on a front timed elsewhere is that machine's 20 ms. Fronts
    timed on a GPU are not compared: naming this machine's GPU needs torch."""
    here = timed_elsewhere(front) if limits.get("max_latency_ms") is not None else None
    if here is None:
        return None
    given = quote(str(space or front.given_as or front.space))
    return (f"the {front.target} front's latencies were timed on {front.timed_on}, and this machine "
            f"is {here}: the budget is checked against that machine's times; for this one, "
            f"`stitchnas profile-latency {given} --target {quote(front.target)}` here, then search again")


def _within_error_note(front: Front, answer: FrontPoint, limits: dict) -> str | None:
    """The next more accurate member misses the latency budget by less than the latency table's
    median validation error (``latency_error_pct``): on the machine it may fit as well, which
    the front's figures cannot decide."""
    limit, tol = limits.get("max_latency_ms"), front.latency_error_pct
    if limit is None or tol is None:
        return None
    others = {**limits, "max_latency_ms": None}
    better = [m for m in front.fits(**others) if m.acc1 > answer.acc1 and m.latency_ms is not None]
    if not better:
        return None
    nxt = min(better, key=lambda m: (m.latency_ms, -m.acc1))
    over = (nxt.latency_ms / limit - 1) * 100
    if over >= tol:
        return None
    return (f"id {nxt.id} ({nxt.acc1:.2f}%, {nxt.acc1 - answer.acc1:.2f} points more) needs "
            f"{nxt.latency_ms:.3g} ms, {over:.1f}% over the budget: within the {front.target} latency "
            f"table's median error ({tol:.1f}%), so on this machine it may fit as well; time both "
            "end to end to choose")


def timed_elsewhere(front: Front) -> str | None:
    """This machine's CPU model when ``front``'s latencies were timed on another CPU model (tables
    travel), else None (same model, no latencies, or timed on a GPU: naming this machine's GPU
    needs torch)."""
    m = front.latency_machine
    if not m or m.get("gpu") or not m.get("cpu"):
        return None
    from ..costs import cpu_name

    here = cpu_name()
    return None if here == m["cpu"] else here


def front_resolution_warning(front: Front, batch_size: int | None = None) -> str | None:
    """One line when a latency front keeps members for a speed its table cannot resolve: a member
    faster than a more accurate one by less than the table's median validation error (the
    front's ``latency_error_pct``: composed latencies err that much end to end), so which of the
    two is faster is noise and the less accurate one may be on the front for nothing (a member
    that also costs less on another objective, e.g. memory, is not). None when every step is
    resolved or the front carries no error. ``batch_size``: the target's, for the fix."""
    ms = sorted((m for m in front.members if m.latency_ms), key=lambda m: (m.latency_ms, -m.acc1))
    tol = front.latency_error_pct
    if tol is None or len(ms) < 2:
        return None
    others = [o for o in front.cost_objectives if o != "latency_ms"]

    def for_speed_alone(a, b) -> bool:  # a is on the front for no other cost it beats b in
        return all(a.value(o) is None or b.value(o) is None or a.value(o) >= b.value(o) for o in others)

    close = [(a, b) for a, b in zip(ms, ms[1:])
             if (b.latency_ms / a.latency_ms - 1) * 100 < tol and for_speed_alone(a, b)]
    if not close:
        return None
    a, b = max(close, key=lambda p: p[1].acc1 - p[0].acc1)
    bigger = ("a target with a bigger batch_size" if batch_size is None else
              f"a target with batch_size above {batch_size}" + (", e.g. cpu_batch64" if batch_size < 64 else ""))
    return (f"the {front.target} front has {len(close)} of its {len(ms) - 1} latency steps within the "
            f"table's median error ({tol:.1f}%), e.g. {a.id} is {(b.latency_ms / a.latency_ms - 1) * 100:.1f}% "
            f"faster than {b.id} and {b.acc1 - a.acc1:.2f} points less accurate: which of them is faster "
            f"is noise; to tell them apart time a bigger batch ({bigger}) or re-time with more repeats")


def front_accuracy_note(front: Front, rows) -> str | None:
    """One line when measured members of ``front`` lead the member before them (by cost) by less
    top-1 than their measurements resolve: less than two standard errors of the difference
    (paired over the same images where the rows carry per-image outcomes;
    :func:`stitchnas.measure.difference_stderr`), so whether the costlier one belongs on the
    front is noise. Counts steps between two measured members where the costlier one costs at
    least as much on every cost objective (it is there for its top-1 alone); ``rows``: the
    measurements searched with. None when every such step is resolved or no error is known."""
    from ..measure import difference_stderr

    by_id = {r.id: r for r in rows}
    costs = front.cost_objectives
    ms = sorted(front.members, key=lambda m: (tuple(m.value(o) or 0 for o in costs), -m.acc1))
    steps, close = 0, []
    for a, b in zip(ms, ms[1:]):
        if not (a.acc1_source == b.acc1_source == "measured" and a.id in by_id and b.id in by_id):
            continue
        if any(a.value(o) is not None and b.value(o) is not None and b.value(o) < a.value(o) for o in costs):
            continue
        err = difference_stderr(by_id[b.id], by_id[a.id])
        if err is None:
            continue
        steps += 1
        if b.acc1 - a.acc1 < 2 * err[0]:
            close.append((a, b, err))
    if not close:
        return None
    a, b, (se, paired) = min(close, key=lambda c: (c[1].acc1 - c[0].acc1) / c[2][0])
    how = "paired over the same images" if paired else "each row's error, taken as independent"
    return (f"the {front.target} front: {len(close)} of its {steps} top-1 steps between measured members "
            f"within two standard errors of the difference ({how}), e.g. id {b.id} is "
            f"{b.acc1 - a.acc1:.2f} points above id {a.id} (standard error {se:.2f}): whether the "
            "costlier one belongs on the front is measurement noise; measure both on more images to "
            "tell them apart")
