"""What the FLOPs baseline's ties are worth under Kendall's tau-b, the statistic every predictor
figure uses: the baseline predicts one top-1 for routes of equal FLOPs (and for the routes on one
flat step of its isotonic fit), and tau-b counts such a tied pair neither for nor against it. Per
table (20% measured at random, 20 splits, as `predictor-cv`): FLOPs' tau, FLOPs' tau with its ties
broken by the route model's prediction, and how often the route model orders the tied pairs (of
unequal top-1) right: all of them, and those of equal FLOPs.

    python results/benchmarks/long_training/ties.py     # from the repository root; about 8 s

writes ties.json beside it.
"""
import json
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from stitchnas.measure import read_measurements
from stitchnas.predict import FlopsBaseline, RoutePredictor, make_stitches, split
from stitchnas.space import load_space

HERE = Path(__file__).resolve().parent
TABLES = ["fmnist_vit_sl_v2", "fmnist_vit_sl_v2_long", "fmnist_vit_3depth", "fmnist_vit_2way",
          "fmnist_vit_sl_v2_12x24", "fmnist_vit_sl_v2_12x24_long"]  # the ViT tables: some routes share FLOPs


def main() -> None:
    out = {}
    for name in TABLES:
        space = load_space(name)
        rows = list(read_measurements(f"results/{name}/measurements.jsonl", space))
        cands, y = [space.candidate(m.id) for m in rows], np.array([m.acc1 for m in rows])
        flops, broken, tied, equal = [], [], [0, 0], [0, 0]  # [right, wrong]
        for seed in range(20):
            tr, te = split(len(rows), int(round(0.2 * len(rows))), seed)
            st = make_stitches(space, [rows[i] for i in tr], candidates=cands)
            xtr, xte = [st[i] for i in tr], [st[i] for i in te]
            f = FlopsBaseline().fit(xtr, y[tr]).predict(xte)
            route = RoutePredictor(random_state=seed).fit(xtr, y[tr]).predict(xte)
            flops.append(kendalltau(f, y[te]).statistic)
            broken.append(kendalltau(f + 1e-6 * route, y[te]).statistic)  # below any gap between FLOPs levels
            fl, yt = np.array([s.flops for s in xte]), y[te]
            for i in range(len(te)):
                for j in range(i + 1, len(te)):
                    if f[i] == f[j] and yt[i] != yt[j]:
                        wrong = int((route[i] - route[j]) * (yt[i] - yt[j]) <= 0)
                        tied[wrong] += 1
                        if fl[i] == fl[j]:
                            equal[wrong] += 1
        out[name] = {"flops_tau": round(float(np.mean(flops)), 3),
                     "flops_tau_ties_broken_by_route": round(float(np.mean(broken)), 3),
                     "tied_pairs_right": tied[0], "tied_pairs_wrong": tied[1],
                     "equal_flops_pairs_right": equal[0], "equal_flops_pairs_wrong": equal[1]}
        print(name, out[name], flush=True)
    tmp = HERE / "ties.json.tmp"
    tmp.write_text(json.dumps({"command": "python results/benchmarks/long_training/ties.py", "tables": out},
                              indent=1) + "\n")
    tmp.replace(HERE / "ties.json")


if __name__ == "__main__":
    main()
