import json
import textwrap
import warnings

import numpy as np
import pytest
from support import REPO, SHARED, run_cli
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from stitchnas.errors import StitchnasError
from stitchnas.predict import StitchFeaturizer, make_stitches
from stitchnas.measure import read_measurements
from stitchnas.predict import cross_validate, ranking_scores
from stitchnas.predict import create_predictor, list_predictors, predict_with_std
from stitchnas.space import load_space
from stitchnas.predict import suggest
from stitchnas.testing import check_predictor

FMNIST = REPO / "results" / "fmnist_vit_2way" / "measurements.jsonl"
PUBLISHED = SHARED / "snnet_v1_deit_tsb.jsonl"




@pytest.fixture(scope="module")
def fmnist():
    space = load_space("fmnist_vit_2way")
    return space, read_measurements(FMNIST, space)


@pytest.fixture(scope="module")
def tiny():
    space = load_space("tiny_test")
    stitches = make_stitches(space)
    f = np.log([s.flops for s in stitches])
    acc = 50 + 10 * (f - f.min()) / np.ptp(f) - 3.0 * np.array([s.num_stitches for s in stitches])
    return space, stitches, acc


def test_featurizer_is_relative_and_names_its_columns(tiny):
    space, stitches, _ = tiny
    feats = StitchFeaturizer().fit(stitches)
    X = feats.transform(stitches)
    names = list(feats.get_feature_names_out())
    assert X.shape == (len(stitches), len(names)) and np.all(np.isfinite(X))
    col = {n: X[:, i] for i, n in enumerate(names)}
    anchors = [i for i, s in enumerate(stitches) if s.is_anchor]
    # the smallest anchor sits at 0 and the largest at 1 on the family's FLOPs scale
    assert sorted(col["flops_rel"][anchors]) == pytest.approx([0.0, 1.0])
    two = next(i for i, s in enumerate(stitches) if s.num_stitches == 2)
    assert col["num_stitches"][two] == 2 and col["stitch1_direction"][two] != 0
    with pytest.raises(StitchnasError, match="Stitch records"):
        feats.transform(X)


def test_any_sklearn_regressor_plugs_in_through_the_featuriser(tiny):
    _, stitches, acc = tiny
    model = make_pipeline(StitchFeaturizer(), StandardScaler(), Ridge(alpha=1.0))
    model.fit(stitches[::2], acc[::2])
    pred = model.predict(stitches[1::2])
    assert pred.shape == (len(stitches[1::2]),)
    assert ranking_scores(pred, acc[1::2])["kendall_tau"] > 0.5
    check_predictor(model)  # a plain pipeline passes the conformance check
    mean, std = predict_with_std(model, stitches)
    assert std is None and mean.shape == (len(stitches),)


@pytest.mark.parametrize("name", ["flops", "gp", "extra_trees", "random_forest", "route", "auto"])
def test_builtins_follow_the_protocol(name):
    check_predictor(name)


def test_gp_and_forest_say_how_sure_they_are(tiny):
    _, stitches, acc = tiny
    for name in ("gp", "extra_trees"):
        model = create_predictor(name).fit(stitches[:6], acc[:6])
        mean, std = model.predict(stitches, return_std=True)
        assert np.all(std >= 0) and std[6:].max() > 0


