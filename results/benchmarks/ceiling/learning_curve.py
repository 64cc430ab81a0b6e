"""The route model's Kendall tau as more of a table is measured (10 random splits each), and
fitted on every row and scored on the same rows (what its features can represent at all).

    python results/benchmarks/ceiling/learning_curve.py
"""
import numpy as np
from scipy.stats import kendalltau
from stitchnas.space import load_space
from stitchnas.measure import read_measurements
from stitchnas.predict import make_stitches, create_predictor, split
R="results"
for name, path in [("fmnist_vit_sl_v2_12x24", f"{R}/fmnist_vit_sl_v2_12x24/measurements.jsonl"), ("fmnist_vit_2way", f"{R}/fmnist_vit_2way/measurements.jsonl"), ("fmnist_resnet_2way", f"{R}/fmnist_resnet_2way/measurements.jsonl")]:
    sp=load_space(name); rows=read_measurements(path, sp); y=np.array([m.acc1 for m in rows])
    cands=[sp.candidate(m.id) for m in rows]
    st=make_stitches(sp, rows, candidates=cands)
    p=create_predictor("route").fit(st,y).predict(st)
    out=[f"{name}: in-sample all rows {kendalltau(p,y)[0]:.3f}"]
    for frac in (0.2, 0.4, 0.6):
        taus=[]
        for r in range(10):
            tr,te=split(len(rows), int(round(frac*len(rows))), r)
            st2=make_stitches(sp,[rows[i] for i in tr],candidates=cands)
            m=create_predictor("route", random_state=r).fit([st2[i] for i in tr], y[tr])
            taus.append(kendalltau(m.predict([st2[i] for i in te]), y[te])[0])
        out.append(f"{frac:.0%}: {np.mean(taus):.3f}")
    print("  ".join(out), flush=True)
