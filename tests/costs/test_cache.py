"""One reader and writer for the derived-data caches (space structure, FLOPs profile, memory):
stale, broken or mismatched documents read as None; an unwritable cache is ignored or, where the
caller asks, one line that says how to move it."""

from __future__ import annotations

import json

import pytest

from stitchnas._cache import cache_file, check_cache_writable, load_cached, save_cached
from stitchnas.errors import StitchnasError


def test_round_trip_and_what_makes_a_document_stale(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path))
    path = cache_file("memory", "myspace", "abc123", "b64x1x28x28", "float32")
    assert path == tmp_path / "memory" / "myspace-abc123-b64x1x28x28-float32.json"
    versions = {"torch": "2.14.1", "timm": "1.0.31"}
    save_cached(path, {"input": [64, 1, 28, 28], "memory": {"stem:0": [1, 2]}}, versions)
    doc = load_cached(path, versions, input=[64, 1, 28, 28])
    assert doc["memory"] == {"stem:0": [1, 2]} and doc["versions"] == versions
    assert load_cached(path, {**versions, "timm": "1.0.32"}) is None     # another timm
    assert load_cached(path, versions, input=[1, 1, 28, 28]) is None     # another input
    path.write_text("{not json")
    assert load_cached(path, versions) is None
    path.write_text(json.dumps([1, 2]))
    assert load_cached(path, versions) is None
    assert load_cached(tmp_path / "missing.json", versions) is None
    assert load_cached(None, versions) is None


def test_a_bad_space_name_cannot_leave_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path))
    with pytest.raises(StitchnasError):
        cache_file("profiles", "../escape", "abc")


def test_an_unwritable_cache_costs_time_or_says_how_to_move_it(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    path = blocker / "structure" / "s-abc.json"  # a folder under a file: cannot be made
    save_cached(path, {"depths": [1]}, {"torch": "x"})  # best effort: no error
    assert not path.exists()
    with pytest.raises(StitchnasError, match="STITCHNAS_CACHE"):
        save_cached(path, {"depths": [1]}, {"torch": "x"}, what="profile cache", strict=True)
    with pytest.raises(StitchnasError, match="profile cache .*STITCHNAS_CACHE"):
        check_cache_writable(path, "profile cache")  # before any work, the same advice
    check_cache_writable(tmp_path / "fine" / "s-abc.json")


def test_one_cache_folder_for_everything(tmp_path, monkeypatch):
    """$STITCHNAS_CACHE wins, then an absolute $XDG_CACHE_HOME (a relative one is ignored, as
    the XDG rule says), then ~/.cache; a downloaded data set goes in the same folder."""
    from stitchnas.measure._fashion import _cache_dir
    from stitchnas.paths import cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("STITCHNAS_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == tmp_path / "home" / ".cache" / "stitchnas"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache_dir() == tmp_path / "home" / ".cache" / "stitchnas"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "stitchnas"
    assert cache_file("profiles", "s", "abc").parent == tmp_path / "xdg" / "stitchnas" / "profiles"
    assert _cache_dir() == tmp_path / "xdg" / "stitchnas" / "data"
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine" and _cache_dir() == tmp_path / "mine" / "data"
    (tmp_path / "xdg" / "stitchnas").parent.mkdir()
    (tmp_path / "xdg" / "stitchnas").write_text("")
    monkeypatch.delenv("STITCHNAS_CACHE")
    with pytest.raises(StitchnasError, match="XDG_CACHE_HOME"):
        cache_dir()