def test_conformance_check_names_what_a_broken_predictor_gets_wrong():
    from sklearn.base import BaseEstimator, RegressorMixin

    class NoSelf(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            self.mean_ = float(np.mean(y))

        def predict(self, X):
            return np.full(len(X) + 1, self.mean_)

    with pytest.raises(AssertionError) as err:
        check_predictor(NoSelf)
    text = str(err.value)
    assert "fit must return self" in text and "one number per stitch" in text

    class Eager(RegressorMixin, BaseEstimator):
        def __init__(self, alpha=1.0):
            self.alpha = alpha
            self.model_ = Ridge(alpha)  # work in __init__: not allowed

        def fit(self, X, y):
            self.model_.fit(np.log([[s.flops] for s in X]), y)
            return self

        def predict(self, X, return_std=False):
            mean = self.model_.predict(np.log([[s.flops] for s in X]))
            return (mean, -np.ones(len(mean))) if return_std else mean

    with pytest.raises(AssertionError) as err:
        check_predictor(Eager)
    assert "__init__ sets fitted-looking attributes" in str(err.value)
    assert "std must be finite and >= 0" in str(err.value)


PLUGIN = textwrap.dedent('''
    import numpy as np
    from sklearn.base import BaseEstimator, RegressorMixin

    class LogFlopsLine(RegressorMixin, BaseEstimator):
        """Least-squares line of accuracy on log-FLOPs."""

        def __init__(self, degree=1):
            self.degree = degree

        def fit(self, X, y):
            self.coef_ = np.polyfit(np.log([s.flops for s in X]), y, self.degree)
            return self

        def predict(self, X):
            return np.polyval(self.coef_, np.log([s.flops for s in X]))
''')


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    (tmp_path / "myplugin.py").write_text(PLUGIN)
    dist = tmp_path / "myplugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[stitchnas.predictors]\nlogline = myplugin:LogFlopsLine\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_custom_predictor_by_dotted_path_and_entry_point(plugin, tiny, fmnist, capsys):
    _, stitches, acc = tiny
    model = create_predictor("myplugin:LogFlopsLine").fit(stitches, acc)
    assert type(model).__name__ == "LogFlopsLine"
    check_predictor("myplugin:LogFlopsLine")
    assert "logline" in list_predictors("log*")
    assert type(create_predictor("logline")).__name__ == "LogFlopsLine"
    code, out, err = run_cli(capsys, "predictor-cv", "fmnist_vit_2way", "--measurements", FMNIST,
                             "--predictor", "myplugin:LogFlopsLine", "--repeats", "3")
    assert code == 0, err
    assert "myplugin:LogFlopsLine" in out and "flops (baseline)" in out


def test_unknown_predictor_names_close_matches():
    with pytest.raises(StitchnasError, match="did you mean extra_trees"):
        create_predictor("extra_tree")
    with pytest.raises(StitchnasError, match="cannot import"):
        create_predictor("no_such_module_xyz:Thing")


def test_default_beats_flops_on_two_way_table(fmnist):
    space, rows = fmnist
    report = cross_validate(space, rows, "auto", repeats=5, progress=False)
    assert report.train_size == 17
    assert report.scores.kendall_tau > report.baseline.kendall_tau + 0.05
    assert report.scores.mae < report.baseline.mae
    # the paired gain: the mean of the splits' differences, its standard error from their spread
    assert report.tau_gain == pytest.approx(report.scores.kendall_tau - report.baseline.kendall_tau)
    assert 0 < report.tau_gain_se < report.tau_gain / 2
    assert "above FLOPs by more than two standard errors" in report.gain_line()
    same = cross_validate(space, rows, "flops", repeats=3, progress=False)
    assert (same.tau_gain, same.tau_gain_se) == (0.0, 0.0)
    assert same.gain_line().endswith("the same ranking as FLOPs in every split")


@pytest.mark.skipif(not PUBLISHED.is_file(), reason=f"{PUBLISHED} is absent")
def test_default_does_not_lose_to_flops_on_published_one_way_table():
    from stitchnas.measure import import_snnet

    space = load_space("deit_tsb_v1")
    rows = import_snnet(PUBLISHED, space).rows
    report = cross_validate(space, rows, "auto", repeats=5, progress=False)
    assert report.scores.kendall_tau >= report.baseline.kendall_tau - 1e-12
    assert report.baseline.kendall_tau > 0.9


def test_predict_writes_every_candidate(fmnist, tmp_path, capsys):
    space, rows = fmnist
    few = tmp_path / "few.jsonl"
    few.write_text("".join(json.dumps(m.to_json()) + "\n" for m in rows[::6]))
    out = tmp_path / "pred.jsonl"
    code, stdout, err = run_cli(capsys, "predict", "fmnist_vit_2way", "--measurements", few,
                                "--predictor", "gp", "--out", out)
    assert code == 0, err
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == [c.id for c in space.candidates]
    assert set(lines[0]) >= {"id", "route", "acc1_pred", "acc1_std"}
    assert all(r["acc1_std"] >= 0 for r in lines)
    png = out.with_suffix(".png")  # the plot beside it, named in the result line
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"(plot: {png})" in stdout
    from PIL import Image

    assert Image.open(png).size == (840, 540)  # 7 x 4.5 inches at 120 dpi
    png.unlink()
    code, stdout, err = run_cli(capsys, "predict", "fmnist_vit_2way", "--measurements", few,
                                "--predictor", "gp", "--out", out, "--no-plot")
    assert code == 0 and not png.exists() and "plot" not in stdout
    png.mkdir()  # a plot path that cannot be written refuses before anything is written
    out.unlink()
    code, stdout, err = run_cli(capsys, "predict", "fmnist_vit_2way", "--measurements", few,
                                "--predictor", "gp", "--out", out)
    assert code == 2 and err.count("\n") == 1 and "predictions plot" in err and not out.exists()


def test_suggest_picks_unmeasured_stitches_anchors_first(fmnist, capsys, tmp_path):
    space, rows = fmnist
    some = [m for m in rows if m.id in (0, 1, 5, 20, 40, 60)]  # anchor 2 unmeasured
    picks = suggest(space, some, k=5, predictor="gp")
    ids = [p.id for p in picks]
    assert ids[0] == 2 and picks[0].reason == "unmeasured anchor"
    assert len(set(ids)) == 5 and not set(ids) & {m.id for m in some}
    assert all(p.gain >= 0 for p in picks)
    path = tmp_path / "some.jsonl"
    path.write_text("".join(json.dumps(m.to_json()) + "\n" for m in some))
    code, out, err = run_cli(capsys, "suggest", "fmnist_vit_2way", "--measurements", path, "--k", "3",
                             "--predictor", "gp")
    assert code == 0, err
    assert "stitchnas evaluate fmnist_vit_2way --ids 2," in out
    # the hint writes the new rows beside the given ones, so the next suggest sees them all
    assert out.rstrip().endswith(f" --out {path}")
    full = tmp_path / "full.jsonl"
    full.write_text("".join(json.dumps(m.to_json()) + "\n" for m in rows))
    code, out, err = run_cli(capsys, "suggest", "fmnist_vit_2way", "--measurements", full, "--k", "3",
                             "--predictor", "flops")
    assert code == 0 and out == f"# every candidate of fmnist_vit_2way is measured in {full}: nothing to suggest\n"


class _FixedPosterior:
    """A predictor with a known posterior: ``means``/``stds`` by stitch id, the measured top-1 for
    the stitches it was fitted on, else ``default``."""

    def __init__(self, means=None, stds=None, default=(70.0, 1e-3)):
        self.means, self.stds, self.default = means, stds, default

    def get_params(self, deep=True):
        return {"means": self.means, "stds": self.stds, "default": self.default}

    def set_params(self, **params):
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, X, y):
        self.fitted_ = {s.id: float(v) for s, v in zip(X, y)}
        return self

    def predict(self, X, return_std=False):
        known = {**self.fitted_, **(self.means or {})}
        mean = np.array([known.get(s.id, self.default[0]) for s in X], dtype=float)
        std = np.array([(self.stds or {}).get(s.id, self.default[1]) for s in X], dtype=float)
        return (mean, std) if return_std else mean


