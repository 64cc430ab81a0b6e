"""How far measurement noise limits a predictor's Kendall tau on a measured table.

One stitched checkpoint, every candidate measured twice: on the 5,000-image subset the run
measures on (A: `stitchnas evaluate SPACE --checkpoint C --all --val-subset 5000`) and on all
10,000 test images (`... --all`); B, the other 5,000, follows by difference (top-1 on all
images is the mean of the two halves). For 20 random splits (20% of the rows fitted, as
`stitchnas predictor-cv` splits), the default predictor and the FLOPs baseline are fitted on A
and scored against A, B and all 10,000 on the other rows; "A_vs_B" is how well one half's
measurement ranks the other's on the same rows: a measurement-noise ceiling for the table.

    python results/benchmarks/ceiling/ceiling.py SPACE HALF.jsonl FULL.jsonl
"""
import json
import sys

import numpy as np
from scipy.stats import kendalltau

from stitchnas.measure import read_measurements
from stitchnas.predict import create_predictor, make_stitches, ranking_scores, split
from stitchnas.space import load_space

space = load_space(sys.argv[1])
half, full = read_measurements(sys.argv[2], space), read_measurements(sys.argv[3], space)
on_all = {m.id: m.acc1 for m in full}
rows = sorted(half, key=lambda m: m.id)
a = np.array([m.acc1 for m in rows])
f = np.array([on_all[m.id] for m in rows])
b = 2 * f - a
print(f"{len(rows)} stitches; B - A: mean {np.mean(b - a):+.3f}, sd {np.std(b - a):.3f} points; "
      f"tau(A, B) over every row {kendalltau(a, b)[0]:.3f}")
cands = [space.candidate(m.id) for m in rows]
n, k = len(rows), int(round(0.2 * len(rows)))
scores: dict[str, list[float]] = {}
for r in range(20):
    tr, te = split(n, k, r)
    stitches = make_stitches(space, [rows[i] for i in tr], candidates=cands)
    xtr, xte = [stitches[i] for i in tr], [stitches[i] for i in te]
    for name in ("auto", "flops"):
        pred = create_predictor(name, random_state=r).fit(xtr, a[tr]).predict(xte)
        for label, truth in (("A", a), ("B", b), ("all", f)):
            scores.setdefault(f"{name}_vs_{label}", []).append(ranking_scores(pred, truth[te])["kendall_tau"])
    scores.setdefault("A_vs_B", []).append(ranking_scores(a[te], b[te])["kendall_tau"])
print(json.dumps({key: round(float(np.mean(v)), 3) for key, v in scores.items()}))
