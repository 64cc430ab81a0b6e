"""Two ways to let a table's few measured rows lean on FLOPs only where FLOPs rank well, both
scored as `predictor-cv` scores (20% measured at random, Kendall tau on the rest, 20 splits):

1. A gate: the route model's `shrink` raised by S pseudo-rows when the measured rows' own FLOPs
   order (Kendall tau of log-FLOPs and top-1 over them) is at least t0; (t0, S) chosen
   leave-one-space-out on the other spaces' two-way tables (largest mean tau margin over FLOPs).
2. A ridge line on the route features with the intercept and log-FLOPs unpenalised and one fixed
   penalty A on the rest (instead of RidgeCV choosing it on the table's own few rows), alone and
   in place of the route model's ridge line.

    python results/benchmarks/transfer_probes/probes.py     # from the repository root; 25 s
    python results/benchmarks/transfer_probes/probes.py --with-long   # + the two tables trained longer
writes results/benchmarks/transfer_probes/probes.json (probes_long.json with --with-long: the
tables of ../long_training/, measured later, among the spaces held out and choosing). The SN-Net v1 table is read from
../shared/data (skipped where absent).
"""
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau
from sklearn.preprocessing import StandardScaler

from stitchnas.measure import import_snnet, read_measurements
from stitchnas.predict import FlopsBaseline, RouteFeaturizer, RoutePredictor, make_stitches, split
from stitchnas.space import load_space

R = "results/"
TABLES = [
    ("fmnist_vit_2way", R + "fmnist_vit_2way/measurements.jsonl"),
    ("fmnist_vit_2way", R + "fmnist_vit_2way/measurements_uniform.jsonl"),
    ("fmnist_resnet", R + "fmnist_resnet/measurements.jsonl"),
    ("fmnist_resnet", R + "fmnist_resnet/measurements_uniform.jsonl"),
    ("fmnist_vit_sl_v2", R + "fmnist_vit_sl_v2/measurements.jsonl"),
    ("fmnist_vit_3depth", R + "fmnist_vit_3depth/measurements.jsonl"),
    ("fmnist_resnet_2way", R + "fmnist_resnet_2way/measurements.jsonl"),
    ("fmnist_vit_sl_v2_12x24", R + "fmnist_vit_sl_v2_12x24/measurements.jsonl"),
    ("fmnist_vit_sl_v2", R + "benchmarks/proxies/fmnist_vit_sl_v2.measurements.jsonl"),
    ("fmnist_vit_3depth", R + "benchmarks/proxies/fmnist_vit_3depth.measurements.jsonl"),
    ("fmnist_resnet", R + "benchmarks/proxies/fmnist_resnet.measurements.jsonl"),
    ("fmnist_vit_grown", R + "benchmarks/proxies/fmnist_vit_grown.measurements.jsonl"),
    ("fmnist_convnext_2way", R + "benchmarks/lstsq_cut/fmnist_convnext_2way.rcond1e-5.measurements.jsonl"),
]
LONG = [
    ("fmnist_vit_sl_v2_long", R + "fmnist_vit_sl_v2_long/measurements.jsonl"),
    ("fmnist_vit_sl_v2_12x24_long", R + "fmnist_vit_sl_v2_12x24_long/measurements.jsonl"),
]
WITH_LONG = "--with-long" in sys.argv[1:]
GATE_T0 = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 2.0)  # 2.0: never (the default)
GATE_S = (2, 5, 10, 20, 40, 1e9)
PENALTIES = (0.3, 1, 3, 10, 30, 100, 300)


def tau(a, b) -> float:
    return float(np.nan_to_num(kendalltau(a, b).statistic))


def tables():
    snnet = Path("../shared/data/snnet_v1_deit_tsb.jsonl")
    if snnet.is_file():
        space = load_space("deit_tsb_v1")
        yield "deit_tsb_v1:published", space, list(import_snnet(snnet, space).rows)
    for name, path in TABLES + (LONG if WITH_LONG else []):
        space = load_space(name)
        yield f"{name}:{Path(path).name}", space, list(read_measurements(path, space))


