"""examples/shape_trends.py: a plug-in predictor example that keeps to the protocol and does what
docs/predictors.md says it was measured to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stitchnas import create_predictor, load_space, make_stitches, read_measurements
from stitchnas.testing import check_predictor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def shape_trends(monkeypatch_module):
    monkeypatch_module.syspath_prepend(str(EXAMPLES))
    import shape_trends as module

    return module


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.mark.parametrize("name", ["ShapeTrends", "RouteOnShapeTrends", "GatedShapeTrends", "gated", "picked"])
def test_keeps_the_predictor_protocol(shape_trends, name):
    check_predictor(getattr(shape_trends, name))


def test_dotted_path_builds_it(shape_trends):
    est = create_predictor("shape_trends:RouteOnShapeTrends")
    assert type(est).__name__ == "RouteOnShapeTrends"


def test_synthetic_table_follows_flops_within_shapes_and_the_gate_sees_it(shape_trends, tmp_path):
    rows = shape_trends.synthetic_table("tiny_test", "a", seed=0)
    space = load_space("tiny_test")
    by_id = {s.id: s for s in make_stitches(space)}
    assert sorted(r.id for r in rows) == sorted(by_id) and all(r.dataset == "synthetic:a" for r in rows)
    stitches = [by_id[r.id] for r in rows]
    acc = np.array([r.acc1 for r in rows])
    tau, pairs = shape_trends.within_shape_tau(stitches, acc)
    assert pairs > 0 and tau > 0.5
    fitted = shape_trends.GatedShapeTrends(threshold=0.5, min_pairs=1).fit(stitches, acc)
    assert fitted.fired_
    shuffled = np.random.default_rng(0).permutation(acc)
    assert not shape_trends.GatedShapeTrends(threshold=0.99, min_pairs=1).fit(stitches, shuffled).fired_


def test_shape_trends_fit_per_shape_levels(shape_trends):
    space = load_space("tiny_test")
    stitches = make_stitches(space)
    shapes, rel = shape_trends._shape_and_flops(stitches)
    levels = {s: i for i, s in enumerate(sorted(set(shapes)))}
    y = 70 + 5 * rel + np.array([2.0 * levels[s] for s in shapes])
    pred = shape_trends.ShapeTrends(alpha=1e-6).fit(stitches, y).predict(stitches)
    assert np.allclose(pred, y, atol=1e-3)


def test_cli_writes_the_synthetic_table(tmp_path):
    out = tmp_path / "syn.jsonl"
    done = subprocess.run([sys.executable, str(EXAMPLES / "shape_trends.py"), str(out), "--space", "tiny_test",
                           "--variant", "b"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = read_measurements(out, load_space("tiny_test"))
    assert len(rows) == len(load_space("tiny_test").candidates) and rows[0].dataset == "synthetic:b"