def test_suggest_ranks_by_probability_of_pareto_optimality(fmnist):
    """Measured anchors 0 (83.78%, cheapest), 1 (86.38%), 2 (87.47%, dearest). Stitch 12 (FLOPs
    between anchors 0 and 1) is predicted at exactly anchor 0's accuracy, std 1: on the front in
    half the samples. Stitch 22 (between 1 and 2) at anchor 1's + 2, std 1: on it with
    P(z > -2) = 0.977 (kappa 2 doubles the spread: P(z > -1) = 0.84). Stitch 7 at 80 +- 1 almost
    never beats anchor 0; everything else sits far below at 70 +- 0.001."""
    from scipy.stats import norm

    space, rows = fmnist
    anchors = [m for m in rows if m.id in (0, 1, 2)]
    acc = {m.id: m.acc1 for m in anchors}
    model = _FixedPosterior(means={12: acc[0], 22: acc[1] + 2.0, 7: 80.0}, stds={12: 1.0, 22: 1.0, 7: 1.0})
    picks = suggest(space, anchors, k=3, predictor=model, seed=3, shape_spread=0.0)
    assert [p.id for p in picks[:2]] == [22, 12]
    assert picks[0].gain == pytest.approx(norm.cdf(2.0), abs=0.03)
    assert picks[1].gain == pytest.approx(0.5, abs=0.05)
    assert picks[2].gain < 0.01 and all(p.reason == "probability on the front" for p in picks)
    assert picks[0].acc1_pred == pytest.approx(acc[1] + 2.0) and picks[0].acc1_std == pytest.approx(1.0)
    # seeded: the same seed gives the same picks and probabilities
    assert suggest(space, anchors, k=3, predictor=model, seed=3, shape_spread=0.0) == picks
    wide = suggest(space, anchors, k=2, predictor=model, kappa=2.0, seed=3, shape_spread=0.0)
    assert wide[0].id == 22 and wide[0].gain == pytest.approx(norm.cdf(1.0), abs=0.04)
    # kappa 0: the predicted means' front, 12 tied with anchor 0 at a higher cost is off it
    mean_only = {p.id: p.gain for p in suggest(space, anchors, k=2, predictor=model, kappa=0.0,
                                               shape_spread=0.0)}
    assert mean_only[22] == 1.0 and mean_only.get(12, 0.0) == 0.0
    with pytest.raises(StitchnasError, match="kappa"):
        suggest(space, anchors, k=2, predictor=model, kappa=-1.0)
    with pytest.raises(StitchnasError, match="acquisition"):
        suggest(space, anchors, k=2, predictor=model, acquisition="ucb")


