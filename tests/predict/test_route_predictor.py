"""The default predictor: relative route features, the route model, and auto's k-fold choice."""

import numpy as np
import pytest
from support import REPO

from stitchnas.measure import read_measurements
from stitchnas.predict import (PREDICTORS, AutoPredictor, FlopsBaseline, RouteFeaturizer,
                               create_predictor, cross_validate, make_stitches)
from stitchnas.predict._predictors import steps_up_only
from stitchnas.space import Route, load_space

FMNIST = REPO / "results" / "fmnist_vit_2way" / "measurements.jsonl"


@pytest.fixture(scope="module")
def fmnist():
    space = load_space("fmnist_vit_2way")
    rows = read_measurements(FMNIST, space)
    return space, rows, make_stitches(space, rows, candidates=[space.candidate(m.id) for m in rows])


def test_route_features_read_shape_and_depth_on_the_family_scale(fmnist):
    _, rows, stitches = fmnist
    feats = RouteFeaturizer().fit(stitches)
    X = feats.transform(stitches)
    col = {n: X[:, i] for i, n in enumerate(feats.get_feature_names_out())}
    by_route = {s.route: i for i, s in enumerate(stitches)}  # anchors: 0 tiny, 1 small, 2 base
    tiny, base = by_route[Route.of([[0, 0, 6]])], by_route[Route.of([[2, 0, 6]])]
    assert (col["flops_rel"][tiny], col["size_mean"][tiny]) == (0.0, 0.0)
    assert (col["flops_rel"][base], col["size_mean"][base]) == (1.0, 1.0)
    # tiny, out to small for one block at mid-depth, and back: a positive excursion of 1/6
    out_back = by_route[Route.of([[0, 0, 3], [1, 3, 4], [0, 4, 6]])]
    assert col["excursion"][out_back] == pytest.approx(1 / 6)
    assert (col["stitches_up"][out_back], col["stitches_down"][out_back]) == (1, 1)
    assert col["first_stitch_depth"][out_back] == pytest.approx(0.5)
    assert col["size_head"][out_back] == 0.0 and 0 < col["size_mean"][out_back] < 0.5
    # a one-way route: the second half runs in the larger anchor
    one_way = by_route[Route.of([[0, 0, 3], [1, 3, 6]])]
    assert col["size_early"][one_way] == 0.0 and col["size_late"][one_way] > 0
    assert col["excursion"][one_way] == 0.0 and col["num_stitches"][one_way] == 1


def test_auto_chooses_by_k_fold_not_leave_one_out(fmnist, monkeypatch):
    """``folds + 1`` fits per candidate, however many rows: no quadratic refits."""
    _, rows, stitches = fmnist
    y = np.array([m.acc1 for m in rows])
    fits = []

    class Counting(FlopsBaseline):
        def fit(self, X, y):
            fits.append(len(y))
            return super().fit(X, y)

    monkeypatch.setitem(PREDICTORS._table, "counting", Counting)
    model = AutoPredictor(candidates=("counting",), folds=5).fit(stitches[:60], y[:60])
    assert len(fits) == 5 + (model.chosen_ == "counting")
    assert sorted(fits[:5]) == [48] * 5
    assert set(model.scores_) == {"flops", "counting"}


def test_auto_keeps_flops_where_every_stitch_steps_up(fmnist):
    """One-way stitching (SN-Net's spaces: every stitch to a larger anchor) keeps the FLOPs
    baseline without scoring, even where a route model would win out of fold on these rows;
    one down stitch among the rows and the choice is scored again."""
    _, rows, stitches = fmnist
    up = [s for s in stitches if steps_up_only([s])]
    down = [s for s in stitches if not steps_up_only([s])]
    assert len(up) >= 12 and down
    # top-1 set by the route's head anchor, not its FLOPs: what a route model ranks and FLOPs cannot
    y = np.array([80.0 + 3.0 * s.route.last_anchor - 1e-9 * s.flops for s in up])
    model = AutoPredictor().fit(up, y)
    assert model.chosen_ == "flops" and model.scores_ == {} and "steps up" in model.reason_
    assert np.array_equal(model.predict(stitches), FlopsBaseline().fit(up, y).predict(stitches))
    mixed = up + down[:4]
    y_mixed = np.array([80.0 + 3.0 * s.route.last_anchor - 1e-9 * s.flops for s in mixed])
    scored = AutoPredictor().fit(mixed, y_mixed)
    assert set(scored.scores_) == {"flops", "route"} and scored.reason_.startswith("5-fold tau: flops")


