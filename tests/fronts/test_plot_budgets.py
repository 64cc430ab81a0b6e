"""A front's plot shows its budget: a line at the limit, over-budget candidates faded, the legend
counting the evaluated candidates out of the space's, labels apart, budgets in readable units."""

import pytest

from stitchnas.costs import Profiler
from stitchnas.fronts import Front, FrontPoint, format_budgets
from stitchnas.fronts._plot import _panel
from stitchnas.plots import pyplot
from stitchnas.space import load_space


@pytest.fixture(scope="module")
def space():
    return load_space("tiny_test")


def test_budget_line_faded_points_and_counts(space):
    costs = sorted(Profiler(space, progress=False).profile(), key=lambda c: c.flops)
    limit = costs[len(costs) // 2].flops
    pts = [FrontPoint(id=c.id, route=c.route, acc1=60 + i, acc1_source="measured", flops=c.flops,
                      params=c.params, is_anchor=c.route.num_stitches == 0) for i, c in enumerate(costs)]
    members = [p for p in pts if p.flops <= limit]
    front = Front(space=space.name, space_hash=space.content_hash, target="mcu_flops",
                  objectives=("acc1", "flops"), target_budgets={"max_flops": limit},
                  members=tuple(members), study={"candidates": 40, "distinct_candidates": len(pts)})
    plt = pyplot()
    fig, ax = plt.subplots()
    try:
        _panel(ax, front, pts, "flops", ["s", "l"])
        labels = ax.get_legend_handles_labels()[1]
        over = sum(p.flops > limit for p in pts)
        assert f"evaluated ({len(pts)} of 40)" in labels and f"over budget ({over})" in labels
        assert any(lab.startswith("budget: ") and "FLOPs" in lab for lab in labels)
        faded = [c for c in ax.collections if c.get_alpha() == 0.25]
        assert len(faded) == 1 and len(faded[0].get_offsets()) == over
        boxes = [t.get_window_extent() for t in ax.texts]
        assert boxes and not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    finally:
        plt.close(fig)


def test_a_huge_front_tries_few_labels_anchors_first(space, monkeypatch):
    """A front of thousands (priors alone) labels the anchors and at most MAX_LABELS members spread
    along it, none overlapping, instead of trying every member."""
    import time

    import stitchnas.plots as plot_mod

    monkeypatch.setattr(plot_mod, "MAX_LABELS", 40)
    costs = Profiler(space, progress=False).profile()
    anchor = next(c for c in costs if c.route.num_stitches == 0)
    stitch = next(c for c in costs if c.route.num_stitches)
    pts = [FrontPoint(id=i, route=(anchor if i in (0, 4999) else stitch).route, acc1=60 + i / 250,
                      acc1_source="prior", flops=1e6 + 1e3 * i, params=1, is_anchor=i in (0, 4999))
           for i in range(5000)]
    front = Front(space=space.name, space_hash=space.content_hash, target="flops", objectives=("acc1", "flops"),
                  target_budgets={}, members=tuple(pts), study={"candidates": 5000, "distinct_candidates": 5000})
    plt = pyplot()
    fig, ax = plt.subplots()
    try:
        t = time.perf_counter()
        _panel(ax, front, pts, "flops", ["s", "l"])
        assert time.perf_counter() - t < 5
        texts = [t.get_text() for t in ax.texts]
        assert {"s (0)", "s (4999)"} <= set(texts)
        assert 2 < len(texts) <= 40
        ids = sorted(int(t) for t in texts if t.isdigit())
        assert ids[-1] - ids[0] > 2500  # spread along the front, not the first few
        boxes = [t.get_window_extent() for t in ax.texts]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    finally:
        plt.close(fig)


def test_budgets_print_in_readable_units():
    assert format_budgets({"max_flops": 5_000_000, "max_latency_ms": None}) == "flops <= 5 MFLOPs"
    assert format_budgets({"max_params": 2.5e7, "max_latency_ms": 20}) == \
        "params <= 25 M params, latency_ms <= 20 ms"
    assert format_budgets({}) == "no budgets"


def test_the_line_between_anchors_is_drawn_and_anchors_off_the_front_are_named(space):
    """The dotted line a stitch must beat joins the anchors in cost order; an anchor the front
    leaves out (dominated, or over budget) is still drawn, hollow, and labelled by name."""
    costs = sorted(Profiler(space, progress=False).profile(), key=lambda c: c.flops)
    pts = [FrontPoint(id=c.id, route=c.route, acc1=70 + (5 if c.route.num_stitches == 0 else i % 7),
                      acc1_source="measured", flops=c.flops, params=c.params,
                      is_anchor=c.route.num_stitches == 0) for i, c in enumerate(costs)]
    anchors = sorted((p for p in pts if p.is_anchor), key=lambda p: p.flops)
    members = [anchors[0]] + [p for p in pts if not p.is_anchor and p.acc1 > 75]
    front = Front(space=space.name, space_hash=space.content_hash, target="flops",
                  objectives=("acc1", "flops"), members=tuple(members), study={"candidates": len(pts)})
    plt = pyplot()
    fig, ax = plt.subplots()
    try:
        _panel(ax, front, pts, "flops", ["s", "l"])
        line = next(ln for ln in ax.get_lines() if ln.get_label() == "line between anchors")
        assert list(line.get_xdata()) == [a.flops / 1e6 for a in anchors]
        assert list(line.get_ydata()) == [a.acc1 for a in anchors]
        assert "anchors off the front" in ax.get_legend_handles_labels()[1]
        assert f"l ({anchors[1].id})" in [t.get_text() for t in ax.texts]
    finally:
        plt.close(fig)
