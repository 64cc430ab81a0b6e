"""The id cache: a large space enumerated once answers front checks (every ``query`` and
``export``) from a file, with the same routes and the same refusals, and never from a file of
other code or versions, a broken one, or a space below the size that is cached."""

from __future__ import annotations

import dataclasses
import json

import pytest

from stitchnas.errors import StitchnasError
from stitchnas.fronts import Front, FrontPoint, check_front
from stitchnas.space import _idcache, load_space


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path))
    monkeypatch.setattr(_idcache, "MIN_IDS", 1)  # tiny_test (14 ids) stands for a large space
    return tmp_path / "ids"


def _front(space, ids, last_route=None, last_is_anchor=None) -> Front:
    """A front of ``space``'s ids (cheapest first); the last member's route or anchor flag edited."""
    members = []
    for k, i in enumerate(ids):
        last = k == len(ids) - 1
        route = last_route if last and last_route is not None else space.candidate(i).route
        anchor = last_is_anchor if last and last_is_anchor is not None else i < 2
        members.append(FrontPoint(id=i, route=route, acc1=60.0 + k, acc1_source="measured",
                                  flops=1000 * (k + 1), params=100, is_anchor=anchor))
    return Front(space=space.name, space_hash=space.content_hash, target="flops",
                 objectives=("acc1", "flops"), members=tuple(members))


def test_enumerated_space_answers_checks_from_its_file(cache):
    built = load_space("tiny_test")
    routes = [c.route if c is not None else None for c in built._slots]
    assert len(list(cache.glob("tiny_test-*.json"))) == 1
    good = _front(built, [0, 2, 3, 1])

    again = load_space("tiny_test")
    assert list(again.id_routes) == routes
    assert check_front(good, again) is good
    assert "_slots" not in again.__dict__  # checked without enumerating

    wrong_route = _front(built, [0, 2, 3], last_route=built.candidate(4).route)
    says = r"member id 3 has route .*, but candidate 3 of space 'tiny_test' is"
    with pytest.raises(StitchnasError, match=says):
        check_front(wrong_route, load_space("tiny_test"))
    with pytest.raises(StitchnasError, match="member id 2: 'is_anchor' is true"):
        check_front(_front(built, [0, 2], last_is_anchor=True), load_space("tiny_test"))
    near = _front(built, [0, 2])
    far = dataclasses.replace(near, members=(near.members[0], dataclasses.replace(near.members[1], id=99)))
    with pytest.raises(StitchnasError, match=r"member id 99 is not in space 'tiny_test' \(ids 0..13\)"):
        check_front(far, load_space("tiny_test"))


def test_file_of_other_code_versions_or_broken_is_not_trusted(cache, monkeypatch):
    routes = [c.route if c is not None else None for c in load_space("tiny_test")._slots]
    (path,) = cache.glob("tiny_test-*.json")

    real = _idcache._code_digest
    monkeypatch.setattr(_idcache, "_code_digest", lambda rule: "another-rule-src")
    other = load_space("tiny_test")
    assert list(other.id_routes) == routes and "_slots" in other.__dict__  # enumerated
    (newer,) = cache.glob("tiny_test-*.json")  # saved under its own name; the other's file removed
    assert newer != path
    monkeypatch.setattr(_idcache, "_code_digest", real)
    assert list(load_space("tiny_test").id_routes) == routes
    assert [p.name for p in cache.glob("tiny_test-*.json")] == [path.name]  # and back

    doc = json.loads(path.read_text())
    doc["versions"]["timm"] = "0.0.0"
    path.write_text(json.dumps(doc))
    stale = load_space("tiny_test")
    assert list(stale.id_routes) == routes and "_slots" in stale.__dict__
    for text in ("{broken", json.dumps({**doc, "routes": [[0, 0]]}), json.dumps({**doc, "routes": "x"})):
        path.write_text(text)
        fresh = load_space("tiny_test")
        assert list(fresh.id_routes) == routes and "_slots" in fresh.__dict__
        assert list(load_space("tiny_test").id_routes) == routes  # written again, and read
        assert json.loads(path.read_text())["routes"] != "x"


def test_small_spaces_write_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path))
    space = load_space("tiny_test")
    assert len(space.candidates) < _idcache.MIN_IDS
    assert not (tmp_path / "ids").exists()
    fresh = load_space("tiny_test")
    assert len(fresh.id_routes) == 14 and "_slots" in fresh.__dict__  # enumerated, as each time
