"""No name from a user file leads a write outside the results folder: space, target and anchor
names obey one rule when loaded (every writer is refused before it writes), and every result
path built from a name is checked to resolve under its root (a second line of defence)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stitchnas import paths
from stitchnas.errors import StitchnasError
from stitchnas.space import load_space
from support import run_cli

TINY = {"img_size": 28, "patch_size": 7, "in_chans": 1, "num_classes": 10, "embed_dim": 16,
        "depth": 4, "num_heads": 2}


def _space_file(folder: Path, name: str, anchor: str = "s") -> Path:
    doc = {"name": name, "input_size": [1, 28, 28],
           "anchors": [{"name": anchor, "model": "vit_tiny_patch16_224", "kwargs": TINY},
                       {"name": "l", "model": "vit_tiny_patch16_224", "kwargs": {**TINY, "embed_dim": 32}}],
           "rule": {"type": "two_way"}, "data": {"name": "digits"}}
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


BAD_NAMES = ["../../escape_rel", "..", "/tmp/stitchnas_escape_abs", "a/b", "x\\..\\y", ".hidden", ""]

#: every command that writes a result named after the space: (argv after SPACE, what it writes)
WRITERS = {
    "search": (["--target", "flops_budget", "--anchor-acc", "s=60", "--anchor-acc", "l=70"],
               "search.db, fronts"),
    "profile-latency": (["--target", "cpu"], "latency table, profile cache"),
    "evaluate": (["--ids", "0"], "measurements"),
    "train": (["--max-steps", "1"], "stitched checkpoint"),
    "export": (["--id", "0"], "exported stitch"),
}


@pytest.mark.parametrize("verb", sorted(WRITERS))
@pytest.mark.parametrize("name", ["../../escape_rel", "/tmp/stitchnas_escape_abs"])
def test_every_writer_refuses_an_escaping_space_name(verb, name, tmp_path, capsys, monkeypatch):
    work = tmp_path / "a" / "b" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("STITCHNAS_RESULTS", str(work / "results"))
    space = _space_file(work, name)
    before = _files(tmp_path)
    code, out, err = run_cli(capsys, verb, space, *WRITERS[verb][0])
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "'name' must be a name of letters, digits" in err and repr(name) in err
    assert _files(tmp_path) == before, f"{verb} wrote a file"
    assert not Path("/tmp/stitchnas_escape_abs").exists()


@pytest.mark.parametrize("verb", ["search", "profile-latency"])
def test_target_name_escape_refused(verb, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    target = tmp_path / "t.yaml"
    target.write_text("name: ../../escape_t\ncost_model: flops\ndevice: null\n")
    before = _files(tmp_path)
    extra = ["--anchor-acc", "s=60", "--anchor-acc", "l=70"] if verb == "search" else []
    code, out, err = run_cli(capsys, verb, "tiny_test", "--target", target, *extra)
    assert code == 2 and out == "" and "got '../../escape_t'" in err, err
    assert _files(tmp_path) == before


@pytest.mark.parametrize("name", BAD_NAMES)
def test_anchor_names_follow_the_rule(name, tmp_path):
    with pytest.raises(StitchnasError, match="anchor 0 'name' must be a name of"):
        load_space(_space_file(tmp_path, "ok", anchor=name) if name else _bad_empty(tmp_path))


def _bad_empty(tmp_path: Path) -> Path:
    doc = yaml.safe_load(_space_file(tmp_path, "ok").read_text())
    doc["anchors"][0]["name"] = " "
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path / "space.yaml"


@pytest.mark.parametrize("name", BAD_NAMES[:-1] + [" ", "x" * 101, "naïve"])
def test_check_name_rule(name):
    with pytest.raises(StitchnasError, match="must be a name of letters"):
        paths.check_name(name, "space name")


@pytest.mark.parametrize("name", ["tiny_test", "deit3_sl_v2", "cpu_batch64", "a.b-c+d", "R18", "x" * 100])
def test_good_names_pass(name):
    assert paths.check_name(name, "space name") == name


def test_paths_contain_names_built_into_them(tmp_path):
    """Second line: a name that reached a path builder without the load-time check."""
    for bad in ("../x", "/etc", ".."):
        with pytest.raises(StitchnasError):
            paths.storage_path(bad, tmp_path)
        with pytest.raises(StitchnasError):
            paths.front_path("ok", bad, tmp_path)
    with pytest.raises(StitchnasError, match="would lead outside"):
        paths.inside(tmp_path, "a", "..", "..", "b")
    assert paths.inside(tmp_path, "a", "b") == tmp_path / "a" / "b"
    assert paths.front_path("s", "t", tmp_path) == tmp_path / "s" / "t" / paths.FRONT


def test_latency_table_and_profile_cache_paths_contained(tmp_path, monkeypatch):
    from stitchnas.costs import Profiler, latency_table_path

    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    space = load_space("tiny_test")
    space.name = "../../escape"  # as a Python caller could: past the file check
    with pytest.raises(StitchnasError, match="space name"):
        latency_table_path(space, "cpu", machine={})
    with pytest.raises(StitchnasError, match="space name"):
        Profiler(space).cache_path  # noqa: B018 - the property builds the path
