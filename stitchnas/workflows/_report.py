"""The report of a run (``report.md``): steps, anchors, the measured stitches against the line
between their anchors, latency tables with their validation, and each target's front."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any, Sequence

from ..paths import default_results_dir
from ._front_timing import order_line, order_tolerance

__all__ = ["CHANCE_ABOVE_2SE", "above_line", "line_gap", "line_note", "line_summary", "line_table",
           "run_report"]

#: the chance that a measurement clears two standard errors above its true value (one-sided, normal)
CHANCE_ABOVE_2SE = 0.02275


def above_line(m, anchors, images: int | None = None) -> tuple[float, float | None] | None:
    """``(gap, stderr)`` of :func:`line_gap`, or None."""
    g = line_gap(m, anchors, images)
    return None if g is None else g[:2]


def line_gap(m, anchors, images: int | None = None) -> tuple[float, float | None, bool] | None:
    """``(gap, stderr, paired)``: points of top-1 that stitch ``m`` has above the line between the anchors
    bracketing its FLOPs, and the gap's standard error when each was measured on ``images``
    images. Where the three rows carry per-image outcomes on the same images (``top1_hits``) the
    error is paired: the spread over images of the stitch's outcome minus the line's mix of the
    anchors' (they share images and mostly agree, so this is 0.35 to 0.65 of the error taken as
    independent, docs/run.md); else the three are taken as independent, which overstates it.
    None for an anchor or a stitch outside the anchors' FLOPs range."""
    import math

    from ..measure import top1_outcomes, top1_stderr

    if m.route.num_stitches == 0:
        return None
    pts = sorted(((a.flops, a.acc1, a) for a in anchors), key=lambda p: p[:2])
    for (f0, a0, r0), (f1, a1, r1) in zip(pts, pts[1:]):
        if f0 <= m.flops <= f1 and f1 > f0:
            t = (m.flops - f0) / (f1 - f0)
            gap = m.acc1 - (a0 + (a1 - a0) * t)
            if not images:
                return gap, None, False
            paired = [top1_outcomes(r) for r in (m, r0, r1)]
            if all(o is not None and o.size == paired[0].size > 1 for o in paired) \
                    and m.dataset == r0.dataset == r1.dataset:
                d = paired[0] - ((1 - t) * paired[1] + t * paired[2])
                return gap, 100.0 * float(d.std(ddof=1)) / math.sqrt(d.size), True
            se = math.sqrt(top1_stderr(m.acc1, images) ** 2 + ((1 - t) * top1_stderr(a0, images)) ** 2
                           + (t * top1_stderr(a1, images)) ** 2)
            return gap, se, False
    return None


def line_summary(rows, images: int | None) -> dict[str, Any]:
    """How many measured stitches lie above the line between their neighbouring anchors, how
    many by more than two standard errors of the gap (more than measurement noise), of how many
    gaps that error is paired (``paired``; the rest are taken as independent), and how many
    would clear two standard errors by chance were every stitch exactly on its line
    (``by_chance``: many stitches, a few clear it by luck)."""
    anchors = [m for m in rows if m.route.num_stitches == 0]
    gaps = [g for g in (line_gap(m, anchors, images) for m in rows) if g is not None]
    return {"stitches": sum(m.route.num_stitches > 0 for m in rows), "within_anchors": len(gaps),
            "above": sum(g > 0 for g, _, _ in gaps),
            "above_by_2se": sum(se is not None and g > 2 * se for g, se, _ in gaps),
            "paired": sum(p for _, _, p in gaps), "images": images,
            "by_chance": round(CHANCE_ABOVE_2SE * len(gaps), 2) if images else None}


def _chance(line: dict[str, Any]) -> str:
    """`` (about X would by chance, ...)`` after a count of gaps beyond two standard errors."""
    if line.get("by_chance") is None or not line["within_anchors"]:
        return ""
    return (f" (about {line['by_chance']:.1f} of {line['within_anchors']} would by chance alone if every "
            "stitch were exactly on its line)")