def test_suggest_lifts_each_route_shape_as_a_whole(fmnist):
    """Each posterior draw adds one offset per anchor sequence, shared by its routes, with the
    measured top-1's spread about the FLOPs trend (times ``shape_spread``) as its std, divided
    by sqrt(1 + m) for a shape with m measured routes; 0 adds none."""
    from stitchnas.predict import FlopsBaseline, make_stitches
    from stitchnas.predict._suggest import _posterior_draws

    space, rows = fmnist
    some = [m for m in rows if m.id in (0, 1, 2, 3, 4, 5)]  # the anchors and three tiny>small routes
    model = _FixedPosterior(default=(70.0, 1e-6))
    stitches, measured, mean, _, draws = _posterior_draws(space, some, model, 0, 4000, 1.0, 0.5)
    off = draws - mean
    shape = {s.id: s.route.anchors for s in stitches}
    col = {s.id: i for i, s in enumerate(stitches)}
    same = [i for i in col if shape[i] == shape[40] and i not in (3, 4, 5)]
    assert len(same) > 3 and np.allclose(off[:, [col[i] for i in same]], off[:, [col[40]]], atol=1e-4)
    sigma = 0.5 * FlopsBaseline().fit([stitches[i] for i in measured], [m.acc1 for m in some]).resid_std_
    unseen = next(i for i in col if shape[i] == (2, 1))
    assert off[:, col[unseen]].std() == pytest.approx(sigma, rel=0.05)
    seen = next(i for i in col if shape[i] == shape[3] and i not in (3, 4, 5))
    assert off[:, col[seen]].std() == pytest.approx(sigma / 2.0, rel=0.05)  # 3 measured: sqrt(1 + 3)
    assert not np.corrcoef(off[:, col[unseen]], off[:, col[seen]])[0, 1] > 0.05
    assert np.all(draws[:, [col[m.id] for m in some]] == [m.acc1 for m in some])
    _, measured0, mean0, _, draws0 = _posterior_draws(space, some, model, 0, 100, 1.0, 0.0)
    assert np.abs(np.delete(draws0 - mean0, measured0, axis=1)).max() < 1e-4
    assert len(make_stitches(space)) == len(stitches)
    with pytest.raises(StitchnasError, match="shape-spread"):
        suggest(space, some, k=2, predictor=model, shape_spread=-1.0)


def test_shape_spread_measures_a_shape_the_predictor_would_never_try():
    """fmnist_resnet_2way, measured as `stitchnas run` measures (the anchors, random routes up
    to 4, then suggest one at a time): without the per-shape offsets two small>tiny routes on the
    true front are never measured and the predicted front misses them; with the default they
    are found."""
    from stitchnas.bench import bench_search

    def run(spread):
        r = bench_search("fmnist_resnet_2way", REPO / "results/fmnist_resnet_2way/measurements.jsonl",
                         choose="suggest", seeds=(1,), samplers=("random",),
                         trials=1, out_dir=None, progress=False, shape_spread=spread)
        return r["ceiling"]["per_seed"][0], r["default_search"]["hv_ratio_nadir_mean"], r["true_front_ids"]

    seed0, hv0, true_front = run(0.0)
    seed, hv, _ = run(None)
    missed = lambda s: set(true_front) - set(s["predicted_front_ids"])  # noqa: E731
    assert missed(seed) < missed(seed0)
    assert hv > hv0 + 0.05


