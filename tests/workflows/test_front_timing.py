"""`stitchnas run` times each latency front's members end to end and says whether the front is
ordered as measured."""

from types import SimpleNamespace

from stitchnas.costs import time_end_to_end
from stitchnas.workflows._front_timing import order_line


def test_members_are_timed_end_to_end():
    ms = time_end_to_end("tiny_test", "cpu", [0, 1, 2], repeats=3, warmup=1)
    assert set(ms) == {0, 1, 2} and all(v > 0 for v in ms.values())


def test_order_line_names_pairs_out_of_order():
    m = [SimpleNamespace(id=i, latency_ms=v) for i, v in ((3, 1.0), (5, 2.0), (7, 3.0))]
    assert "ordered as the latency table says" in order_line(m, {3: 1.1, 5: 2.2, 7: 2.9})
    line = order_line(m, {3: 1.1, 5: 3.5, 7: 2.9})
    assert "1 pair(s) out of order" in line and "5 timed slower than 7" in line
    assert line.endswith("do not order this front.")  # no warning was given: none is pointed to
    assert order_line(m, {3: 1.1, 5: 3.5, 7: 2.9}, warned=True).endswith("; see the warning above.")


def test_pairs_the_table_cannot_tell_apart_are_not_out_of_order():
    """Two members closer in the table than its median error, or timed the other way round by less
    than it, may come out either way: the line counts them apart, and still names a pair the table
    separates and the timing reverses by more than the error."""
    m = [SimpleNamespace(id=i, latency_ms=v) for i, v in ((3, 1.0), (5, 2.0), (7, 2.01))]
    line = order_line(m, {3: 1.1, 5: 2.3, 7: 2.2}, tolerance_pct=1.0)   # 5 and 7: 0.5% apart in the table
    assert "ordered as the latency table says; 1 pair(s) timed the other way round within the table's " \
           "validation error (1.0%)" in line
    assert "1 pair(s) out of order (5 timed slower than 7)" in order_line(m, {3: 1.1, 5: 2.3, 7: 2.2})
    line = order_line(m, {3: 2.5, 5: 2.3, 7: 2.2}, tolerance_pct=1.0)
    assert "2 pair(s) out of order (3 timed slower than 5, 3 timed slower than 7)" in line
    assert "(1 pair(s) timed the other way round within" in line
    # 3 and 5 are 100% apart in the table but timed only 0.4% the other way round: noise
    line = order_line(m, {3: 2.31, 5: 2.3, 7: 2.4}, tolerance_pct=1.0)
    assert "ordered as the latency table says; 1 pair(s)" in line


def test_a_front_step_within_the_tables_error_is_a_one_line_warning():
    """A member kept on a latency front for being faster than a more accurate one by less than the
    table's median validation error (which the front carries) is kept for noise: the run says so,
    naming the pair and how to resolve it; steps wider than the error, a front without an error,
    or a member that is also leaner in memory on a front over memory too, say nothing."""
    from stitchnas.fronts import front_resolution_warning as resolution_warning

    def member(i, ms, a, mem=1.0):
        m = SimpleNamespace(id=i, latency_ms=ms, acc1=a, memory_mb=mem)
        m.value = lambda o: getattr(m, o)
        return m

    m = [member(i, ms, a) for i, ms, a in ((16, 2.48, 53.65), (17, 2.49, 55.64), (0, 2.50, 78.74), (1, 3.5, 80.0))]

    def front(error_pct, members=m, costs=("latency_ms",)):
        return SimpleNamespace(target="cpu", members=members, latency_error_pct=error_pct,
                               cost_objectives=costs)

    line = resolution_warning(front(1.8), 1)
    assert "\n" not in line and line.startswith("the cpu front has 2 of its 3 latency steps within "
                                                "the table's median error (1.8%), e.g. 17 is 0.4% "
                                                "faster than 0 and 23.10 points less accurate")
    assert "(a target with batch_size above 1, e.g. cpu_batch64)" in line
    assert "(a target with batch_size above 64)" in resolution_warning(front(1.8), 64)
    assert "(a target with a bigger batch_size)" in resolution_warning(front(1.8))
    assert resolution_warning(front(0.3), 1) is None  # every step resolved
    assert resolution_warning(front(None), 1) is None
    assert resolution_warning(front(1.8, m[:1]), 1) is None
    # on a front over latency and memory, a member that needs less memory is there for that
    lean = [member(16, 2.48, 53.65, 0.5), member(17, 2.49, 55.64, 0.7), *m[2:]]
    assert resolution_warning(front(1.8, lean, ("latency_ms", "memory_mb")), 1) is None
    assert "has 2 of its 3" in resolution_warning(front(1.8, m, ("latency_ms", "memory_mb")), 1)
    assert "has 1 of its 3" in resolution_warning(front(1.8, [lean[0], *m[1:]], ("latency_ms", "memory_mb")), 1)


