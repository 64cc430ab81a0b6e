"""Anchors' top-1 priors in space files (``acc1:``) and on the command line (``--anchor-acc``)."""

import pytest
from support import tiny_anchor, write_space

from stitchnas.errors import StitchnasError
from stitchnas.space import load_space

RULE = "rule: {type: two_way, max_stitches: 1}\n"


def _space(tmp_path, s_acc="", l_acc="", name="space.yaml"):
    s = tiny_anchor("s", 16)[:-1] + (f", acc1: {s_acc}}}" if s_acc != "" else "}")
    l_ = tiny_anchor("l", 32)[:-1] + (f", acc1: {l_acc}}}" if l_acc != "" else "}")
    return write_space(tmp_path, f"name: prior\ninput_size: [1, 28, 28]\nanchors:\n  - {s}\n  - {l_}\n{RULE}",
                       name)


def test_acc1_loads_and_stays_out_of_the_hashes(tmp_path):
    with_acc = load_space(_space(tmp_path, 72.2, 79.8, "a.yaml"))
    without = load_space(_space(tmp_path, name="b.yaml"))
    assert with_acc.anchor_acc1 == (72.2, 79.8)
    assert without.anchor_acc1 == (None, None)
    # a changed prior must not orphan measured rows, checkpoints or fronts
    assert with_acc.content_hash == without.content_hash
    assert with_acc.structure_hash == without.structure_hash


def test_anchor_acc_overrides_the_file_and_keeps_the_hash(tmp_path):
    space = load_space(_space(tmp_path, 72.2))
    given = space.with_anchor_acc1({"l": 81})
    assert given.anchor_acc1 == (72.2, 81.0) and space.anchor_acc1 == (72.2, None)
    assert given.content_hash == space.content_hash and len(given) == len(space)


@pytest.mark.parametrize("value, shown", [(150, "got 150"), ("high", "got 'high'"), ("true", "got True"),
                                          (-1, "got -1"), (".nan", "got nan")])
def test_bad_acc1_is_a_one_line_error(tmp_path, value, shown):
    path = _space(tmp_path, value, 80)
    with pytest.raises(StitchnasError) as err:
        load_space(path)
    msg = str(err.value)
    assert "\n" not in msg and "anchor 0 (s) 'acc1'" in msg and "in percent (a number in 0..100)" in msg
    assert shown in msg and str(path) in msg


def test_unknown_anchor_name_says_the_close_one(tmp_path):
    space = load_space(_space(tmp_path))
    with pytest.raises(StitchnasError, match=r"has no anchor 'ss'; did you mean s\?; its anchors are s, l"):
        space.with_anchor_acc1({"ss": 70.0})
    with pytest.raises(StitchnasError, match="the top-1 of anchor 's' must be a top-1 accuracy in percent"):
        space.with_anchor_acc1({"s": 700.0})


def test_given_as_is_the_bundled_name_or_the_path(tmp_path):
    assert load_space("tiny_test").given_as == "tiny_test"
    path = _space(tmp_path)
    assert load_space(path).given_as == str(path)