def test_suggest_with_a_gp_samples_jointly_and_keeps_the_optimistic_rule(fmnist):
    from stitchnas.pareto import front_indices
    from stitchnas.predict import fitted_accuracy

    space, rows = fmnist
    some = [m for m in rows if m.id in (0, 1, 2, 5, 20, 40, 60)]
    picks = suggest(space, some, k=6, predictor="gp", seed=1)
    gains = [p.gain for p in picks]
    assert all(0.0 <= g <= 1.0 for g in gains) and gains == sorted(gains, reverse=True)
    assert not {p.id for p in picks} & {m.id for m in some}
    assert suggest(space, some, k=6, predictor="gp", seed=1) == picks
    # kappa 0: probability 1 exactly for the unmeasured members of the predicted front
    stitches, measured, _, _, acc = fitted_accuracy(space, some, "gp", 0)
    front = {stitches[i].id for i in front_indices(acc, [s.flops for s in stitches])} - {m.id for m in some}
    certain = {p.id for p in suggest(space, some, k=20, predictor="gp", kappa=0.0) if p.gain == 1.0}
    assert front and certain == front
    old = suggest(space, some, k=3, predictor="gp", acquisition="optimistic")
    assert len(old) == 3 and all(p.reason == "optimistic hypervolume gain" for p in old)


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.update(id=9999), "9999"),
    (lambda r: r.update(route=[[0, 0, 3], [1, 3, 6]]), "route"),
    (lambda r: r.update(acc1=float("nan")), "acc1"),
])
def test_bad_measurement_files_are_refused_in_one_line(fmnist, tmp_path, capsys, edit, message):
    space, rows = fmnist
    docs = [m.to_json() for m in rows[:10]]
    edit(docs[3])
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    for cmd in ("predictor-cv", "suggest"):
        code, out, err = run_cli(capsys, cmd, "fmnist_vit_2way", "--measurements", path)
        assert code == 2 and out == ""
        assert err.startswith("stitchnas: error:") and err.count("\n") == 1
        assert message in err and "bad.jsonl" in err


class _BreaksOnPredict:
    """A plug-in that fits but fails to predict (a bug in a user's predictor)."""

    def fit(self, X, y):
        return self

    def predict(self, X):
        raise RuntimeError("no model here")


def test_a_failing_plug_in_is_one_line_naming_what_was_asked(fmnist):
    """Fitting and predicting go through fit_on_measured: a plug-in's exception becomes one
    StitchnasError naming the predictor as the caller gave it (a class as module:Class)."""
    from stitchnas.predict import fit_on_measured

    space, rows = fmnist
    with pytest.raises(StitchnasError, match=r"predictor 'test_predictors:_BreaksOnPredict' failed on 8 "
                                             r"measured stitches: RuntimeError: no model here"):
        fit_on_measured(space, rows[:8], _BreaksOnPredict)  # predictions are checked when fitted


@pytest.mark.parametrize("kind", ["extra_trees", "random_forest"])
def test_fast_tree_predictions_equal_scikit_learns_own(kind):
    """The route and forest models read each tree through its Tree object (no per-call checks);
    that must give what each tree's and the forest's ``predict`` give, to the last bit."""
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
    from stitchnas.predict._predictors import _forest_mean, _tree_predictions

    rng = np.random.default_rng(0)
    X, y, Z = rng.normal(size=(25, 13)), rng.normal(size=25), rng.normal(size=(140, 13))
    forest = {"extra_trees": ExtraTreesRegressor, "random_forest": RandomForestRegressor}[kind](
        n_estimators=30, random_state=0).fit(X, y)
    rows = _tree_predictions(forest, Z)
    assert np.array_equal(rows, np.stack([t.predict(Z) for t in forest.estimators_]))
    assert np.array_equal(_forest_mean(rows), forest.predict(Z))


