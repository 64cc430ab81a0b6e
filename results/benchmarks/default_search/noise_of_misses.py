"""How many of the true-front members the default search misses lead the best stitch at most as
costly by less than two standard errors of the difference: a miss within that is one no rule
reading the measurements could be sure of.

Reads the committed `bench search --choose suggest` reports (this folder, structure alone;
`../proxies/with/`, with proxy scores; and the Swin table's two, `../swin/without/` and
`../swin/with/`) and their measurement tables. The error is paired over the
same images where both rows carry per-image outcomes (`top1_hits`:
`stitchnas.measure.difference_stderr`); otherwise it is each row's binomial error taken as
independent, on the images the row's label names or, for `fashion_mnist:val`, Fashion-MNIST's
10,000 test images. The independent error overstates the paired one (it was 0.17 to 0.64 of it
on the tables that carry both), so those counts are upper bounds.

    python results/benchmarks/default_search/noise_of_misses.py   # writes noise_of_misses.json
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from stitchnas.measure import difference_stderr, read_measurements, top1_stderr

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
FULL_SET = {"fashion_mnist:val": 10_000}


def stderr(a, b) -> tuple[float, bool]:
    got = difference_stderr(a, b)
    if got is not None:
        return got
    n = FULL_SET[a.dataset]
    return math.hypot(top1_stderr(a.acc1, n), top1_stderr(b.acc1, n)), False


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
    rows = {m.id: m for m in read_measurements(path, space)}
    if any(m.dataset not in FULL_SET and difference_stderr(m, m) is None for m in rows.values()):
        print(f"{report.name}: skipped, no image count for its rows (published)")
        return None
    misses, within, paired = 0, 0, 0
    for seed in d["ceiling"]["per_seed"]:
        for i in set(d["true_front_ids"]) - set(seed["predicted_front_ids"]):
            m = rows[i]
            cheaper = [r for r in rows.values() if r.id != i and r.flops <= m.flops]
            if not cheaper:
                continue
            best = max(cheaper, key=lambda r: r.acc1)
            se, was_paired = stderr(m, best)
            misses += 1
            within += (m.acc1 - best.acc1) < 2 * se
            paired += was_paired
    return {"report": str(report.relative_to(REPO)), "space": d["space"], "seeds": len(d["ceiling"]["per_seed"]),
            "hv_ratio": d["default_search"]["hv_ratio_nadir_mean"], "misses": misses,
            "within_2se": within, "paired": paired}


def main() -> None:
    reports = sorted(HERE.glob("search_*_suggest.json")) + sorted((HERE.parent / "proxies" / "with").glob(
        "search_*_suggest.json")) + sorted((HERE.parent / "swin").glob("*/search_*_suggest.json"))
    out = [t for t in map(table, reports) if t is not None]
    for t in out:
        print(f"{t['report']}: hv {t['hv_ratio']:.4f}; {t['misses']} misses over {t['seeds']} seeds, "
              f"{t['within_2se']} within two standard errors ({t['paired']} paired)")
    (HERE / "noise_of_misses.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
