"""Every candidate of a stitched checkpoint measured on all test images (`stitchnas.measure.measure`,
whose rows carry per-image outcomes), then each stitch's gap to the line between its neighbouring
anchors with two standard errors paired over the images (what `stitchnas run`'s report gives) and
taken as independent (what it gave before), side by side.

    python results/benchmarks/growth/paired_line.py SPACE CHECKPOINT      # from the repository root
"""
import dataclasses
import sys

import numpy as np

from stitchnas.measure import TOP1_HITS, load_datasets, make_loader, measure, space_data
from stitchnas.network import load_network
from stitchnas.space import load_space
from stitchnas.workflows import line_gap, line_summary

space = load_space(sys.argv[1])
net = load_network(space, sys.argv[2])
_, val, _ = load_datasets(space_data(space))
rows = measure(space, net, make_loader(val, 500, shuffle=False), [c.id for c in space.candidates],
               dataset="test", checkpoint=sys.argv[2], progress=False)
plain = [dataclasses.replace(m, extra=tuple((k, v) for k, v in m.extra if k != TOP1_HITS)) for m in rows]
n = len(val)
paired, independent = line_summary(rows, n), line_summary(plain, n)
anchors = [m for m in rows if m.route.num_stitches == 0]
print(f"{space.name}: {n} images; anchors "
      + ", ".join(f"{space.describe(m.route)} {m.acc1:.2f}" for m in anchors))
print(f"above the line: {paired['above']} of {paired['within_anchors']}; by two paired standard errors "
      f"{paired['above_by_2se']} (paired for {paired['paired']}), by two independent ones "
      f"{independent['above_by_2se']}")
gaps = sorted(((line_gap(m, anchors, n), line_gap(p, [a for a in plain if a.route.num_stitches == 0], n), m)
               for m, p in zip(rows, plain) if m.route.num_stitches), key=lambda g: -g[0][0])
print(f"paired / independent standard error: median {np.median([g[0][1] / g[1][1] for g in gaps]):.2f}")
for (gap, se, _), (_, ind, _), m in gaps[:5]:
    print(f"  {space.describe(m.route):32s} {gap:+.2f}  paired ± {2 * se:.2f}  independent ± {2 * ind:.2f}")
