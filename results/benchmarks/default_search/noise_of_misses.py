"""How many of the true-front members the default search misses lead the best stitch at most as
costly by less than two standard errors of the difference: a miss within that is one no rule
reading the measurements could be sure of.

Counts them again, with `bench search`'s own rule (`stitchnas.bench.recount_misses`: what the
bench prints and stores as `default_search.misses` since 2026-12-07), for the committed
`bench search --choose suggest` reports written before it did: this folder (structure alone),
`../proxies/with/` (with proxy scores) and the Swin table's two, `../swin/without/` and
`../swin/with/`. The error is paired over the same images where both rows carry per-image
outcomes (`top1_hits`); otherwise each row's binomial error taken as independent (on the images
its label names, or Fashion-MNIST's 10,000 test images for `fashion_mnist:val`), which overstates
the paired one (0.17 to 0.64 of it on the tables that carry both), so those counts are upper
bounds. A missed cheapest stitch has no rival and counts as not noise.

    python results/benchmarks/default_search/noise_of_misses.py   # writes noise_of_misses.json
"""

from __future__ import annotations

import json
from pathlib import Path

from stitchnas.bench import miss_line, recount_misses

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def table_path(recorded: str) -> Path | None:
    """The report's measurements file in this checkout (reports record the path they were run with)."""
    if "results/" in recorded:
        path = REPO / ("results/" + recorded.split("results/", 1)[1])
        if path.is_file():
            return path
    return Path(recorded) if Path(recorded).is_file() else None


def table(report: Path) -> dict | None:
    d = json.loads(report.read_text())
    path = table_path(d["measurements"])
    if path is None:  # e.g. the imported SN-Net table, kept outside the repository
        print(f"{report.name}: skipped, {d['measurements']} is not here")
        return None
    space = next(iter(REPO.glob(f"results/benchmarks/*/{d['space']}.yaml")), d["space"])  # not bundled
    counts = recount_misses(d, space, path)["misses"]
    return {"report": str(report.relative_to(REPO)), "space": d["space"], "seeds": len(d["seeds"]),
            "hv_ratio": d["default_search"]["hv_ratio_nadir_mean"], **counts,
            "line": miss_line(counts, len(d["seeds"]))}


def main() -> None:
    reports = sorted(HERE.glob("search_*_suggest.json")) + sorted((HERE.parent / "proxies" / "with").glob(
        "search_*_suggest.json")) + sorted((HERE.parent / "swin").glob("*/search_*_suggest.json"))
    out = [t for t in map(table, reports) if t is not None]
    for t in out:
        print(f"{t['report']}: hv {t['hv_ratio']:.4f}; {t['line']}")
    (HERE / "noise_of_misses.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
