"""The route model's Kendall tau as more of a table is measured (10 random splits at each share),
and fitted on every row and scored on the same rows (what its features can represent at all).

    python results/benchmarks/ceiling/learning_curve.py      # from the repository root
"""
import numpy as np
from scipy.stats import kendalltau

from stitchnas.measure import read_measurements
from stitchnas.predict import create_predictor, make_stitches, split
from stitchnas.space import load_space

TABLES = ("fmnist_vit_sl_v2_12x24", "fmnist_vit_2way", "fmnist_resnet_2way")

for name in TABLES:
    space = load_space(name)
    rows = read_measurements(f"results/{name}/measurements.jsonl", space)
    y = np.array([m.acc1 for m in rows])
    cands = [space.candidate(m.id) for m in rows]
    every = make_stitches(space, rows, candidates=cands)
    fitted = create_predictor("route").fit(every, y).predict(every)
    line = [f"{name}: in-sample all rows {kendalltau(fitted, y)[0]:.3f}"]
    for share in (0.2, 0.4, 0.6):
        taus = []
        for r in range(10):
            tr, te = split(len(rows), int(round(share * len(rows))), r)
            stitches = make_stitches(space, [rows[i] for i in tr], candidates=cands)
            model = create_predictor("route", random_state=r).fit([stitches[i] for i in tr], y[tr])
            taus.append(kendalltau(model.predict([stitches[i] for i in te]), y[te])[0])
        line.append(f"{share:.0%}: {np.mean(taus):.3f}")
    print("  ".join(line), flush=True)