def test_auto_with_fewer_than_two_measured_stitches_takes_the_anchor_prior_and_flops_std_is_wide():
    """With only the anchors measured, `auto` (as predict and suggest use it) takes the anchors'
    prior that search uses, with its wide std, not a FLOPs fit through two points whose spread
    would read 0; the FLOPs baseline itself, fitted on two rows, says at least 2 points."""
    from stitchnas.measure import Measurement
    from stitchnas.predict import AutoPredictor, FlopsBaseline, make_stitches

    space = load_space("tiny_test")
    anchors = [c for c in space.candidates if c.is_anchor]
    rows = [Measurement(c.id, c.route, acc, None, None, 1, 1, "d", "c", space.name, space.content_hash)
            for c, acc in zip(anchors, (70.0, 71.0))]
    stitches = make_stitches(space, rows)
    measured = [stitches[c.id] for c in anchors]
    auto = AutoPredictor().fit(measured, [70.0, 71.0])
    assert auto.chosen_ == "prior" and "fewer than 2 measured stitches" in auto.reason_
    mean, std = auto.predict(stitches, return_std=True)
    assert mean[anchors[0].id] == 70.0 and mean[anchors[1].id] == 71.0
    assert np.all(std >= 2.0)
    _, std = FlopsBaseline().fit(measured, [70.0, 71.0]).predict(stitches, return_std=True)
    assert np.all(std == 2.0)
    _, std = FlopsBaseline().fit(measured, [60.0, 71.0]).predict(stitches, return_std=True)
    assert np.all(std == 11.0)


