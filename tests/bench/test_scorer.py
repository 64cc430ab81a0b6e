"""The benchmark scorer's margins (how far a true front member's top-1 could fall before a stitch
at most as costly beat it), and the rival stitch each is taken against, equal the plain scan over
every other feasible stitch, ties in cost and in top-1 included: one sort, not a scan per member,
so fronts of 10^5 score in seconds."""

import numpy as np
import pytest

from stitchnas.bench._search import _margins


@pytest.mark.parametrize("seed", range(20))
def test_margins_equal_the_plain_scan(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    acc = np.round(rng.normal(70, 3, n), 1)       # rounded: ties in top-1
    cost = rng.integers(1, 8, n).astype(float)    # few values: ties in cost
    feasible = np.flatnonzero(rng.random(n) < 0.8)
    if len(feasible) == 0:
        feasible = np.array([0])
    members = list(rng.choice(feasible, size=min(len(feasible), 6), replace=False))
    want = [float(acc[i] - max((acc[j] for j in feasible if j != i and cost[j] <= cost[i]), default=-np.inf))
            for i in members]
    margins, rivals = _margins(acc, cost, feasible, members)
    assert margins == pytest.approx(want)
    for i, m, r in zip(members, margins, rivals):  # the rival is a stitch that gives that margin
        if r is None:
            assert m == np.inf
        else:
            assert r != i and r in feasible and cost[r] <= cost[i] and acc[i] - acc[r] == pytest.approx(m)
