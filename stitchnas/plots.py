"""Plots (matplotlib, headless): accuracy against a cost, anchors and the Pareto front marked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .fileio import atomic_write
from .pareto import front_indices

__all__ = ["MAX_LABELS", "latency_validation_png", "place_labels", "plot_tradeoff", "plot_curves",
           "png_bytes", "prediction_png", "pyplot", "wrap_title"]


# label offsets (points from the marker) tried in turn; the first that overlaps nothing wins
_OFFSETS = ((4, -10), (4, 5), (-6, 6), (-6, -12), (6, 14), (6, -20), (-10, 16), (-10, -22))
#: At most this many labels are tried, anchors first, the rest evenly along the front: far
#: more than fit a panel, and a front of 10^5 (priors alone) no longer spends seconds trying each.
MAX_LABELS = 300


def pyplot():
    """``matplotlib.pyplot`` on the headless Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt




def plot_tradeoff(path: str | os.PathLike, cost: Sequence[float], acc: Sequence[float],
                  is_anchor: Sequence[bool], labels: Sequence[str] | None = None, *,
                  title: str = "", xlabel: str = "GFLOPs", ylabel: str = "top-1 accuracy (%)",
                  series: dict[str, tuple[Sequence[float], Sequence[float]]] | None = None) -> Path:
    """Scatter every candidate, mark anchors, draw the front; extra ``series`` as other fronts."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    stitched = [i for i, a in enumerate(is_anchor) if not a]
    anchors = [i for i, a in enumerate(is_anchor) if a]
    ax.scatter([cost[i] for i in stitched], [acc[i] for i in stitched], s=14, alpha=0.55,
               color="tab:blue", label="stitches")
    ax.scatter([cost[i] for i in anchors], [acc[i] for i in anchors], s=70, marker="*",
               color="tab:red", zorder=3, label="anchors")
    if labels is not None:
        place_labels(ax, [(labels[i], cost[i], acc[i]) for i in anchors], [True] * len(anchors), fontsize=8)
    front = front_indices(acc, cost)
    ax.step([cost[i] for i in front], [acc[i] for i in front], where="post", color="black",
            linewidth=1.2, label=f"Pareto front ({len(front)})")
    for name, (xs, ys) in (series or {}).items():
        order = sorted(range(len(xs)), key=lambda k: xs[k])
        ax.step([xs[k] for k in order], [ys[k] for k in order], where="post", linewidth=1.0,
                linestyle="--", label=name)
    return _save(plt, fig, ax, path, title, xlabel, ylabel, legend_loc="lower right")


def place_labels(ax, labels: Sequence[tuple[str, float, float]], anchors_first: Sequence[bool],
                 fontsize: float = 7) -> None:
    """Annotate each point at the first offset where its text overlaps no label placed before nor
    the legend, inside the panel where one is (the text right of the point, else left of it; past
    the panel's edge it is cut off); anchors first; of the others at most :data:`MAX_LABELS` tried,
    evenly along the front. A label with no free place is left out (the report lists every member).
    ``labels``: (text, x, y) in data coordinates."""
    ax.autoscale_view()
    fig = ax.figure
    pt = fig.dpi / 72.0  # pixels per point
    placed: list[tuple[float, float, float, float]] = []
    order = sorted(range(len(labels)), key=lambda i: not anchors_first[i])
    rest = [i for i in order if not anchors_first[i]]
    room = MAX_LABELS - (len(order) - len(rest))
    if len(rest) > room:
        keep = {rest[round(k * (len(rest) - 1) / max(room - 1, 1))] for k in range(max(room, 0))}
        order = [i for i in order if anchors_first[i] or i in keep]
    frame, m = ax.get_window_extent(), 3 * pt  # m: the text runs past its estimated box (descenders)
    legend = ax.get_legend()
    if legend is not None:  # a label under the legend is hidden
        b = legend.get_window_extent(fig.canvas.get_renderer())
        placed.append((b.x0 - m, b.y0 - m, b.x1 + m, b.y1 + m))
    for i in order:
        text, x, y = labels[i]
        px, py = ax.transData.transform((x, y))
        w, h = 4.3 * len(text) * pt * fontsize / 7, 8 * pt * fontsize / 7
        inside = outside = None  # the first free place inside the panel, and the first past its edge
        for dx, dy in _OFFSETS:
            for side in ("left", "right"):  # which end of the text is at the offset
                x0 = px + dx * pt if side == "left" else px - abs(dx) * pt - w
                box = (x0, py + dy * pt, x0 + w, py + dy * pt + h)
                if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                       for b in placed):
                    continue
                place = (box, dx if side == "left" else -abs(dx), dy, side)
                if (frame.x0 + m <= box[0] and box[2] <= frame.x1 - m
                        and frame.y0 + m <= box[1] and box[3] <= frame.y1 - m):
                    inside = place
                    break
                outside = outside or place
            if inside is not None:
                break
        chosen = inside or outside
        if chosen is not None:
            box, dx, dy, side = chosen
            placed.append(box)
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=fontsize,
                        ha=side)


def prediction_png(flops: Sequence[float], mean: Sequence[float], std: Sequence[float | None] | None,
                   measured: dict[int, float], is_anchor: Sequence[bool], *, title: str = "") -> bytes:
    """Every candidate's predicted top-1 against its FLOPs as PNG bytes: hollow circles with
    one-std bars for the predicted ones, filled dots at the measured value for the measured ones
    (index -> top-1 in ``measured``), anchors starred. Rendered in memory, so a caller writes it
    only once everything else is ready."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        x = [f / 1e6 for f in flops]
        guessed = [i for i in range(len(x)) if i not in measured]
        err = None if std is None else [0.0 if std[i] is None else std[i] for i in guessed]
        if guessed:  # every candidate measured: no predicted series, nor its legend entry
            ax.errorbar([x[i] for i in guessed], [mean[i] for i in guessed], yerr=err, fmt="o", ms=4,
                        mfc="none", color="tab:blue", ecolor="tab:blue", elinewidth=0.6, alpha=0.6,
                        label=f"predicted ({len(guessed)})" + (", bars: one std" if err is not None else ""))
        seen = sorted(measured)
        ax.scatter([x[i] for i in seen], [measured[i] for i in seen], s=22, color="black", zorder=3,
                   label=f"measured ({len(seen)})")
        stars = [i for i in range(len(x)) if is_anchor[i]]
        ax.scatter([x[i] for i in stars], [measured.get(i, mean[i]) for i in stars], s=110, marker="*",
                   facecolor="none", edgecolor="tab:red", zorder=4, label="anchors")
        if x and max(x) > 10 * min(x) > 0:
            from matplotlib.ticker import FuncFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        _label(ax, "MFLOPs", "top-1 accuracy (%)", title, "lower right", title_size=9)
        return png_bytes(fig)
    finally:
        plt.close(fig)


def latency_validation_png(table_ms: Sequence[float], timed_ms: Sequence[float],
                           timed_range_ms: Sequence[tuple[float, float]], *, band_pct: float = 5.0,
                           statistic: str = "", title: str = "") -> bytes:
    """A latency table checked against end-to-end timings, as PNG bytes: each validated
    candidate's latency as the table composes it (x) against the same candidate timed whole (y,
    bars: its 10th to 90th percentile over rounds), the diagonal and a ``band_pct`` band."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=120)
    try:
        lo = [y - r[0] for y, r in zip(timed_ms, timed_range_ms)]
        hi = [r[1] - y for y, r in zip(timed_ms, timed_range_ms)]
        ax.errorbar(table_ms, timed_ms, yerr=[[max(0.0, v) for v in lo], [max(0.0, v) for v in hi]],
                    fmt="o", ms=4, color="tab:blue", elinewidth=0.7, alpha=0.8,
                    label=f"candidates ({len(timed_ms)}), bars: 10th-90th percentile")
        edge = [min([*table_ms, *timed_ms]) * 0.9, max([*table_ms, *timed_ms]) * 1.1]
        ax.plot(edge, edge, color="black", linewidth=0.8, label="table = timed")
        ax.fill_between(edge, [e * (1 - band_pct / 100) for e in edge], [e * (1 + band_pct / 100) for e in edge],
                        color="grey", alpha=0.2, label=f"within {band_pct:g}%")
        _label(ax, "table (composed from pieces), ms",
               "timed end to end, ms" + (f" ({statistic})" if statistic else ""), title, "upper left",
               title_size=9)
        return png_bytes(fig)
    finally:
        plt.close(fig)


def plot_curves(path: str | os.PathLike, curves: dict[str, tuple[Sequence[float], Sequence[float]]], *,
                title: str = "", xlabel: str = "", ylabel: str = "") -> Path:
    """Line plot of named (x, y) curves."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, (xs, ys) in curves.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    return _save(plt, fig, ax, path, title, xlabel, ylabel)


def png_bytes(fig) -> bytes:
    """The figure laid out and rendered as PNG bytes (in memory: callers write files atomically)."""
    import io

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _label(ax, xlabel: str, ylabel: str, title: str, legend_loc: str, title_size: int = 10) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(wrap_title(title, 0.9 * ax.figure.get_figwidth(), title_size), fontsize=title_size)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc=legend_loc)


def wrap_title(title: str, width_in: float, size: float) -> str:
    """``title`` broken into lines that fit a figure ``width_in`` inches wide at font ``size``
    (points; a character is about 0.55 of the size wide): a data set's path or a long
    space name would otherwise run past the figure's edge and be cut off."""
    import textwrap

    chars = max(20, int(width_in * 72 / (0.55 * size)))
    return "\n".join(part for line in title.splitlines()
                     for part in (textwrap.wrap(line, chars) or [""]))


def _save(plt, fig, ax, path, title: str, xlabel: str, ylabel: str, legend_loc: str = "best") -> Path:
    """Label, lay out and write the figure as a PNG, atomically."""
    _label(ax, xlabel, ylabel, title, legend_loc)
    png = png_bytes(fig)
    plt.close(fig)
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        fh.write(png)
    return path
