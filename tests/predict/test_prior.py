"""The prior from the anchors alone (``prior``): protocol, interpolation, honest std, calibration."""

import numpy as np
import pytest

from stitchnas.errors import StitchnasError
from stitchnas.predict import AnchorPrior, make_stitches, with_anchor_priors
from stitchnas.space import load_space
from stitchnas.testing import check_predictor


@pytest.fixture(scope="module")
def stitches():
    """Every tiny_test candidate, anchors s and l given 70 % and 80 % as priors."""
    space = load_space("tiny_test").with_anchor_acc1({"s": 70.0, "l": 80.0})
    return with_anchor_priors(space, make_stitches(space))


def test_prior_passes_the_predictor_protocol():
    check_predictor("prior")
    check_predictor(AnchorPrior)


def test_prior_interpolates_monotonically_in_flops_with_a_wide_std(stitches):
    mean, std = AnchorPrior().fit([], []).predict(stitches, return_std=True)
    by_id = {s.id: (m, sd) for s, m, sd in zip(stitches, mean, std)}
    assert by_id[0][0] == pytest.approx(70.0) and by_id[1][0] == pytest.approx(80.0)  # the anchors
    order = np.argsort([s.flops for s in stitches], kind="stable")
    assert np.all(np.diff(mean[order]) >= -1e-9)  # never less accurate for more FLOPs
    assert np.all((mean >= 70.0) & (mean <= 80.0))
    assert np.all(std >= 2.0)  # never tiny
    stitched = [sd for s, sd in zip(stitches, std) if not s.is_anchor]
    assert stitched == pytest.approx([10.0] * len(stitched))  # the gap between the two anchors
    assert by_id[0][1] == pytest.approx(2.0)


def test_measured_rows_shift_the_prior_and_anchor_rows_replace_its_points(stitches):
    rows = [s for s in stitches if not s.is_anchor][:4]
    line = AnchorPrior().fit([], []).predict(rows)
    shifted = AnchorPrior().fit(rows, line - 3.0).predict(stitches)
    base = AnchorPrior().fit([], []).predict(stitches)
    assert shifted - base == pytest.approx(np.full(len(stitches), -3.0 * 4 / 6))  # shrunk by 2 rows
    anchor_l = next(s for s in stitches if s.is_anchor and s.route.first_anchor == 1)
    moved = AnchorPrior().fit([anchor_l], [90.0]).predict(stitches)
    assert moved[[s.id for s in stitches].index(1)] == pytest.approx(90.0)
    assert np.all(moved >= base - 1e-9)


def test_the_prior_needs_two_anchors_or_rows():
    space = load_space("tiny_test").with_anchor_acc1({"s": 70.0})
    one = with_anchor_priors(space, make_stitches(space))
    with pytest.raises(StitchnasError, match="at least two anchors.*acc1.*--anchor-acc"):
        AnchorPrior().fit([], []).predict(one)


def test_batch_predictions_equal_one_at_a_time_and_each_pair_of_anchors_gives_its_gap(stitches):
    """Predictions are made a space at a time, vectorised (10^5 candidates: 2 s to 0.1 s): a batch
    mixing two spaces predicts each stitch as it would alone, and a stitch's std is the gap
    between the two anchors whose FLOPs bracket it."""
    space = load_space("fmnist_vit_2way").with_anchor_acc1({"tiny": 80.0, "small": 85.0, "base": 89.0})
    demo = with_anchor_priors(space, make_stitches(space))
    mixed = [x for pair in zip(demo, stitches) for x in pair] + demo[len(stitches):]
    prior = AnchorPrior().fit([], [])
    mean, std = prior.predict(mixed, return_std=True)
    alone = [prior.predict([s], return_std=True) for s in mixed]
    assert np.array_equal(mean, [m[0] for m, _ in alone]) and np.array_equal(std, [sd[0] for _, sd in alone])
    small = next(s.flops for s in demo if s.is_anchor and s.route.first_anchor == 1)
    assert prior.min_std < 4.0 * prior.gap_fraction  # so that the two gaps differ below
    expected = [max(prior.min_std, prior.gap_fraction * (5.0 if s.flops <= small else 4.0))
                for s in demo if not s.is_anchor]
    assert std[[i for i, s in enumerate(mixed) if s in demo and not s.is_anchor]] == pytest.approx(expected)
    assert len(set(np.round(expected, 6))) == 2


def test_the_benchmarks_line_is_the_priors_mean(stitches):
    """`bench large` reads its prior accuracies off :func:`anchor_line`, the prior's own mean; an
    unknown anchor is skipped and anchors of equal FLOPs are averaged."""
    from stitchnas.bench._large import prior_accuracy
    from stitchnas.predict import anchor_line

    s0 = stitches[0]
    flops = [s.flops for s in stitches]
    mean = AnchorPrior().fit([], []).predict(stitches)
    assert anchor_line(flops, s0.anchor_flops, s0.anchor_acc1) == pytest.approx(mean, abs=1e-12)
    assert prior_accuracy(flops, s0.anchor_flops, s0.anchor_acc1) == pytest.approx(mean, abs=1e-12)
    assert anchor_line([1e6, 1e7, 1e9], [1e6, 1e8, 1e8, 5e7], [60.0, 70.0, 90.0, None]).tolist() \
        == [60.0, 70.0, 80.0]
