"""What kind of table each fully measured table is: how far its top-1 follows FLOPs overall and
within route shapes (routes of one anchor sequence), how far stitches fall below the smaller
anchor and the line between the anchors, and, for a table trained longer than another of the same routes, how the two agree.

Tens of ImageNet epochs, as SN-Net and SN-Netv2 trained, give each route hundreds of stitching
steps or more; the Fashion-MNIST tables
here 2 to 6. `fmnist_vit_sl_v2_long` and `fmnist_vit_sl_v2_12x24_long` are the same spaces as
`fmnist_vit_sl_v2` and `fmnist_vit_sl_v2_12x24` trained 15 and 9 times longer per route, to see
which traits of the short tables come from short training.

    python results/benchmarks/long_training/character.py    # from the repository root; a few s

writes character.json beside it. The SN-Net v1 table comes from ../shared/data (skipped where
absent). Kendall tau throughout; within shapes: over pairs of routes of one anchor sequence.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
from shape_trends import within_shape_tau  # noqa: E402

from stitchnas.measure import import_snnet, read_measurements  # noqa: E402
from stitchnas.predict import make_stitches  # noqa: E402
from stitchnas.space import load_space  # noqa: E402
from stitchnas.workflows import line_gap  # noqa: E402

HERE = Path(__file__).resolve().parent
R = "results/"
TABLES = {  # label -> (space, measurements on the 10,000 test images unless the label says)
    "fmnist_vit_2way": ("fmnist_vit_2way", R + "fmnist_vit_2way/measurements.jsonl"),
    "fmnist_resnet": ("fmnist_resnet", R + "fmnist_resnet/measurements.jsonl"),
    "fmnist_vit_3depth": ("fmnist_vit_3depth", R + "fmnist_vit_3depth/measurements.jsonl"),
    "fmnist_resnet_2way": ("fmnist_resnet_2way", R + "fmnist_resnet_2way/measurements.jsonl"),
    "fmnist_resnet_grown": ("fmnist_resnet_grown", R + "fmnist_resnet_grown/measurements.jsonl"),
    "fmnist_vit_grown (5,000 images)": ("fmnist_vit_grown", R + "benchmarks/proxies/fmnist_vit_grown.measurements.jsonl"),
    "fmnist_convnext_2way (5,000 images)": ("fmnist_convnext_2way",
                                            R + "benchmarks/proxies/fmnist_convnext_2way.measurements.jsonl"),
    "fmnist_vit_sl_v2": ("fmnist_vit_sl_v2", R + "fmnist_vit_sl_v2/measurements.jsonl"),
    "fmnist_vit_sl_v2_long": ("fmnist_vit_sl_v2_long", R + "fmnist_vit_sl_v2_long/measurements.jsonl"),
    "fmnist_vit_sl_v2_12x24": ("fmnist_vit_sl_v2_12x24", R + "fmnist_vit_sl_v2_12x24/measurements.jsonl"),
    "fmnist_vit_sl_v2_12x24_long": ("fmnist_vit_sl_v2_12x24_long",
                                    R + "fmnist_vit_sl_v2_12x24_long/measurements.jsonl"),
}
PAIRS = {"fmnist_vit_sl_v2_long": "fmnist_vit_sl_v2", "fmnist_vit_sl_v2_12x24_long": "fmnist_vit_sl_v2_12x24"}


def tau(a, b) -> float:
    return float(kendalltau(a, b).statistic)


def character(space, rows) -> dict:
    st = make_stitches(space, rows, candidates=[space.candidate(m.id) for m in rows])
    acc = np.array([m.acc1 for m in rows])
    anchors = sorted((m for m in rows if m.route.num_stitches == 0), key=lambda m: m.flops)
    within, pairs = within_shape_tau(st, acc)
    stitched = acc[[m.route.num_stitches > 0 for m in rows]]
    gaps = [g[0] for g in (line_gap(m, anchors) for m in rows) if g is not None]
    return {
        "rows": len(rows), "anchors_acc1": [round(m.acc1, 2) for m in anchors],
        "acc1_range": [round(float(acc.min()), 2), round(float(acc.max()), 2)],
        "flops_tau": round(tau(np.log([m.flops for m in rows]), acc), 3),
        "within_shape_tau": round(within, 3), "within_shape_pairs": pairs,
        "stitches_below_smaller_anchor": f"{int((stitched < anchors[0].acc1).sum())} of {stitched.size}",
        # the run report's `vs line` (above it: +), over the stitches inside the anchors' FLOPs range
        "stitches_mean_vs_line_points": round(float(np.mean(gaps)), 2), "stitches_within_anchors": len(gaps),
    }


def main() -> None:
    out, tables = {}, {}
    snnet = Path("../shared/data/snnet_v1_deit_tsb.jsonl")
    if snnet.is_file():
        space = load_space("deit_tsb_v1")
        out["deit_tsb_v1 (published, ImageNet, one-way)"] = character(space, list(import_snnet(snnet, space).rows))
    for label, (name, path) in TABLES.items():
        if not Path(path).is_file():
            print(f"{label}: no {path}, skipped")
            continue
        space = load_space(name)
        rows = list(read_measurements(path, space))
        tables[label] = {m.id: m.acc1 for m in rows}
        out[label] = character(space, rows)
    for long, short in PAIRS.items():
        if long in tables and short in tables:
            ids = sorted(tables[long])
            out[long]["tau_with_" + short] = round(tau([tables[long][i] for i in ids],
                                                       [tables[short][i] for i in ids]), 3)
    for label, row in out.items():
        print(label, row)
    tmp = HERE / "character.json.tmp"
    tmp.write_text(json.dumps({"command": "python results/benchmarks/long_training/character.py",
                               "tables": out}, indent=1) + "\n")
    tmp.replace(HERE / "character.json")


if __name__ == "__main__":
    main()