def score(space, rows, seeds=range(20)):
    n = len(rows)
    cands = [space.candidate(m.id) for m in rows]
    y = np.array([m.acc1 for m in rows])
    out = {"flops": [], "route": [], "gate": {}, "ridge": {}, "ridge_in_route": {}}
    for r in seeds:
        tr, te = split(n, int(round(0.2 * n)), r)
        st = make_stitches(space, [rows[i] for i in tr], candidates=cands)
        xtr, xte = [st[i] for i in tr], [st[i] for i in te]
        f = FlopsBaseline().fit(xtr, y[tr]).predict(xte)
        model = RoutePredictor(random_state=r).fit(xtr, y[tr])  # shrink 0: blended below
        route = model.predict(xte)
        k = len(tr)
        out["flops"].append(tau(f, y[te]))
        out["route"].append(tau(k / (k + 2) * route + 2 / (k + 2) * f, y[te]))
        own = tau(np.log([s.flops for s in xtr]), y[tr])
        for t0 in GATE_T0:
            for s in GATE_S:
                v = k / (k + 2 + (s if own >= t0 else 0))
                out["gate"].setdefault(f"{t0},{s:g}", []).append(tau(v * route + (1 - v) * f, y[te]))
        fz = RouteFeaturizer().fit(xtr)
        sc = StandardScaler().fit(fz.transform(xtr))
        ztr = np.c_[np.ones(k), np.nan_to_num(sc.transform(fz.transform(xtr)))]
        zte = np.c_[np.ones(len(te)), np.nan_to_num(sc.transform(fz.transform(xte)))]
        trees, _, _ = model._parts(xte, per_tree=False)
        for a in PENALTIES:
            pen = np.eye(ztr.shape[1]) * a
            pen[0, 0] = pen[1, 1] = 0  # intercept and log-FLOPs (RouteFeaturizer's first column)
            line = zte @ np.linalg.solve(ztr.T @ ztr + pen + 1e-9 * np.eye(len(pen)), ztr.T @ y[tr])
            out["ridge"].setdefault(str(a), []).append(tau(line, y[te]))
            mixed = k / (k + 2) * (0.5 * trees + 0.5 * line) + 2 / (k + 2) * f
            out["ridge_in_route"].setdefault(str(a), []).append(tau(mixed, y[te]))
    mean = {key: float(np.mean(v)) if isinstance(v, list)
            else {kk: float(np.mean(vv)) for kk, vv in v.items()} for key, v in out.items()}
    return mean


def main():
    res = {}
    for label, space, rows in tables():
        res[label] = {"space": space.name, "rows": len(rows), **score(space, rows)}
        t = res[label]
        print(f"{label}: FLOPs {t['flops']:.3f}, route {t['route']:.3f}; fixed-penalty ridge "
              + " ".join(f"{a}:{t['ridge'][str(a)]:.3f}" for a in PENALTIES), flush=True)
    two_way = [lb for lb in res if not lb.startswith("deit_tsb_v1")]

    def margin(keys, g):
        return np.mean([res[lb]["gate"][g] - res[lb]["flops"] for lb in keys])
    held = {}
    for space in dict.fromkeys(res[lb]["space"] for lb in res):
        others = [lb for lb in two_way if res[lb]["space"] != space]
        g = max(res[others[0]]["gate"], key=lambda g: (margin(others, g), -float(g.split(",")[0])))
        held[space] = {"gate": g, **{lb: {"tau": res[lb]["gate"][g], "flops": res[lb]["flops"],
                                          "route": res[lb]["route"]}
                                     for lb in res if res[lb]["space"] == space}}
        print(f"held out {space}: gate (t0, S) = ({g}) chosen on the others; "
              + "; ".join(f"{lb} {v['tau']:.3f} (route {v['route']:.3f}, FLOPs {v['flops']:.3f})"
                          for lb, v in held[space].items() if lb != "gate"), flush=True)
    Path("results/benchmarks/transfer_probes", "probes_long.json" if WITH_LONG else "probes.json").write_text(
        json.dumps({"tables": res, "gate_held_out": held}, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
