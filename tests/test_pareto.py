import numpy as np
import pytest

from stitchnas.pareto import front_indices, hypervolume, nondominated, pareto_mask
from stitchnas.plots import plot_tradeoff


def test_front_and_ties():
    acc = [70, 75, 74, 80, 80, 60]
    cost = [1, 2, 3, 4, 4, 5]
    assert pareto_mask(acc, cost).tolist() == [True, True, False, True, True, False]
    assert front_indices(acc, cost) == [0, 1, 3, 4]


def test_hypervolume_by_hand():
    # front (1, 70), (2, 75), (4, 80); reference (acc 60, cost 5)
    hv = hypervolume([70, 75, 74, 80], [1, 2, 3, 4], ref_acc=60, ref_cost=5)
    assert hv == pytest.approx(10 * 1 + 15 * 2 + 20 * 1)
    assert hypervolume([50], [1], ref_acc=60, ref_cost=5) == 0.0
    # adding a dominated point changes nothing; a better one increases it
    assert hypervolume([70, 75, 80, 71], [1, 2, 4, 3], 60, 5) == pytest.approx(hv)
    assert hypervolume([70, 75, 80, 79], [1, 2, 4, 3], 60, 5) > hv


def test_random_points_front_is_mutually_non_dominated():
    rng = np.random.default_rng(0)
    acc, cost = rng.uniform(60, 80, 200), rng.uniform(1, 10, 200)
    front = front_indices(acc, cost)
    for i in front:
        assert not any((acc[j] >= acc[i]) and (cost[j] <= cost[i]) and (acc[j] > acc[i] or cost[j] < cost[i])
                       for j in range(200))


def _pairwise(values, directions):
    m = np.asarray(values, dtype=float) * np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return [not any((m[j] <= m[i]).all() and (m[j] < m[i]).any() for j in range(len(m))) for i in range(len(m))]


@pytest.mark.parametrize("directions", [("maximize", "minimize"), ("minimize", "minimize"),
                                        ("maximize", "minimize", "minimize")])
def test_nondominated_is_strict_domination_in_any_directions(directions):
    rng = np.random.default_rng(0)
    for _ in range(50):
        values = rng.integers(0, 5, (int(rng.integers(0, 25)), len(directions))).astype(float)
        assert nondominated(values, directions).tolist() == _pairwise(values, directions)
    acc, cost = values[:, 0], values[:, 1]
    assert pareto_mask(acc, cost).tolist() == nondominated(np.c_[acc, cost], ("maximize", "minimize")).tolist()
    same = nondominated(np.array([[1.0, 2.0], [1.0, 2.0], [0.5, 3.0]]), ("maximize", "minimize"))
    assert same.tolist() == [True, True, False]  # exact ties both stay
    with pytest.raises(ValueError):
        nondominated(np.zeros((3, 2)), ("maximize",))


def test_plot_written(tmp_path):
    path = plot_tradeoff(tmp_path / "p.png", [1, 2, 3], [70, 72, 80], [True, False, True], ["a", "", "b"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_prediction_never_pushes_out_a_measured_row():
    """A measured row is dominated only by measured rows; predicted rows by anyone."""
    from stitchnas.pareto import nondominated

    # (acc, cost): 0 measured, 1 predicted and better than 0, 2 predicted and worse than 0,
    # 3 measured and dominated by measured 0
    rows = np.array([[80.0, 2.0], [85.0, 1.0], [70.0, 3.0], [79.0, 2.5]])
    d = ("maximize", "minimize")
    assert nondominated(rows, d).tolist() == [False, True, False, False]
    mixed = nondominated(rows, d, certain=[True, False, False, True])
    assert mixed.tolist() == [True, True, False, False]
    assert nondominated(rows, d, certain=[True] * 4).tolist() == nondominated(rows, d).tolist()
    assert nondominated(rows, d, certain=[False] * 4).tolist() == nondominated(rows, d).tolist()


def test_hypervolume_refuses_costs_that_do_not_pair_with_accuracies():
    with pytest.raises(ValueError, match=r"one cost per accuracy, got \(2,\) accuracies and \(1,\) costs"):
        hypervolume([70.0, 80.0], [1.0], 0.0, 3.0)
