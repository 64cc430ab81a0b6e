"""`stitchnas run` times each latency front's members end to end and says whether the front is
ordered as measured."""

from types import SimpleNamespace

from stitchnas.costs import time_end_to_end
from stitchnas.workflows._run import _order_line


def test_members_are_timed_end_to_end():
    ms = time_end_to_end("tiny_test", "cpu", [0, 1, 2], repeats=3, warmup=1)
    assert set(ms) == {0, 1, 2} and all(v > 0 for v in ms.values())


def test_order_line_names_pairs_out_of_order():
    m = [SimpleNamespace(id=i, latency_ms=v) for i, v in ((3, 1.0), (5, 2.0), (7, 3.0))]
    assert "ordered as the latency table says" in _order_line(m, {3: 1.1, 5: 2.2, 7: 2.9})
    line = _order_line(m, {3: 1.1, 5: 3.5, 7: 2.9})
    assert "1 pair(s) out of order" in line and "5 timed slower than 7" in line

