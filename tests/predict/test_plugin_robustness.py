"""Plug-in predictors the way users write them: factory functions (by dotted path, entry point
and ``register_predictor``) work in every verb, and a plug-in that breaks the protocol is one
line naming the rule (exit 2) in ``predict``, ``predictor-cv`` and ``suggest``, with nothing
written. The plug-ins are in tests/support/bad_predictors.py, loaded by dotted path."""

import json

import numpy as np
import pytest
from support import run_cli
from support.bad_predictors import BROKEN
from support.tiny import MEASURED, costs, row, space  # noqa: F401 - fixtures

from stitchnas.errors import StitchnasError
from stitchnas.predict import PREDICTORS, create_predictor, fit_on_measured, register_predictor
from stitchnas.testing import check_predictor

MOD = "support.bad_predictors"


@pytest.fixture(scope="module")
def table(space, costs, tmp_path_factory):  # noqa: F811 - fixtures
    """A measurements file of six tiny_test stitches (made-up top-1, real FLOPs)."""
    path = tmp_path_factory.mktemp("robust") / "m.jsonl"
    path.write_text("".join(json.dumps(row(space, costs, i).to_json()) + "\n" for i in MEASURED))
    return path


def verbs(table, predictor, out):
    """Each verb's argv with ``predictor``; ``predict`` writes ``out``."""
    common = ["tiny_test", "--measurements", table, "--predictor", predictor]
    return {
        "predict": ["predict", *common, "--out", out],
        "predictor-cv": ["predictor-cv", *common, "--train-fraction", "0.5", "--repeats", "2"],
        "suggest": ["suggest", *common, "--k", "2"],
    }


@pytest.mark.parametrize("cls", sorted(BROKEN))
def test_every_verb_refuses_a_broken_plug_in_in_one_line(cls, table, tmp_path, capsys):
    out = tmp_path / "pred.jsonl"
    for verb, argv in verbs(table, f"{MOD}:{cls}", out).items():
        code, stdout, err = run_cli(capsys, *argv)
        assert code == 2, (verb, err)
        assert err.count("\n") == 1 and err.startswith("stitchnas: error: predictor "), (verb, err)
        assert f"{MOD}:{cls}" in err and BROKEN[cls] in err, (verb, err)
        assert "Traceback" not in err and stdout == "", (verb, stdout)
        assert not out.exists() and not out.with_suffix(".png").exists(), verb


def test_predict_leaves_an_existing_output_unchanged(table, tmp_path, capsys):
    out = tmp_path / "pred.jsonl"
    out.write_text("old\n")
    code, _, err = run_cli(capsys, *verbs(table, f"{MOD}:PredictsNaN", out)["predict"])
    assert code == 2 and "NaN" in err
    assert out.read_text() == "old\n" and not out.with_suffix(".png").exists()


@pytest.mark.parametrize("factory", ["make_line", "make_seeded"])
def test_a_factory_function_by_dotted_path_works_in_every_verb(factory, table, tmp_path, capsys):
    out = tmp_path / "pred.jsonl"
    for verb, argv in verbs(table, f"{MOD}:{factory}", out).items():
        code, stdout, err = run_cli(capsys, *argv)
        assert code == 0, (verb, err)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 14 and all(np.isfinite(r["acc1_pred"]) for r in rows)
    check_predictor(f"{MOD}:{factory}")


def test_a_factory_that_returns_no_estimator_is_one_line(table, tmp_path, capsys):
    with pytest.raises(StitchnasError, match=r"make_nothing' returned int, not an estimator"):
        create_predictor(f"{MOD}:make_nothing")
    for verb, argv in verbs(table, f"{MOD}:make_nothing", tmp_path / "p.jsonl").items():
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and "returned int, not an estimator" in err and err.count("\n") == 1, (verb, err)


def test_a_factory_through_register_predictor(space, table, capsys):  # noqa: F811 - fixture
    from support.bad_predictors import make_line, make_seeded

    register_predictor("robust_line", make_line)
    register_predictor("robust_seeded", make_seeded)
    try:
        code, out, _ = run_cli(capsys, "predictors", "robust_*", "--format", "json")
        assert [p["name"] for p in json.loads(out)] == ["robust_line", "robust_seeded"]
        code, out, err = run_cli(capsys, *verbs(table, "robust_seeded", "-")["suggest"])
        assert code == 0, err
        from stitchnas.measure import read_measurements

        rows = read_measurements(table, space)
        a = fit_on_measured(space, rows, "robust_seeded", random_state=3).predict()[0]
        b = fit_on_measured(space, rows, "robust_seeded", random_state=3).predict()[0]
        c = fit_on_measured(space, rows, "robust_seeded", random_state=4).predict()[0]
        assert np.array_equal(a, b) and not np.array_equal(a, c)  # random_state reaches the factory
    finally:
        for name in ("robust_line", "robust_seeded"):
            PREDICTORS._table.pop(name, None)