def test_auto_switches_to_the_route_model_where_flops_do_not_rank(fmnist):
    space, rows, _ = fmnist
    report = cross_validate(space, rows, "auto", repeats=4, progress=False)
    route = cross_validate(space, rows, "route", repeats=4, progress=False)
    assert report.scores.kendall_tau == pytest.approx(route.scores.kendall_tau)
    assert report.scores.kendall_tau > report.baseline.kendall_tau + 0.1


def test_route_model_is_seeded_and_says_how_sure_it_is(fmnist):
    _, rows, stitches = fmnist
    y = np.array([m.acc1 for m in rows])
    a = create_predictor("route", random_state=3).fit(stitches[:20], y[:20])
    b = create_predictor("route", random_state=3).fit(stitches[:20], y[:20])
    mean, std = a.predict(stitches, return_std=True)
    assert np.array_equal(mean, b.predict(stitches))
    assert np.all(std >= 0) and std[20:].max() > 0


def test_shrink_leans_on_flops_with_few_rows_and_on_routes_with_many(fmnist):
    """``shrink=k`` predicts n/(n+k) of the route model and the rest of the FLOPs baseline, std
    included; the registered ``route`` uses the value chosen leave-one-table-out."""
    from stitchnas.predict import RoutePredictor
    from stitchnas.predict._predictors import ROUTE_SHRINK

    _, rows, stitches = fmnist
    y = np.array([m.acc1 for m in rows])
    for n in (6, 40):
        X, t = stitches[:n], y[:n]
        plain = RoutePredictor(random_state=3).fit(X, t).predict(stitches)
        flops = FlopsBaseline().fit(X, t).predict(stitches)
        model = RoutePredictor(shrink=5, random_state=3).fit(X, t)
        w = n / (n + 5)
        assert model.route_weight_ == pytest.approx(w)
        np.testing.assert_allclose(model.predict(stitches), w * plain + (1 - w) * flops)
        mean, std = model.predict(stitches, return_std=True)
        np.testing.assert_allclose(mean, model.predict(stitches))
        assert np.all(np.isfinite(std)) and np.all(std > 0)
        per_tree, offset = model.per_tree(stitches)
        np.testing.assert_allclose(per_tree.mean(axis=0) + offset, mean)
    assert create_predictor("route").shrink == ROUTE_SHRINK > 0
    with pytest.raises(Exception, match="shrink must be"):
        RoutePredictor(shrink=-1).fit(stitches[:10], y[:10])


def test_min_samples_leaf_keeps_one_row_from_owning_a_leaf(fmnist):
    """Fully grown trees (the default) return each row's own top-1 at that row; with leaves of
    at least 2 rows every leaf pools two rows or more, so the rows are no longer reproduced."""
    from stitchnas.predict import RoutePredictor

    _, rows, stitches = fmnist
    y = np.array([m.acc1 for m in rows])
    X, t = stitches[:20], y[:20]
    grown = RoutePredictor(random_state=0).fit(X, t)
    assert grown.trees_.get_params()["min_samples_leaf"] == 1
    trees, _, _ = grown._parts(X, per_tree=True)
    np.testing.assert_allclose(trees, np.broadcast_to(t, trees.shape))
    pooled = RoutePredictor(min_samples_leaf=2, random_state=0).fit(X, t)
    Z = pooled.scaler_.transform(pooled.features_.transform(X))
    for tree in pooled.trees_.estimators_:
        _, rows_per_leaf = np.unique(tree.apply(Z), return_counts=True)
        assert rows_per_leaf.min() >= 2
    trees, _, _ = pooled._parts(X, per_tree=True)
    assert not np.allclose(trees, np.broadcast_to(t, trees.shape))


def test_leave_one_table_out_bench_chooses_on_the_other_spaces(fmnist):
    from stitchnas.bench import bench_predictor_loto

    space, rows, _ = fmnist
    resnet = load_space("fmnist_resnet")
    resnet_rows = read_measurements(REPO / "results" / "fmnist_resnet" / "measurements.jsonl", resnet)
    report = bench_predictor_loto([(space, rows, "vit"), (resnet, resnet_rows, "resnet")],
                                  shrinks=(0.0, 5.0, 40.0), repeats=2, progress=False)
    t = report["tables"]
    assert t["vit"]["two_way"] and t["resnet"]["two_way"]
    for label, other in (("vit", "resnet"), ("resnet", "vit")):
        held = report["held_out"][t[label]["space"]]
        margins = {s: t[other]["tau"][str(s)] - t[other]["flops_tau"] for s in (0.0, 5.0, 40.0)}
        assert held["shrink"] == max(margins, key=margins.get)  # chosen on the other table only
        assert held["tables"][label]["tau"] == t[label]["tau"][str(held["shrink"])]