def test_a_table_off_this_machine_now_is_a_one_line_warning():
    """A reused table can be right in order and wrong in scale: the run says how far, and warns
    past the validation limit with the command that re-times it."""
    from stitchnas.workflows._front_timing import drift_warning

    m = [SimpleNamespace(id=i, latency_ms=v) for i, v in ((3, 1.0), (5, 2.0), (7, 3.0))]
    close = {3: 1.02, 5: 2.05, 7: 3.0}  # 2%: noise
    assert "median 2% slower than the table" in order_line(m, close)
    assert drift_warning("cpu", m, close, "demo") is None
    assert drift_warning("cpu", m, {3: 1.08, 5: 2.16, 7: 3.24}, "demo") is None  # 8%: within 10%
    slow = {3: 1.2, 5: 2.4, 7: 3.6}
    assert "median 20% slower than the table" in order_line(m, slow)
    warning = drift_warning("cpu", m, slow, "demo")
    assert "\n" not in warning and "20% faster than this machine now" in warning
    assert "stitchnas profile-latency demo --target cpu --force" in warning
    fast = {3: 0.8, 5: 1.6, 7: 2.4}
    assert "20% slower than this machine now" in drift_warning("cpu", m, fast, "demo")
    # a table timed in this same run: what moved is the machine, and the line says so
    fresh = drift_warning("cpu", m, fast, "demo", fresh=True)
    assert "\n" not in fresh and "timed earlier in this run, is 20% slower than this machine now" in fresh
    assert "this machine's speed moved that much meanwhile, so latencies here are good to about 20%" in fresh
    assert "stitchnas profile-latency demo --target cpu --force" in fresh
    assert drift_warning("cpu", m, close, "demo", fresh=True) is None


def test_a_saved_table_off_this_machine_is_re_timed_by_run(tmp_path, monkeypatch):
    """`run` reuses a saved latency table only while it fits this machine as it runs now: its
    anchors are timed end to end first, and a table off by more than the validation limit is
    re-timed, not searched with."""
    import json

    from stitchnas.costs import get_latency_table, latency_table_path, load_target
    from stitchnas.space import load_space
    from stitchnas.workflows._run import _current_table

    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
    space, target = load_space("tiny_test"), load_target("cpu")
    logged = []
    table, status = _current_table(space, target, 5, 0, 0, logged.append)
    assert status == "profiled" and not logged and not table.reused  # run's drift line: "timed in this run"
    path = latency_table_path(space, target)
    doc = json.loads(path.read_text())
    for piece in doc["pieces"].values():  # a table from a machine ten times slower (far beyond
        for key in ("median_ms", "p10_ms", "p90_ms"):  # this machine's own drift, up to 50% here)
            piece[key] *= 10
        piece["samples_ms"] = [t * 10 for t in piece["samples_ms"]]
    path.write_text(json.dumps(doc))
    stale = get_latency_table(space, target)
    anchor = next(c.id for c in space.candidates if c.is_anchor)
    assert stale.reused and stale.latency_ms(anchor) > 5 * table.latency_ms(anchor)

    table, status = _current_table(space, target, 5, 0, 0, logged.append)
    assert status.startswith("re-timed (the saved table was") and not table.reused
    assert len(logged) == 1 and "re-timing it" in logged[0]
    # the file was rewritten with this machine's times (not compared by size: a test beside it may load the CPU)
    assert json.loads(path.read_text())["pieces"] != doc["pieces"]
    assert get_latency_table(space, target).latency_ms(anchor) == table.latency_ms(anchor)
    again, status = _current_table(space, target, 5, 0, 0, logged.append)
    if status == "reused":  # unless this machine drifted past the limit within seconds
        assert again.reused  # run's drift line then speaks of a saved table


