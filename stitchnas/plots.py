"""Plots (matplotlib, headless): accuracy against a cost, anchors and the Pareto front marked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .fileio import atomic_write
from .pareto import front_indices

__all__ = ["plot_tradeoff", "plot_curves", "pyplot"]


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
        for i in anchors:
            ax.annotate(labels[i], (cost[i], acc[i]), textcoords="offset points", xytext=(5, -10),
                        fontsize=8)
    front = front_indices(acc, cost)
    ax.step([cost[i] for i in front], [acc[i] for i in front], where="post", color="black",
            linewidth=1.2, label=f"Pareto front ({len(front)})")
    for name, (xs, ys) in (series or {}).items():
        order = sorted(range(len(xs)), key=lambda k: xs[k])
        ax.step([xs[k] for k in order], [ys[k] for k in order], where="post", linewidth=1.0,
                linestyle="--", label=name)
    return _save(plt, fig, ax, path, title, xlabel, ylabel, legend_loc="lower right")


def plot_curves(path: str | os.PathLike, curves: dict[str, tuple[Sequence[float], Sequence[float]]], *,
                title: str = "", xlabel: str = "", ylabel: str = "") -> Path:
    """Line plot of named (x, y) curves."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, (xs, ys) in curves.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    return _save(plt, fig, ax, path, title, xlabel, ylabel)


def _save(plt, fig, ax, path, title: str, xlabel: str, ylabel: str, legend_loc: str = "best") -> Path:
    """Label, lay out and write the figure as a PNG, atomically."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc=legend_loc)
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png")
    plt.close(fig)
    return path
