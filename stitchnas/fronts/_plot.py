"""A front's plot: one panel per cost objective against top-1 accuracy (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..objectives import OBJECTIVES_BY_NAME, format_amount, format_budgets, objective_of
from ._front import Front, FrontPoint

__all__ = ["render_front_png", "format_budgets", "format_amount"]


def _over_budget(point: FrontPoint, budgets: dict) -> bool:
    for key, limit in budgets.items():
        value = point.value(objective_of(key)) if limit is not None else None
        if value is not None and value > limit:
            return True
    return False


def _scale(objective: str, values: Iterable[float]) -> tuple[float, str]:
    values = [v for v in values if v is not None]
    top = max(values, default=0)
    if objective == "flops":
        return (1e9, "GFLOPs") if top >= 1e9 else (1e6, "MFLOPs")
    if objective == "params":
        return 1e6, "parameters (M)"
    return 1.0, OBJECTIVES_BY_NAME[objective].axis


def render_front_png(front: Front, all_points: Sequence[FrontPoint] = (),
                     anchor_names: Sequence[str] | None = None) -> bytes:
    """The front plot as PNG bytes: one panel per cost objective against top-1 accuracy.

    Grey dots: every candidate the search saw; line with markers: the front (filled markers:
    measured accuracy, hollow: predicted, light grey: a prior from the anchors); stars: anchors,
    labelled by name (hollow: off the front), joined by the dotted line a stitch must beat to
    offer what no anchor does; members labelled by id.
    """
    from ..plots import png_bytes, pyplot, wrap_title

    plt = pyplot()
    costs = [o for o in front.cost_objectives if front.has(o) or any(
        p.value(o) is not None for p in all_points)] or list(front.cost_objectives[:1])
    fig, axes = plt.subplots(1, len(costs), figsize=(6.5 * len(costs), 4.6), dpi=110, squeeze=False)
    try:
        for ax, objective in zip(axes[0], costs):
            _panel(ax, front, all_points, objective, anchor_names)
        budgets = format_budgets(front.target_budgets)
        guessed = ", ".join(f"{front.count(s)} {s}" for s in ("predicted", "prior")
                            if front.count(s) or s == "predicted")
        fig.suptitle(wrap_title(f"{front.space} on target {front.target} ({budgets}): front of "
                                f"{len(front.members)}, {guessed}", fig.get_figwidth(), 10), fontsize=10)
        return png_bytes(fig)
    finally:
        plt.close(fig)


def _panel(ax, front: Front, all_points: Sequence[FrontPoint], objective: str,
           anchor_names: Sequence[str] | None) -> None:
    from ..plots import place_labels

    scale, label = _scale(objective, [p.value(objective) for p in (*all_points, *front.members)])
    budgets = {k: v for k, v in front.target_budgets.items() if v is not None}
    pts = [p for p in all_points if p.value(objective) is not None]
    total = front.study.get("candidates")
    of = f" of {total}" if isinstance(total, int) and total >= len(pts) else ""
    inside = [p for p in pts if not _over_budget(p, budgets)]
    over = [p for p in pts if _over_budget(p, budgets)]
    if inside:
        ax.scatter([p.value(objective) / scale for p in inside], [p.acc1 for p in inside], s=12,
                   color="0.6", zorder=1, label=f"evaluated ({len(pts)}{of})")
    if over:
        ax.scatter([p.value(objective) / scale for p in over], [p.acc1 for p in over], s=12,
                   color="0.6", alpha=0.25, zorder=1,
                   label=f"over budget ({len(over)})" if inside else
                   f"evaluated ({len(pts)}{of}), over budget ({len(over)})")
    for key, limit in budgets.items():
        if objective_of(key) == objective:
            ax.axvline(limit / scale, color="tab:red", linestyle="--", linewidth=1, zorder=1,
                       label=f"budget: {format_amount(objective, limit)}")
            ax.axvspan(limit / scale, max([limit / scale] + [p.value(objective) / scale for p in pts])
                       * 1.05, color="tab:red", alpha=0.05, zorder=0)
    extra = _anchor_line(ax, front, pts, objective, scale, anchor_names)
    members = sorted((m for m in front.members if m.value(objective) is not None),
                     key=lambda m: (m.value(objective), -m.acc1))
    xs = [m.value(objective) / scale for m in members]
    ys = [m.acc1 for m in members]
    ax.plot(xs, ys, color="tab:blue", linewidth=1.2, zorder=2, label=f"front ({len(members)})")
    for source, face in (("measured", "tab:blue"), ("predicted", "white"), ("prior", "0.9")):
        sel = [m for m in members if not m.is_anchor and m.acc1_source == source]
        if sel:
            ax.scatter([m.value(objective) / scale for m in sel], [m.acc1 for m in sel], s=36,
                       facecolors=face, edgecolors="tab:blue", zorder=3, label=f"{source} accuracy")
    for source, face in (("measured", "tab:red"), ("predicted", "white"), ("prior", "0.9")):
        sel = [m for m in members if m.is_anchor and m.acc1_source == source]
        if sel:
            ax.scatter([m.value(objective) / scale for m in sel], [m.acc1 for m in sel], s=140,
                       marker="*", facecolors=face, edgecolors="tab:red", zorder=4,
                       label=f"anchors ({source})")
    texts = [f"{_anchor_name(m, anchor_names)} ({m.id})" if m.is_anchor else str(m.id) for m in members]
    ax.set_xlabel(label)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"accuracy vs {OBJECTIVES_BY_NAME[objective].axis}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    _clear_corner(ax, [(m.value(objective) / scale, m.acc1) for m in members]
                  + [(x, y) for _, x, y in extra], [(p.value(objective) / scale, p.acc1) for p in pts])
    place_labels(ax, list(zip(texts, xs, ys)) + extra,
                 anchors_first=[m.is_anchor for m in members] + [True] * len(extra))


def _clear_corner(ax, key: Sequence[tuple[float, float]], rest: Sequence[tuple[float, float]]) -> None:
    """Move the legend to the corner that covers the fewest ``key`` points (front members, anchors)
    and then of ``rest`` (every point): lower right first, where a front rising with cost leaves
    room, but not over an anchor the front leaves out there."""
    import numpy as np

    legend = ax.get_legend()
    ax.autoscale_view()
    box = legend.get_window_extent(ax.figure.canvas.get_renderer())
    frame = ax.get_window_extent()
    w, h, pad = box.width, box.height, frame.x1 - box.x1  # the legend's size and inset, as placed
    corners = {"lower right": (frame.x1 - pad - w, frame.y0 + pad),
               "upper left": (frame.x0 + pad, frame.y1 - pad - h),
               "lower left": (frame.x0 + pad, frame.y0 + pad),
               "upper right": (frame.x1 - pad - w, frame.y1 - pad - h)}

    def covered(points, x0, y0) -> int:
        if not len(points):
            return 0
        xy = ax.transData.transform(np.asarray(points, dtype=float))
        return int(((xy[:, 0] >= x0) & (xy[:, 0] <= x0 + w) & (xy[:, 1] >= y0) & (xy[:, 1] <= y0 + h)).sum())

    best = min(corners, key=lambda c: (covered(key, *corners[c]), covered(rest, *corners[c])))
    if best != "lower right":
        ax.legend(fontsize=7, loc=best)


def _anchor_line(ax, front: Front, pts: Sequence[FrontPoint], objective: str, scale: float,
                 anchor_names: Sequence[str] | None) -> list[tuple[str, float, float]]:
    """The straight line between neighbouring anchors (dotted; a stitch above it is a trade-off no
    anchor offers) and the anchors the front leaves out (hollow stars), where the search saw two
    anchors or more; returns those anchors' labels ``(text, x, y)`` for
    :func:`stitchnas.plots.place_labels`."""
    anchors = sorted((p for p in pts if p.is_anchor), key=lambda p: p.value(objective))
    if len(anchors) < 2:
        return []
    ax.plot([a.value(objective) / scale for a in anchors], [a.acc1 for a in anchors], color="tab:red",
            linestyle=":", linewidth=1, zorder=1, label="line between anchors")
    on_front = {m.id for m in front.members}
    off = [a for a in anchors if a.id not in on_front]
    if off:
        ax.scatter([a.value(objective) / scale for a in off], [a.acc1 for a in off], s=90, marker="*",
                   facecolors="white", edgecolors="tab:red", zorder=2, label="anchors off the front")
    return [(f"{_anchor_name(a, anchor_names)} ({a.id})", a.value(objective) / scale, a.acc1) for a in off]


def _anchor_name(point: FrontPoint, anchor_names: Sequence[str] | None) -> str:
    a = point.route.first_anchor
    return anchor_names[a] if anchor_names and a < len(anchor_names) else f"anchor {a}"