def test_a_factory_through_an_entry_point(table, tmp_path, monkeypatch, capsys):
    dist = tmp_path / "robustplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: robustplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[stitchnas.predictors]\nfactory_line = {MOD}:make_line\n"
                                           f"broken_nan = {MOD}:PredictsNaN\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = run_cli(capsys, "predictors", "factory_*", "--format", "json")
    assert [p["name"] for p in json.loads(out)] == ["factory_line"]
    for verb, argv in verbs(table, "factory_line", tmp_path / "p.jsonl").items():
        code, _, err = run_cli(capsys, *argv)
        assert code == 0, (verb, err)
    code, _, err = run_cli(capsys, *verbs(table, "broken_nan", tmp_path / "q.jsonl")["predict"])
    assert code == 2 and "predictor 'broken_nan': predict returned NaN" in err
    assert not (tmp_path / "q.jsonl").exists()


@pytest.mark.parametrize("cls, rule", [
    ("Fractions", "predictions look like fractions (0..1); return top-1 in percent"),
    ("Unrepeatable", "predict is not repeatable: seed randomness in fit, not __init__"),
])
def test_check_predictor_names_the_rule_only(cls, rule):
    with pytest.raises(AssertionError) as err:
        check_predictor(f"{MOD}:{cls}")
    problems = [line for line in str(err.value).splitlines() if line.startswith("- ")]
    assert problems == [f"- {rule}"]


def test_check_predictor_names_predictions_off_the_scale_of_their_own_rows():
    with pytest.raises(AssertionError) as err:
        check_predictor(f"{MOD}:ForgetsMean")
    problems = [line for line in str(err.value).splitlines() if line.startswith("- ")]
    assert len(problems) == 1 and problems[0].startswith("- predictions on the wrong scale: they miss the 7 ")
    assert problems[0].endswith("return top-1 in percent (fit it to standardised top-1s, e.g. behind "
                                "stitchnas.predict.ScaledTarget, or check that it converges)")


def test_the_scale_rule_passes_every_built_in_predictor_on_real_tables():
    """The bound is generous: predictors that smooth the rows (flops' flat steps) or ignore them
    (prior) are not refused, on the demo's fully measured table at a fifth of its rows and at
    every row, and on the default run's measured rows with its proxy scores."""
    from support import REPO

    from stitchnas.measure import load_proxy_signals, read_measurements
    from stitchnas.space import load_space

    demo, grown = load_space("fmnist_vit_2way"), load_space("fmnist_resnet_grown")
    rows = read_measurements(REPO / "results" / "fmnist_vit_2way" / "measurements.jsonl", demo)
    anchors = [m for m in rows if demo.candidate(m.id).is_anchor]
    fifth = anchors + [m for m in rows if not demo.candidate(m.id).is_anchor][::5]
    run = REPO / "results" / "fmnist_resnet_grown" / "run"
    run_rows = read_measurements(run / "measurements.jsonl", grown)
    signals = load_proxy_signals(run / "proxies.jsonl", grown, run_rows)
    for name in sorted(PREDICTORS.names()):
        if name != "proxy":
            for sub in (fifth, rows):
                fit_on_measured(demo, sub, name)
        fit_on_measured(grown, run_rows, name, signals=signals)


def test_check_predictor_passes_a_good_plug_in_and_its_factory():
    check_predictor(f"{MOD}:FlopsLine")
    check_predictor(f"{MOD}:make_line")


def test_suggest_from_one_row_names_the_command_that_measures_the_anchors(space, costs, tmp_path, capsys):  # noqa: F811
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(row(space, costs, 2).to_json()) + "\n")
    code, out, err = run_cli(capsys, "suggest", "tiny_test", "--measurements", one)
    assert code == 2 and "measure at least the anchors (`stitchnas evaluate tiny_test --ids 0,1`)" in err


def test_a_constant_predictor_is_named_in_predictor_cv_and_predict(table, tmp_path, capsys):
    """A real estimator that learns a constant (scikit-learn's DummyRegressor; a boosted model
    with leaves larger than the rows fitted does the same) still runs, exit 0, but both verbs say
    in one warning line that it ranks nothing; a model that ranks says nothing."""
    dummy = verbs(table, "sklearn.dummy:DummyRegressor", tmp_path / "d.jsonl")
    code, out, err = run_cli(capsys, *dummy["predictor-cv"])
    assert code == 0 and "sklearn.dummy:DummyRegressor" in out, err
    warnings = [ln for ln in err.splitlines() if ln.startswith("stitchnas: warning:")]
    assert len(warnings) == 1 and "predicted one top-1 for every stitch in 2 of 2 splits" in warnings[0]
    code, out, err = run_cli(capsys, *dummy["predict"])
    assert code == 0 and (tmp_path / "d.jsonl").exists(), err
    assert "predicted one top-1 (" in err and "for every unmeasured stitch (fitted on 6 rows)" in err
    line = verbs(table, "sklearn.linear_model:LinearRegression", tmp_path / "l.jsonl")
    for verb in ("predictor-cv", "predict"):
        code, _, err = run_cli(capsys, *line[verb])
        assert code == 0 and "warning" not in err, (verb, err)


def test_register_predictor_refuses_what_cannot_make_a_predictor():
    """A number or a fitted instance registered by mistake is refused at once, naming the name,
    instead of listing under `stitchnas predictors` and failing in every verb later."""
    from stitchnas.errors import PluginError

    with pytest.raises(PluginError, match="predictor 'broken': register a class or a function"):
        register_predictor("broken", 42)
    assert "broken" not in PREDICTORS
