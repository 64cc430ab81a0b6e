"""Weighting the route model against FLOPs by Bayesian evidence, scored as `predictor-cv` scores
(20% measured at random, Kendall tau on the rest, 20 splits).

Two Bayesian ridge lines (scikit-learn's BayesianRidge, its own noise and weight precisions) are
fitted to the measured rows: one on relative log-FLOPs alone, one on all of `RouteFeaturizer`'s
columns. Their log marginal likelihoods give the posterior probability p of the richer model
(equal priors), so that few or noisy rows should lean on FLOPs by Occam's razor rather than by a
threshold tuned on some tables. Scored: p times the default route model (with its `shrink`) plus
(1 - p) times the FLOPs baseline (`mix_route`), and the same mix of the two Bayesian lines
(`mix_lines`); `p` is the mean probability over splits.

    python results/benchmarks/transfer_probes/evidence.py     # from the repository root; 16 s
writes results/benchmarks/transfer_probes/evidence.json.
"""
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import BayesianRidge
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from probes import tables, tau  # noqa: E402

from stitchnas.predict import FlopsBaseline, RouteFeaturizer, RoutePredictor, make_stitches, split  # noqa: E402

SHRINK = 2  # the route model's default pseudo-rows of FLOPs


def evidence(X, y):
    model = BayesianRidge(compute_score=True).fit(X, y)
    return float(model.scores_[-1]), model


def score(space, rows, seeds=range(20)):
    n = len(rows)
    cands = [space.candidate(m.id) for m in rows]
    y = np.array([m.acc1 for m in rows])
    out = {k: [] for k in ("flops", "route", "mix_route", "mix_lines", "p")}
    for r in seeds:
        tr, te = split(n, int(round(0.2 * n)), r)
        st = make_stitches(space, [rows[i] for i in tr], candidates=cands)
        xtr, xte = [st[i] for i in tr], [st[i] for i in te]
        k = len(tr)
        f = FlopsBaseline().fit(xtr, y[tr]).predict(xte)
        route = k / (k + SHRINK) * RoutePredictor(random_state=r).fit(xtr, y[tr]).predict(xte) \
            + SHRINK / (k + SHRINK) * f
        fz = RouteFeaturizer().fit(xtr)
        sc = StandardScaler().fit(fz.transform(xtr))
        ztr = np.nan_to_num(sc.transform(fz.transform(xtr)))
        zte = np.nan_to_num(sc.transform(fz.transform(xte)))
        l0, m0 = evidence(ztr[:, :1], y[tr])  # RouteFeaturizer's first column: relative log-FLOPs
        l1, m1 = evidence(ztr, y[tr])
        p = 1 / (1 + np.exp(np.clip(l0 - l1, -50, 50)))
        out["flops"].append(tau(f, y[te]))
        out["route"].append(tau(route, y[te]))
        out["mix_route"].append(tau(p * route + (1 - p) * f, y[te]))
        out["mix_lines"].append(tau(p * m1.predict(zte) + (1 - p) * m0.predict(zte[:, :1]), y[te]))
        out["p"].append(float(p))
    return {key: float(np.mean(v)) for key, v in out.items()}


def main():
    res = {}
    for label, space, rows in tables():
        res[label] = {"space": space.name, "rows": len(rows), **score(space, rows)}
        print(f"{label}: " + ", ".join(f"{k} {v:.3f}" for k, v in res[label].items()
                                       if isinstance(v, float)), flush=True)
    Path("results/benchmarks/transfer_probes/evidence.json").write_text(
        json.dumps({"tables": res}, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
