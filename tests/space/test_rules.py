import pytest

from stitchnas.errors import StitchnasError
from stitchnas.space import Route
from stitchnas.space import get_rule, list_rules


def routes(rule, depths):
    return [None if c is None else str(c.route) for c in rule.enumerate(depths)]


def test_registry_lists_and_suggests():
    assert list_rules() == ["snnet_stages", "snnet_v1", "snnet_v2", "two_way"]
    assert list_rules("snnet_v*") == ["snnet_v1", "snnet_v2"]
    with pytest.raises(StitchnasError, match="did you mean snnet_v1"):
        get_rule({"type": "snnet_v11"})
    with pytest.raises(StitchnasError, match="no option 'kernel'"):
        get_rule({"type": "snnet_v1", "kernel": 2})
    with pytest.raises(StitchnasError, match="positive integer"):
        get_rule({"type": "snnet_v1", "stride": 0})
    with pytest.raises(StitchnasError, match=r"got 'two_way': write rule: \{type: two_way\}"):
        get_rule("two_way")  # a bare rule name: the fix is spelt out
    with pytest.raises(StitchnasError, match=r"got 'two-way'$"):
        get_rule("two-way")


def test_snnet_v1_official_order_deit_tsb():
    rule = get_rule({"type": "snnet_v1", "kernel_size": 2, "stride": 1, "pairs": "nearest"})
    cands = rule.enumerate((12, 12, 12))
    assert len(cands) == 71
    r = [str(c.route) for c in cands]
    assert r[:3] == ["0[0:12]", "1[0:12]", "2[0:12]"]
    # first window (0, 1): (0,0) (0,1) (1,0) (1,1); then window (1, 2): (1,2) (2,1) (2,2)
    assert r[3:10] == ["0[0:1]>1[0:12]", "0[0:1]>1[1:12]", "0[0:2]>1[0:12]", "0[0:2]>1[1:12]",
                       "0[0:2]>1[2:12]", "0[0:3]>1[1:12]", "0[0:3]>1[2:12]"]
    assert r[36] == "0[0:12]>1[11:12]" and r[37] == "1[0:1]>2[0:12]" and r[70] == "1[0:12]>2[11:12]"
    keys = {c.layer_keys[0] for c in cands[3:37]}
    assert len(keys) == 11  # one stitching layer per window of SN-Net's paired stitching
    assert cands[3].layer_keys == cands[6].layer_keys == ("0>1@w0",)


def test_snnet_v1_needs_equal_depths():
    with pytest.raises(StitchnasError, match="equal depth"):
        get_rule({"type": "snnet_v1"}).check((12, 24))


def test_snnet_v2_official_order_deit3_sl():
    cands = get_rule({"type": "snnet_v2"}).enumerate((12, 24))
    assert len(cands) == 135
    assert sum(c is not None for c in cands) == 134
    r = [None if c is None else str(c.route) for c in cands]
    assert r[:4] == ["0[0:12]", "1[0:24]", "0[0:1]>1[2:24]", "0[0:2]>1[4:24]"]
    assert r[12] == "0[0:11]>1[22:24]" and r[13] is None  # S->L with no L blocks left
    assert r[14] == "1[0:2]>0[1:12]" and r[24] == "1[0:22]>0[11:12]"  # L->S, odd i only
    assert r[25] == "1[0:2]>0[1:2]>1[4:24]"  # first L->S->L
    assert r[25 + 55] == "0[0:1]>1[2:4]>0[2:12]"  # first S->L->S
    assert r[-1] == "0[0:10]>1[20:22]>0[11:12]"
    for c in cands:
        if c is not None:
            c.route.validate((12, 24))


def test_snnet_v2_equal_depth_and_bad_anchors():
    r = routes(get_rule({"type": "snnet_v2"}), (4, 4))
    assert r[:6] == ["0[0:4]", "1[0:4]", "0[0:1]>1[1:4]", "0[0:2]>1[2:4]", "0[0:3]>1[3:4]", None]
    assert r[6:9] == ["1[0:1]>0[1:4]", "1[0:2]>0[2:4]", "1[0:3]>0[3:4]"]
    with pytest.raises(StitchnasError, match="exactly two anchors"):
        get_rule({"type": "snnet_v2"}).check((12, 12, 12))
    with pytest.raises(StitchnasError, match="small anchor first"):
        get_rule({"type": "snnet_v2"}).check((24, 12))


def test_two_way_counts_and_invariants():
    rule = get_rule({"type": "two_way"})
    cands = rule.enumerate((6, 6, 6))
    assert len(cands) == 3 + 20 + 60
    routes_ = [c.route for c in cands]
    assert len(set(routes_)) == len(routes_)
    assert [c.id for c in cands] == list(range(len(cands)))
    for c in cands:
        c.route.validate((6, 6, 6))
        assert c.layer_keys == tuple(str(j) for j in c.route.junctions)
    # there and back: 0 -> 1 -> 0 never re-runs anchor 0's blocks
    assert Route.parse("0[0:2]>1[2:4]>0[4:6]") in routes_
    assert not any(r.num_stitches == 2 and r.anchors == (0, 2, 0) for r in routes_)  # nearest only


def test_two_way_options_change_the_space():
    base = len(get_rule({"type": "two_way", "max_stitches": 1}).enumerate((6, 6, 6)))
    assert base == 3 + 20
    assert len(get_rule({"type": "two_way", "max_stitches": 1, "pairs": "all"}).enumerate((6, 6, 6))) == 3 + 30
    assert len(get_rule({"type": "two_way", "max_stitches": 1, "stride": 2}).enumerate((6, 6, 6))) == 3 + 8
    wide = get_rule({"type": "two_way", "max_stitches": 1, "window": 3}).enumerate((6, 6, 6))
    assert Route.parse("0[0:3]>1[2:6]") in [c.route for c in wide]
    assert len(wide) > base
    # unequal depths map by relative depth
    mixed = routes(get_rule({"type": "two_way", "max_stitches": 1}), (4, 8))
    assert "0[0:2]>1[4:8]" in mixed and "1[0:4]>0[2:4]" in mixed
    with pytest.raises(StitchnasError, match="max_stitches"):
        get_rule({"type": "two_way", "max_stitches": 3})


def test_enumeration_pauses_the_garbage_collector_and_restores_it(monkeypatch):
    """A space's routes are built with cyclic collection paused (a third of the time at 10^5
    candidates), and collection is back on after, also when something inside raises."""
    import gc

    from stitchnas._util import gc_paused
    from stitchnas.space import load_space

    space = load_space("tiny_test")
    seen = []
    enumerate_ = type(space.rule).enumerate

    def watching(self, *args):
        seen.append(gc.isenabled())
        return enumerate_(self, *args)

    monkeypatch.setattr(type(space.rule), "enumerate", watching)
    assert len(space.candidates) > 2 and seen == [False] and gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("a rule that fails")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller's own pause is left as it was
    finally:
        gc.enable()