def _pairing(line: dict[str, Any]) -> str:
    """Whether the gaps' standard errors are ``all`` paired, ``none``, or ``some``."""
    paired, n = line.get("paired", 0), line["within_anchors"]
    return "all" if n and paired == n else "none" if not paired else "some"


def _error_note(line: dict[str, Any], images: int | None) -> str:
    """The report's words on the `±` column: paired, independent, or which."""
    if not images:
        return "."
    how = {"all": "paired: the spread over those images of the stitch's outcome minus the line's mix "
                  "of the anchors'",
           "none": "taken as independent, which overstates them: these rows carry no per-image outcomes",
           "some": f"paired for {line['paired']} of {line['within_anchors']}, whose rows carry per-image "
                   "outcomes; the rest taken as independent, which overstates them"}[_pairing(line)]
    return (f". After `±`: two standard errors of that gap, measured on {images} images ({how}); a "
            "gap within them is measurement noise.")


def line_note(rows, images: int) -> str | None:
    """`evaluate`'s last line where two anchors or more were measured with stitches between
    them: the count of :func:`line_summary`, as the run's report gives it; None otherwise."""
    if sum(m.route.num_stitches == 0 for m in rows) < 2:
        return None
    line = line_summary(rows, images)
    if not line["within_anchors"]:
        return None
    how = {"all": "paired over the images", "none": "taken as independent",
           "some": f"paired for {line['paired']}, the rest taken as independent"}[_pairing(line)]
    return (f"line: {line['above']} of {line['within_anchors']} stitches between measured anchors beat the "
            f"line between their neighbouring anchors; {line['above_by_2se']} by more than two standard "
            f"errors ({how}; were every stitch exactly on its line, about {line['by_chance']:.1f} would "
            "by chance)")


def line_table(space, rows, line: dict[str, Any], images: int | None) -> list[str]:
    """The report's measured stitches, cheapest first, each with its gap to the line between its
    neighbouring anchors (``outside`` where no two anchors bracket its FLOPs), and the count of
    :func:`line_summary` under it."""
    anchors = [m for m in rows if m.route.num_stitches == 0]
    lines = ["| id | route | top-1 % | MFLOPs | vs line |", "|---:|---|---:|---:|---:|"]
    for m in sorted(rows, key=lambda m: (m.flops, m.id)):
        g = above_line(m, anchors, images)
        cell = ("-" if m.route.num_stitches == 0 else "outside") if g is None else f"{g[0]:+.2f}"
        cell += f" ± {2 * g[1]:.2f}" if g is not None and g[1] is not None else ""
        lines.append(f"| {m.id} | {space.describe(m.route)} | {m.acc1:.2f} | {m.flops / 1e6:.2f} | {cell} |")
    outside = line["stitches"] - line["within_anchors"]
    return lines + ["", f"{line['above']} of {line['within_anchors']} measured stitches beat the line between "
                    "their neighbouring anchors" + (f"; {line['above_by_2se']} by more than two standard errors"
                                                    f"{_chance(line)}" if images else "")
                    + (f"; {outside} more {'lies' if outside == 1 else 'lie'} outside the anchors' FLOPs range "
                       "(`outside`: no line to compare with)" if outside else "") + "."]


