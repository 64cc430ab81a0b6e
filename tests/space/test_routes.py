import json

import pytest

from stitchnas.errors import StitchnasError
from stitchnas.space import Candidate, Junction, Route, Segment


def test_string_and_json_round_trip():
    r = Route.parse("0[0:4]>1[5:12]>0[9:12]")
    assert str(r) == "0[0:4]>1[5:12]>0[9:12]"
    assert Route.of(json.loads(json.dumps(r.to_json()))) == r
    assert r.to_json() == [[0, 0, 4], [1, 5, 12], [0, 9, 12]]
    assert r.num_stitches == 2 and r.anchors == (0, 1, 0)
    assert r.junctions == (Junction(0, 4, 1, 5), Junction(1, 12, 0, 9))
    assert len({r, Route.parse("0[0:4]>1[5:12]>0[9:12]")}) == 1  # hashable, equal by value


@pytest.mark.parametrize(
    "segments, message",
    [
        ([], "at least one segment"),
        ([[0, 3, 3]], "empty"),
        ([[0, 5, 2]], "empty"),
        ([[0, -1, 2]], "negative"),
        ([[0, 0, 4], [-1, 4, 12]], "negative"),
        ([[0, 0, 4], [1, 6, 4]], "empty"),
        ([[0, 0, 4], [0, 4, 12]], "to itself"),
        ([[0, 0, 6], [1, 6, 8], [0, 4, 12]], "overlap"),
        ([[0, 0, "4"]], "three integers"),
        ([[0, 0]], "three integers"),
    ],
)
def test_bad_routes_are_clear_errors(segments, message):
    with pytest.raises(StitchnasError, match=message):
        Route.of(segments)


@pytest.mark.parametrize(
    "route, depths, message",
    [
        ("2[0:12]", (12, 12), "names anchor 2"),
        ("0[0:4]>1[4:13]", (12, 12), "ends past"),
        ("0[1:4]>1[4:12]", (12, 12), "start at block 0"),
        ("0[0:4]>1[4:11]", (12, 12), "run to the last block"),
    ],
)
def test_route_validation_against_depths(route, depths, message):
    with pytest.raises(StitchnasError, match=message):
        Route.parse(route).validate(depths)


def test_unparseable_string():
    with pytest.raises(StitchnasError, match="ANCHOR\\[START:END\\]"):
        Route.parse("0[0-4]>1[4:12]")


def test_candidate_needs_one_key_per_junction():
    with pytest.raises(ValueError):
        Candidate(0, Route.parse("0[0:4]>1[4:12]"), ())
    assert Candidate(0, Route((Segment(0, 0, 12),))).is_anchor
