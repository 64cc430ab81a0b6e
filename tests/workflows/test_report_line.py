"""The run report's `vs line` column: a stitch's gap to the line between its neighbouring anchors,
with two standard errors of that gap, so that a gap within measurement noise is not read as a
stitch beating the line."""

import dataclasses
import math

import pytest

from support.tiny import costs, row, space  # noqa: F401 - fixtures
from stitchnas.workflows._report import above_line, line_summary, line_table


def test_gap_and_its_standard_error(space, costs):
    s, l = row(space, costs, 0, 70.0), row(space, costs, 1, 80.0)
    stitch = row(space, costs, 5, 79.0)
    t = (stitch.flops - s.flops) / (l.flops - s.flops)
    gap, se = above_line(stitch, [s, l], images=1000)
    assert gap == pytest.approx(79.0 - (70.0 + 10.0 * t))
    var = 0.79 * 0.21 + (1 - t) ** 2 * 0.70 * 0.30 + t ** 2 * 0.80 * 0.20
    assert se == pytest.approx(100 * math.sqrt(var / 1000))
    assert above_line(stitch, [s, l]) == (pytest.approx(gap), None)  # images unknown: no error bar
    assert above_line(s, [s, l], images=1000) is None  # an anchor has no gap


def test_only_gaps_beyond_two_standard_errors_count_as_more_than_noise(space, costs):
    s, l = row(space, costs, 0, 70.0), row(space, costs, 1, 80.0)

    def at(i, gap):  # stitch i measured ``gap`` points above the line
        t = (costs[i].flops - s.flops) / (l.flops - s.flops)
        return row(space, costs, i, 70.0 + 10.0 * t + gap)

    rows = [s, l, at(2, 0.5), at(3, 6.0), at(4, -1.0)]
    few = line_summary(rows, images=200)  # two standard errors: about 9 points here
    many = line_summary(rows, images=100_000)  # about 0.4 points
    assert few == {"stitches": 3, "within_anchors": 3, "above": 2, "above_by_2se": 0, "paired": 0,
                   "images": 200, "by_chance": 0.07}  # 3 stitches on the line: 2.3% each clear 2 SE
    assert many["above"] == 2 and many["above_by_2se"] == 2


def test_a_stitch_outside_the_anchors_flops_range_is_not_counted_against_the_line(space, costs):
    """A stitch dearer than the largest anchor (or cheaper than the smallest) has no line to beat:
    its cell says `outside` (an anchor's says `-`) and the count is over the stitches with a line."""
    s, l = row(space, costs, 0, 70.0), row(space, costs, 1, 80.0)
    inside = row(space, costs, 5, 79.0)
    dear = dataclasses.replace(row(space, costs, 6, 81.0), flops=l.flops + 10)
    rows = [s, l, inside, dear]
    line = line_summary(rows, images=1000)
    assert line["stitches"] == 2 and line["within_anchors"] == 1 and line["above"] == line["above_by_2se"] == 1
    table = line_table(space, rows, line, images=1000)
    cells = {int(r.split("|")[1]): r.split("|")[5].strip() for r in table if r.split("|")[1:2] and r.split("|")[1].strip().isdigit()}
    assert cells[0] == cells[1] == "-" and cells[6] == "outside" and cells[5].startswith("+")
    assert table[-1] == ("1 of 1 measured stitches beat the line between their neighbouring anchors; 1 by more "
                         "than two standard errors (about 0.0 of 1 would by chance alone if every stitch were "
                         "exactly on its line); 1 more lies outside the anchors' FLOPs range (`outside`: no "
                         "line to compare with).")


def _with_outcomes(m, hits):
    from stitchnas.measure import TOP1_HITS, encode_outcomes

    return dataclasses.replace(m, acc1=100.0 * sum(hits) / len(hits),
                               extra=((TOP1_HITS, encode_outcomes(hits)),))


def test_rows_with_per_image_outcomes_give_the_paired_error(space, costs):
    """Measured on the same images, a stitch and its anchors mostly agree image by image: the
    gap's error is the spread of the per-image differences, far below the error taken as
    independent, so a gap that independent errors call noise can be more than noise. Rows of
    other images, or without outcomes, keep the independent error, and the report says which."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = 2000
    small = rng.random(n) < 0.80
    large = small | (rng.random(n) < 0.5)  # right wherever small is, and on half the rest: 90%
    stitch = small.copy()  # right wherever small is, and on 84 images only large gets right:
    stitch[np.flatnonzero(large & ~small)[:84]] = True  # about a point above the line here
    s = _with_outcomes(row(space, costs, 0), small.tolist())
    l = _with_outcomes(row(space, costs, 1), large.tolist())
    st = _with_outcomes(row(space, costs, 5), stitch.tolist())
    t = (st.flops - s.flops) / (l.flops - s.flops)
    gap, se = above_line(st, [s, l], images=n)
    d = stitch.astype(float) - ((1 - t) * small + t * large)
    assert gap == pytest.approx(100 * d.mean())
    assert se == pytest.approx(100 * d.std(ddof=1) / math.sqrt(n))
    plain = [row(space, costs, i, m.acc1) for i, m in ((0, s), (1, l), (5, st))]
    _, independent = above_line(plain[2], plain[:2], images=n)
    assert se < 0.6 * independent
    assert 2 * se < gap < 2 * independent  # more than noise, which the independent error hides
    other = dataclasses.replace(st, dataset="digits:train")
    assert above_line(other, [s, l], images=n)[1] == pytest.approx(independent)

    line = line_summary([s, l, st], images=n)
    assert line["paired"] == 1 and line["above_by_2se"] == (gap > 2 * se)
    mixed = line_summary([s, l, st, plain[2]], images=n)
    assert mixed["paired"] == 1 and mixed["within_anchors"] == 2
    from stitchnas.workflows._report import _error_note

    assert "(paired: the spread over those images" in _error_note(line, n)
    assert "paired for 1 of 2" in _error_note(mixed, n)
    assert "taken as independent, which overstates them" in _error_note(line_summary(plain, n), n)