def run_report(space, cfg, steps, rows, chosen, scores, results, total, tables=None,
            warnings=None, front_times=None, *, line: dict[str, Any], root: Path | None = None,
            images: int | None = None, measure_warnings: Sequence[str] = ()) -> str:
    from ..costs import composes_plain_sum, cores_said, cpu_name, out_of_sample_ms, validation_plot_path
    from ..objectives import format_budgets

    tables, warnings = tables or {}, warnings or {}
    lines = [f"# stitchnas run: {space.name}", "",
             f"Space `{space.name}` (hash {space.content_hash}), {len(space)} candidates; "
             f"{time.strftime('%Y-%m-%d %H:%M')}; {cpu_name()}, {cores_said()}, "
             f"total {total:.0f} s.", "", "| step | seconds | what |", "|---|---:|---|"]
    lines += [f"| {s.name} | {s.seconds:.0f} | {s.done} |" for s in steps]
    anchors = sorted((m for m in rows if m.route.num_stitches == 0), key=lambda m: m.id)
    lines += ["", "## Anchors", ""]
    lines += [f"- {space.describe(m.route)}: top-1 {m.acc1:.2f}% ({m.flops / 1e6:.2f} MFLOPs)" for m in anchors]
    for warning in measure_warnings:
        lines += ["", f"**Warning:** {warning}"]
    recipes = sorted({dict(m.extra).get("batchnorm") for m in rows} - {None})
    lines += ["", f"## Measured: {len(rows)} of {len(space)}", "",
              ("Every candidate measured: nothing predicted." if len(rows) == len(space) else
               f"Predictor `{cfg.predictor}`" + (f" chose `{chosen}`" if chosen else "") + ".")
              + (f" Each route measured with its own BatchNorm statistics (`{', '.join(recipes)}`), "
                 "as `export` ships it." if recipes else ""), "",
              "`vs line`: top-1 above (+) or below (-) the straight line between the two anchors whose "
              "FLOPs bracket the stitch's; a stitch above it is a trade-off no anchor offers"
              + _error_note(line, images), "",
              ] + line_table(space, rows, line, images)
    for name, table in tables.items():
        v = table.validation or {}
        lines += ["", f"## Latency table `{name}`", ""]
        lines += [f"- {line}" for line in table.summary()]
        plot = validation_plot_path(table)
        if plot is not None and plot.is_file():
            lines.append(f"- validation plot (table against timed end to end): `{plot}`")
        if warnings.get(name):
            lines += ["", f"**Warning:** {warnings[name]}"]
        if v.get("candidates"):
            how = "plain sum" if composes_plain_sum(v) else "leave-one-out"
            lines += ["", f"| id | route | measured ms | composed ms ({how}) | error % |",
                      "|---:|---|---:|---:|---:|"]
            for r in sorted(v["candidates"], key=lambda r: r["measured_ms"]):
                pred = out_of_sample_ms(v, r)
                lines.append(f"| {r['id']} | {space.describe(space.candidate(r['id']).route)} | "
                             f"{r['measured_ms']:.3f} | {pred:.3f} | "
                             f"{100 * (pred - r['measured_ms']) / r['measured_ms']:+.1f} |")
    for r in results:
        f = r.front
        budgets = {k: v for k, v in f.target_budgets.items() if v is not None}
        timed = (front_times or {}).get(r.target)
        lines += ["", f"## Target `{r.target}`: {len(f.members)} on the front", "",
                  f"Objectives {', '.join(f.objectives)}; budgets "
                  f"{format_budgets(budgets) if budgets else 'none'}; "
                  f"{r.n_trials_done} trials, {r.distinct_candidates} distinct candidates"
                  + (f" ({f.coverage})" if f.coverage else "") + "; "
                  f"`{r.path}` (+ .csv, .png).", "",
                  "| id | route | top-1 % | source | MFLOPs | latency ms |" + (" measured ms |" if timed else ""),
                  "|---:|---|---:|---|---:|---:|" + ("---:|" if timed else "")]
        for m in f.members:
            lat = f"{m.latency_ms:.2f}" if m.latency_ms is not None else "-"
            lines.append(f"| {m.id} | {space.describe(m.route)} | {m.acc1:.2f} | {m.acc1_source} | "
                         f"{m.flops / 1e6:.2f} | {lat} |" + (f" {timed[m.id]:.2f} |" if timed else ""))
        if timed:
            tol = order_tolerance(tables.get(r.target), f)
            lines += ["", order_line(f.members, timed, bool(warnings.get(r.target)), tol)]
        lines += [line for note in r.notes for line in ("", f"Note: {note}")]
    where = ""  # where query finds the fronts when --out put them elsewhere
    if root is not None and Path(root).resolve() != default_results_dir().resolve():
        where = f" --results {shlex.quote(str(root))}"
    lines += ["", f"Query: `stitchnas query {space.given_as}{where} --target {results[0].target} --list`, or "
              "the best stitch within a budget with `--max-latency-ms MS` / `--max-flops N`.", ""]
    return "\n".join(lines)