def test_weak_proxy_scores_are_said_when_they_decide_unmeasured_stitches():
    from stitchnas.workflows._run import WEAK_PROXY_TAU, weak_proxy_warning

    line = weak_proxy_warning("proxy", 0.12, 16, 83)
    assert line.startswith("the proxy scores rank the 16 measured stitches only at Kendall tau 0.12: "
                           "the predicted top-1 of the other 67 is little better than a guess")
    assert "`proxy_images:`" in line and "`rounds:`" in line
    assert weak_proxy_warning("proxy", 0.85, 16, 83) is None            # the demo's
    assert weak_proxy_warning("proxy", WEAK_PROXY_TAU, 16, 83) is None
    assert weak_proxy_warning("proxy", -0.5, 14, 14) is None            # every stitch measured
    assert weak_proxy_warning("route", 0.0, 16, 83) is None             # the proxy model not used
    assert weak_proxy_warning("proxy", None, 2, 83) is None


def test_a_saved_table_without_per_round_times_is_re_timed_by_run(tmp_path, monkeypatch):
    """A table saved before tables kept each round's times composes by summing the pieces'
    percentiles, which runs low against end-to-end runs: `run` re-times it rather than search
    with it, and the new table composes round by round."""
    import json

    from stitchnas.costs import get_latency_table, latency_table_path, load_target
    from stitchnas.space import load_space
    from stitchnas.workflows._run import _current_table

    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
    space, target = load_space("tiny_test"), load_target("cpu")
    table, status = _current_table(space, target, 5, 0, 0, [].append)
    assert status == "profiled" and table.per_round
    path = latency_table_path(space, target)
    doc = json.loads(path.read_text())
    for piece in doc["pieces"].values():
        del piece["samples_ms"]
    path.write_text(json.dumps(doc))
    old = get_latency_table(space, target)
    assert old.reused and not old.per_round

    logged = []
    table, status = _current_table(space, target, 5, 0, 0, logged.append)
    assert status == "re-timed (the saved table predated per-round composition)" and not table.reused
    assert len(logged) == 1 and "predates per-round composition" in logged[0] and "\n" not in logged[0]
    assert get_latency_table(space, target).per_round  # the file was rewritten


def test_a_saved_table_is_reused_only_within_the_median_limit():
    """A reused table must fit the machine as a fresh one must (median within 5%), not merely
    within the worst-case limit: one reused at 8% off met the machine's drift at the front's
    timing and warned."""
    from stitchnas.costs import MAX_MEDIAN_APE_PCT, MAX_WORST_APE_PCT
    from stitchnas.workflows._front_timing import fits_machine

    assert fits_machine(0.0) and fits_machine(4.9) and fits_machine(-4.9)
    assert fits_machine(MAX_MEDIAN_APE_PCT) and not fits_machine(MAX_MEDIAN_APE_PCT + 0.1)
    assert not fits_machine(8.0) and not fits_machine(-8.0)
    assert not fits_machine(MAX_WORST_APE_PCT)


def test_the_order_check_resolves_to_the_tables_worst_validation_error():
    """The run's report checks a front's order to the table's worst validation error (of the
    composition it uses), and to the front's median error where the table has no validation."""
    from stitchnas.costs._table import PLAIN_SUM
    from stitchnas.workflows._front_timing import order_tolerance

    front = SimpleNamespace(latency_error_pct=0.4)
    raw = {"median_ape_pct": 1.1, "worst_ape_pct": 2.0}
    table = SimpleNamespace(validation={"raw": raw, "composition": PLAIN_SUM})
    assert order_tolerance(table, front) == 2.0
    loo = {"median_ape_pct": 0.4, "worst_ape_pct": 1.2}
    table = SimpleNamespace(validation={"raw": raw, "corrected_loo": loo, "composition": "overhead"})
    assert order_tolerance(table, front) == 1.2
    assert order_tolerance(SimpleNamespace(validation=None), front) == 0.4
    assert order_tolerance(None, front) == 0.4
