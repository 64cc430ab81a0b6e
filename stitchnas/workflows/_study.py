"""The SN-Net study on one space: what initialisation, training and route sampling do.

``snnet_study`` trains the anchors if they are missing, then measures every stitch with random
stitching layers, with least-squares ones, after FLOPs-aware training and after uniform
training of the same budget. It writes the measured table (the FLOPs-aware run), a markdown
table, a plot of the measured front and a JSON report with each step's time and each
comparison's difference of mean stitch top-1 with its standard error, paired over the images.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import torch

from ..fileio import write_json, write_text
from ..measure import (AnchorTrainConfig, DataSpec, Measurement, StitchTrainConfig, load_datasets,
                       make_loader, measure, train_anchors, train_stitched,
                       write_measurements)
from ..network import load_network
from ..pareto import front_indices, hypervolume
from ..paths import MEASUREMENTS, space_dir
from ..plots import plot_tradeoff
from ..space import SearchSpace

__all__ = ["snnet_study", "front_stats", "refuse_to_replace_tables"]

#: the table of the uniform-sampling run, beside the FLOPs-aware one (``measurements.jsonl``)
UNIFORM = "measurements_uniform.jsonl"


def front_stats(rows: list[Measurement], ref_acc: float) -> dict[str, Any]:
    """Front size, hypervolume (GFLOPs x accuracy points) and the spread of accuracy at equal FLOPs."""
    acc = [r.acc1 for r in rows]
    gflops = [r.flops / 1e9 for r in rows]
    front = front_indices(acc, gflops)
    by_flops: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        by_flops[r.flops].append(r.acc1)
    spreads = [max(v) - min(v) for v in by_flops.values() if len(v) > 1]
    anchors = [r for r in rows if len(r.route) == 1]
    lo, hi = min(a.flops for a in anchors), max(a.flops for a in anchors)
    return {
        "candidates": len(rows),
        "front_size": len(front),
        "front_stitches": sum(len(rows[i].route) > 1 for i in front),
        "front_ids": [rows[i].id for i in front],
        "hypervolume": hypervolume(acc, gflops, ref_acc=ref_acc, ref_cost=max(gflops)),
        "stitches_between_anchor_flops": sum(lo < r.flops < hi for r in rows if len(r.route) > 1),
        "equal_flops_groups": len(spreads),
        "equal_flops_spread_max": max(spreads, default=0.0),
        "equal_flops_spread_median": statistics.median(spreads) if spreads else 0.0,
        "mean_stitch_acc1": statistics.mean(r.acc1 for r in rows if len(r.route) > 1),
    }


#: the study's questions, each a difference of mean stitch top-1 between two of its variants
COMPARISONS = (("least_squares", "random_init"), ("trained_flops", "least_squares"),
               ("trained_flops", "trained_uniform"))


def mean_stitch_difference(a: list[Measurement], b: list[Measurement]) -> dict[str, Any] | None:
    """Mean stitch top-1 of ``a`` minus ``b`` (the same stitches, measured on the same images) and
    its standard error, paired over the images: per image, the share of stitches right in ``a``
    minus that in ``b``. It measures how sure the difference is on these images, not how another
    training seed would move it. None where the rows carry no per-image outcomes (or of one image)."""
    import math

    import numpy as np

    from ..measure import top1_outcomes

    by_id = {r.id: r for r in b}
    pairs = [(r, by_id[r.id]) for r in a if len(r.route) > 1 and r.id in by_id]
    outcomes = [(top1_outcomes(x), top1_outcomes(y)) for x, y in pairs]
    if not pairs or any(x is None or y is None or x.size != y.size or x.size < 2 for x, y in outcomes):
        return None
    per_image = np.mean([x - y for x, y in outcomes], axis=0)
    n = per_image.size
    diff = 100.0 * float(per_image.mean())
    err = 100.0 * float(per_image.std(ddof=1)) / math.sqrt(n)
    return {"difference": round(diff, 4), "stderr": round(err, 4), "stitches": len(pairs), "images": n,
            "within_noise": bool(abs(diff) < 2 * err)}


def snnet_study(space: SearchSpace, data: DataSpec, anchor_cfg: AnchorTrainConfig,
                stitch_cfg: StitchTrainConfig, out_dir: Path | None = None, val_subset: int | None = None,
                device: str = "cpu", log: Callable[[str], None] | None = None,
                force: bool = False) -> dict[str, Any]:
    """Run the study into ``out_dir`` (results/SPACE when None). Its two tables replace the
    measurements files there whole, so existing ones (a user's measured rows, in the file
    ``evaluate`` fills by default) are an error before anything is trained, unless ``force``."""
    from ..progress import get_logger

    out_dir = Path(out_dir or space_dir(space.name))
    if not force:
        refuse_to_replace_tables(space, out_dir)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    if log is None:
        log = get_logger("study").info
    anchors = train_anchors(space, data, anchor_cfg, device=device, only_missing=True, log=log)
    times["train_anchors_s"] = time.perf_counter() - t0

    val_spec = replace(data, input_size=tuple(space.input_size), val_subset=val_subset)
    _, val, num_classes = load_datasets(val_spec)
    loader = make_loader(val, 500, shuffle=False)
    dataset = val_spec.label(len(val))
    ids = [c.id for c in space.candidates]
    from ..measure import route_calibration

    calibration = route_calibration(space, val_spec)

    def run(name: str, net, checkpoint: str) -> list[Measurement]:
        t = time.perf_counter()
        rows = measure(space, net, loader, ids, dataset=dataset, checkpoint=checkpoint, device=device,
                       calibration=calibration)
        times[f"evaluate_{name}_s"] = time.perf_counter() - t
        log(f"{name}: mean stitch top-1 {statistics.mean(r.acc1 for r in rows if len(r.route) > 1):.2f}% "
            f"({len(rows)} candidates, {times[f'evaluate_{name}_s']:.0f} s)")
        return rows

    torch.manual_seed(stitch_cfg.seed)
    random_rows = run("random_init", load_network(space), "random-init")

    ls_path = out_dir / "stitched_ls.pt"
    t = time.perf_counter()
    train_stitched(space, data, replace(stitch_cfg, epochs=0), ls_path, device=device, resume=False, log=log)
    times["least_squares_s"] = time.perf_counter() - t
    ls_rows = run("least_squares", load_network(space, ls_path), str(ls_path))

    trained: dict[str, list[Measurement]] = {}
    for sampling in ("flops", "uniform"):
        path = out_dir / f"stitched_{sampling}.pt"
        t = time.perf_counter()
        res = train_stitched(space, data, replace(stitch_cfg, sampling=sampling), path, device=device,
                             resume=False, log=log)
        times[f"train_{sampling}_s"] = time.perf_counter() - t
        trained[sampling] = run(f"trained_{sampling}", load_network(space, path), str(path))
        steps = res.steps

    from ..measure import anchors_warning, shared_batchnorm_warning

    anchor_warning = anchors_warning(space, trained["flops"], num_classes, len(val))
    for warning in (anchor_warning, shared_batchnorm_warning(space, trained["flops"])):
        if warning:
            get_logger("study").warning(warning)
    _replace_table(out_dir / MEASUREMENTS, trained["flops"])
    _replace_table(out_dir / UNIFORM, trained["uniform"])

    ref_acc = 100.0 / num_classes  # chance: a fixed reference for every front of this study
    variants = {"random_init": random_rows, "least_squares": ls_rows, "trained_flops": trained["flops"],
                "trained_uniform": trained["uniform"]}
    stats = {name: front_stats(rows, ref_acc) for name, rows in variants.items()}
    comparisons = {f"{a}_vs_{b}": mean_stitch_difference(variants[a], variants[b]) for a, b in COMPARISONS}
    rows, uniform = trained["flops"], trained["uniform"]
    uniform_front = front_indices([r.acc1 for r in uniform], [r.flops for r in uniform])
    plot_tradeoff(
        out_dir / "measured_front.png", [r.flops / 1e6 for r in rows], [r.acc1 for r in rows],
        [len(r.route) == 1 for r in rows], [space.describe(r.route) for r in rows],
        xlabel="MFLOPs (fvcore, batch 1)",
        title=f"{space.name}: every candidate measured on {dataset} (FLOPs-aware training)",
        series={"front, uniform sampling": ([uniform[i].flops / 1e6 for i in uniform_front],
                                            [uniform[i].acc1 for i in uniform_front])},
    )
    report = {
        "space": space.name, "space_hash": space.content_hash, "dataset": dataset,
        "anchors": {a.name: round(a.acc1, 2) for a in anchors} or "already trained",
        "anchor_acc1": {space.anchors[r.route.first_anchor].name: round(r.acc1, 2)
                        for r in rows if len(r.route) == 1},
        "anchor_config": anchor_cfg.__dict__, "stitch_config": stitch_cfg.__dict__,
        "steps_per_training_run": steps,
        "hypervolume_reference": {"acc1": ref_acc, "gflops": max(r.flops for r in rows) / 1e9},
        "stats": stats, "mean_stitch_acc1_differences": comparisons,
        "times_s": {k: round(v, 1) for k, v in times.items()},
        "anchor_warning": anchor_warning,
    }
    write_json(out_dir / "snnet_study.json", report)
    write_text(out_dir / "measurements.md", _markdown(space, rows, stats["trained_flops"]))
    return report


def refuse_to_replace_tables(space: SearchSpace, out_dir: Path, force: str = "force=True",
                             out: str = "out_dir=DIR") -> None:
    """An error when the study's tables would replace measurements files in ``out_dir``;
    ``force``/``out``: how the caller spells the two ways on."""
    from ..errors import StitchnasError

    held = [p for p in (out_dir / MEASUREMENTS, out_dir / UNIFORM) if p.exists()]
    if held:
        raise StitchnasError(
            f"the study of {space.given_as} writes its own full tables and would replace "
            f"{' and '.join(str(p) for p in held)}: pass {force} to replace them, or {out} to write "
            "the study elsewhere")


def _replace_table(path: Path, rows: list[Measurement]) -> None:
    """Replace a measurements file whole (not merged): the old one stays until the new is complete."""
    write_measurements(path, rows, conflicts="overwrite")


def _markdown(space: SearchSpace, rows: list[Measurement], stats: dict[str, Any]) -> str:
    front = set(stats["front_ids"])
    lines = [f"# {space.name}: measured stitches\n",
             f"{len(rows)} candidates, {stats['front_size']} on the measured Pareto front (*).\n",
             "| id | route | MFLOPs | params | top-1 % | top-5 % | front |",
             "|---:|---|---:|---:|---:|---:|:-:|"]
    for r in sorted(rows, key=lambda r: r.flops):
        acc5 = f"{r.acc5:.2f}" if r.acc5 is not None else "-"
        lines.append(f"| {r.id} | {space.describe(r.route)} | {r.flops / 1e6:.2f} | {r.params:,} | "
                     f"{r.acc1:.2f} | {acc5} | {'*' if r.id in front else ''} |")
    return "\n".join(lines) + "\n"
