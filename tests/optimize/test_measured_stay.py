"""A prediction never pushes a measured stitch off the front: a predictor that claims 100% for
every unmeasured stitch adds the cheapest of them to the front, but every measured stitch that no
measured stitch beats stays, in the search, in the saved file, and through ``query``."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from support.tiny import ACC, MEASURED, costs, row, space  # noqa: F401 - fixtures

from stitchnas.costs import load_target, target_costs
from stitchnas.fronts import load_front
from stitchnas.measure import write_measurements
from stitchnas.optimize import SearchConfig, search
from stitchnas.pareto import pareto_mask


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


class Optimistic(RegressorMixin, BaseEstimator):
    """Its fitted rows' own top-1, and 100% for every stitch it was not fitted on."""

    def fit(self, X, y):
        self.fitted_ = {s.id: float(v) for s, v in zip(X, y)}
        return self

    def predict(self, X):
        return np.array([self.fitted_.get(s.id, 100.0) for s in X])


def test_optimistic_predictions_keep_the_measured_front(space, costs, tmp_path):
    m = tmp_path / "m.jsonl"
    write_measurements(m, [row(space, costs, i) for i in MEASURED])
    r = search(space, "flops_budget", SearchConfig(measurements=m, predictor=Optimistic()))
    members = {p.id: p for p in r.front}
    feasible = {c.id: c.feasible for c in target_costs(space, load_target("flops_budget"), memory=False)}
    measured = sorted(i for i in MEASURED if feasible[i])
    mask = pareto_mask([ACC[i] for i in measured], [costs[i].flops for i in measured])
    measured_front = {i for i, keep in zip(measured, mask) if keep}
    assert measured_front and measured_front <= set(members)
    predicted = {i for i, p in members.items() if p.acc1_source == "predicted"}
    assert predicted, "the optimistic prediction should add a stitch"
    cheapest = min((i for i in costs if i not in MEASURED and feasible[i]), key=lambda i: costs[i].flops)
    assert cheapest in predicted and all(members[i].acc1 == 100.0 for i in predicted)
    # the file holds the same members and loads (its check allows a measured member that only a
    # prediction beats)
    assert {p.id for p in load_front(space, "flops_budget")} == set(members)
    # with every stitch measured the front is the plain Pareto set
    full = tmp_path / "full.jsonl"
    write_measurements(full, [row(space, costs, i) for i in sorted(ACC)])
    r2 = search(space, "flops_budget", SearchConfig(measurements=full, storage="memory", save=False))
    ok = [i for i in sorted(ACC) if feasible[i]]
    mask = pareto_mask([ACC[i] for i in ok], [costs[i].flops for i in ok])
    assert sorted(p.id for p in r2.front) == [i for i, k in zip(ok, mask) if k]