def test_a_plain_scikit_learn_regressor_plugs_in_behind_the_route_features(capsys, tmp_path):
    """`--predictor sklearn.linear_model:Ridge` (or a Ridge instance) reads stitches through
    RouteFeaturizer and a scaler and is fitted to standardised top-1s (ScaledTarget: a line with
    an intercept predicts the same through it); a user's own pipeline and meta-estimators are left
    as given."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline

    from stitchnas.predict import RouteFeaturizer, ScaledTarget

    space = load_space("tiny_test")
    stitches = make_stitches(space)
    y = np.linspace(60.0, 70.0, len(stitches))
    for spec in ("sklearn.linear_model:Ridge", Ridge(alpha=2.0)):
        model = create_predictor(spec)
        assert isinstance(model, Pipeline) and isinstance(model.steps[0][1], RouteFeaturizer)
        assert isinstance(model.steps[-1][1], ScaledTarget) and model.steps[-1][1].estimator.__class__ is Ridge
        pred = model.fit(stitches, y).predict(stitches)
        assert pred.shape == (len(stitches),) and np.all(np.isfinite(pred))
    plain = make_pipeline(RouteFeaturizer(), StandardScaler(), Ridge())  # a ridge line is linear in y
    scaled = create_predictor("sklearn.linear_model:Ridge")
    assert np.allclose(scaled.fit(stitches, y).predict(stitches), plain.fit(stitches, y).predict(stitches))
    mine = make_pipeline(StitchFeaturizer(), Ridge())
    assert isinstance(create_predictor(mine).steps[0][1], StitchFeaturizer)
    meta = TransformedTargetRegressor(regressor=mine)
    assert isinstance(create_predictor(meta), TransformedTargetRegressor)
    rows = tmp_path / "m.jsonl"
    from stitchnas.measure import Measurement, write_measurements
    write_measurements(rows, [Measurement(s.id, s.route, float(v), None, None, 1, 1, "d", "c",
                                          space.name, space.content_hash) for s, v in zip(stitches, y)])
    code, out, err = run_cli(capsys, "predict", "tiny_test", "--measurements", rows, "--predictor",
                             "sklearn.linear_model:Ridge", "--out", tmp_path / "p.jsonl")
    assert code == 0, err


def test_scale_sensitive_regressors_by_name_fit_standardised_top1s():
    """What ScaledTarget is for: an MLP or a kernel ridge without intercept, fitted on top-1s near
    80, stop far short of them (the scale rule refuses them in a user's own pipeline), and a GP's
    prior mean is 0; behind ScaledTarget they land near the rows, and the GP's std comes back in
    points (its standardised std times the rows' spread), which a plain SVR does not claim."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.neural_network import MLPRegressor

    from stitchnas.predict import RouteFeaturizer, fit_problem, supports_std

    space = load_space("tiny_test")
    stitches = make_stitches(space)
    y = 80.0 + 3.0 * np.sin(np.arange(len(stitches)))
    for est in (MLPRegressor(random_state=0), KernelRidge()):
        own = make_pipeline(RouteFeaturizer(), StandardScaler(), est)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the MLP's convergence warning
            assert fit_problem(own.fit(stitches, y).predict(stitches), y) is not None
            ours = create_predictor(est).fit(stitches, y)
        assert fit_problem(ours.predict(stitches), y) is None
        assert np.mean(np.abs(ours.predict(stitches) - y)) < np.mean(np.abs(y - y.mean()))
    gp = create_predictor(GaussianProcessRegressor()).fit(stitches[::2], y[::2])
    assert supports_std(gp) and not supports_std(create_predictor("sklearn.svm:SVR"))
    mean, std = gp.predict(stitches, return_std=True)
    inner = gp.steps[-1][1]
    z_mean, z_std = inner.estimator_.predict(gp[:-1].transform(stitches), return_std=True)
    assert np.allclose(mean, z_mean * inner.scale_ + inner.mean_) and np.allclose(std, z_std * inner.scale_)
    assert inner.scale_ == pytest.approx(np.std(y[::2])) and np.all(std[1::2] > 0)


def test_a_constant_prediction_ranks_nothing_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SciPy's ConstantInputWarning would reach a user's terminal
        scores = ranking_scores([70.0, 70.0, 70.0], [60.0, 65.0, 70.0])
    assert scores["kendall_tau"] == scores["spearman_rho"] == 0.0 and scores["mae"] == pytest.approx(5.0)
    assert ranking_scores([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])["kendall_tau"] == pytest.approx(-1.0)


def test_python_calls_take_a_space_by_name_as_search_and_query_do(fmnist):
    """suggest, cross_validate, fit_on_measured and make_stitches load a bundled name themselves
    and answer as with the loaded space (suggest given a name used to fail on a weak reference)."""
    from stitchnas.predict import fit_on_measured

    space, rows = fmnist
    by_name = suggest("fmnist_vit_2way", rows[:12], k=3, samples=64)
    assert [s.id for s in by_name] == [s.id for s in suggest(space, rows[:12], k=3, samples=64)]
    assert [s.flops for s in make_stitches("fmnist_vit_2way")] == [s.flops for s in make_stitches(space)]
    cv = cross_validate("fmnist_vit_2way", rows, "flops", repeats=2, progress=False)
    assert cv.scores == cross_validate(space, rows, "flops", repeats=2, progress=False).scores
    fit = fit_on_measured("fmnist_vit_2way", rows[:12], "flops")
    assert fit.measured == fit_on_measured(space, rows[:12], "flops").measured


def test_every_public_function_taking_a_space_takes_its_name():
    """The rule python.md states, for every name ``stitchnas`` exports: a ``space`` parameter
    accepts a bundled name; read_measurements and load_network (which used to fail on a str)
    answer from the name as from the loaded space."""
    import inspect

    import stitchnas as sn

    narrow = []
    for name in sn.__all__:
        obj = getattr(sn, name)
        if inspect.isfunction(obj) and "space" in inspect.signature(obj).parameters:
            annotation = str(inspect.signature(obj).parameters["space"].annotation)
            if "str" not in annotation:
                narrow.append(name)
    assert narrow == []
    space = load_space("fmnist_vit_2way")
    assert sn.read_measurements(FMNIST, "fmnist_vit_2way") == sn.read_measurements(FMNIST, space)
    assert sn.load_network("fmnist_vit_2way").space.content_hash == space.content_hash


class _Overshoots(_FixedPosterior):
    """Its rows' own top-1, and 104% for every other stitch (a line extrapolated past 100)."""

    def __init__(self, means=None, stds=None, default=(104.0, 1.0)):
        super().__init__(means, stds, default)


def test_predict_writes_a_top1_beyond_100_at_100_as_the_search_has_it(fmnist):
    from stitchnas.predict import fit_on_measured, prediction_rows

    space, rows = fmnist
    fit = fit_on_measured(space, rows[:6], _Overshoots())
    assert fit.predict()[0].max() == 104.0  # the model's own mean, unchanged
    written = prediction_rows(fit, rows[:6])
    assert max(r["acc1_pred"] for r in written) == 100.0
    assert {r["acc1_pred"] for r in written if not r["measured"]} == {100.0}
    assert [r["acc1_pred"] for r in written if r["measured"]] == [m.acc1 for m in sorted(rows[:6], key=lambda m: m.id)]
    from stitchnas.optimize import accuracy_table

    table = accuracy_table(space, rows[:6], _Overshoots())  # the search's top-1s: the same bound
    assert max(table.acc1) == 100.0 and sorted(set(table.acc1) - {m.acc1 for m in rows[:6]}) == [100.0]
