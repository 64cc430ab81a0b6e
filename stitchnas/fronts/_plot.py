"""A front's plot: one panel per cost objective against top-1 accuracy (matplotlib, headless)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from ..objectives import OBJECTIVES_BY_NAME
from ._front import Front, FrontPoint, _fmt_limit

__all__ = ["render_front_png"]


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
    measured accuracy, hollow: predicted); stars: anchors, labelled by name; members labelled
    by id.
    """
    from ..plots import pyplot

    plt = pyplot()
    costs = [o for o in front.cost_objectives if front.has(o) or any(
        p.value(o) is not None for p in all_points)] or list(front.cost_objectives[:1])
    fig, axes = plt.subplots(1, len(costs), figsize=(6.5 * len(costs), 4.6), dpi=110, squeeze=False)
    try:
        for ax, objective in zip(axes[0], costs):
            _panel(ax, front, all_points, objective, anchor_names)
        budgets = ", ".join(f"{k}={_fmt_limit(v)}" for k, v in front.target_budgets.items()
                            if v is not None) or "no budgets"
        n_pred = sum(m.acc1_source == "predicted" for m in front.members)
        fig.suptitle(f"{front.space} on target {front.target} ({budgets}): front of "
                     f"{len(front.members)}, {n_pred} predicted", fontsize=10)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def _panel(ax, front: Front, all_points: Sequence[FrontPoint], objective: str,
           anchor_names: Sequence[str] | None) -> None:
    scale, label = _scale(objective, [p.value(objective) for p in (*all_points, *front.members)])
    pts = [p for p in all_points if p.value(objective) is not None]
    if pts:
        ax.scatter([p.value(objective) / scale for p in pts], [p.acc1 for p in pts], s=12,
                   color="0.7", zorder=1, label=f"all candidates ({len(pts)})")
    members = sorted((m for m in front.members if m.value(objective) is not None),
                     key=lambda m: (m.value(objective), -m.acc1))
    xs = [m.value(objective) / scale for m in members]
    ys = [m.acc1 for m in members]
    ax.plot(xs, ys, color="tab:blue", linewidth=1.2, zorder=2, label=f"front ({len(members)})")
    for source, face in (("measured", "tab:blue"), ("predicted", "white")):
        sel = [m for m in members if not m.is_anchor and m.acc1_source == source]
        if sel:
            ax.scatter([m.value(objective) / scale for m in sel], [m.acc1 for m in sel], s=36,
                       facecolors=face, edgecolors="tab:blue", zorder=3, label=f"{source} accuracy")
    for source, face in (("measured", "tab:red"), ("predicted", "white")):
        sel = [m for m in members if m.is_anchor and m.acc1_source == source]
        if sel:
            ax.scatter([m.value(objective) / scale for m in sel], [m.acc1 for m in sel], s=140,
                       marker="*", facecolors=face, edgecolors="tab:red", zorder=4,
                       label=f"anchors ({source})")
    for m, x, y in zip(members, xs, ys):
        if m.is_anchor:
            a = m.route.first_anchor
            name = anchor_names[a] if anchor_names and a < len(anchor_names) else f"anchor {a}"
            text = f"{name} ({m.id})"
        else:
            text = str(m.id)
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel(label)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"accuracy vs {OBJECTIVES_BY_NAME[objective].axis}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
