"""Start-up: the light commands import no torch (behaviour; the timing is `stitchnas bench
startup`), and stitchnas leaves other libraries' logging as it found it."""

import json
import logging
import subprocess
import sys

import pytest
from support import run_cli

from stitchnas.bench._startup import HEAVY, imports_of

LIGHT = [["--help"], ["--version"], ["spaces"], ["spaces", "--format", "json"], ["targets"],
         ["targets", "--format", "json"], ["predictors"], ["predictors", "--format", "json"],
         ["query", "--help"], ["search", "--help"], ["export", "--help"]]


@pytest.mark.parametrize("argv", LIGHT, ids=" ".join)
def test_light_commands_import_nothing_heavy(argv):
    heavy = imports_of(argv) & set(HEAVY)
    assert not heavy, f"stitchnas {' '.join(argv)} imports {sorted(heavy)}"


def test_building_the_parser_imports_nothing_heavy():
    code = ("import sys; from stitchnas.cli import build_parser; build_parser(); "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A front of tiny_test for flops_budget, searched in this process (torch is fine here)."""
    import os

    results = tmp_path_factory.mktemp("results")
    env = {"STITCHNAS_RESULTS": str(results)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from stitchnas.cli import main

        code = main(["--quiet", "search", "tiny_test", "--target", "flops_budget", "--anchor-acc",
                     "s=60", "--anchor-acc", "l=70", "--out-dir", str(results)])
        assert code == 0
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return results


@pytest.mark.parametrize("extra", [[], ["--list"], ["--list", "--format", "jsonl"], ["--max-flops", "1e9"]],
                         ids=["best", "list", "jsonl", "limit"])
def test_query_imports_no_torch(searched, monkeypatch, extra):
    """The package's promise: querying a saved front never imports torch (the space's structure
    comes from the structure cache the search filled)."""
    monkeypatch.setenv("STITCHNAS_RESULTS", str(searched))
    argv = ["query", "tiny_test", "--target", "flops_budget", *extra]
    done = subprocess.run([sys.executable, "-m", "stitchnas", *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    if extra in ([], ["--max-flops", "1e9"]):
        row = json.loads(done.stdout)
        assert row["space"] == "tiny_test" and row["target"] == "flops_budget"
    heavy = imports_of(argv) & set(HEAVY)
    assert not heavy, f"stitchnas {' '.join(argv)} imports {sorted(heavy)}"


def test_predict_imports_no_torch_once_the_profile_is_cached(searched, tmp_path, monkeypatch):
    """Predicting reads FLOPs from the profile cache the search filled: torch is imported only
    where a piece is traced, not to fit a predictor on a table (start-up seconds in every loop)."""
    from support.tiny import ACC, MEASURED

    from stitchnas.costs import Profiler
    from stitchnas.measure import Measurement, write_measurements
    from stitchnas.space import load_space

    space = load_space("tiny_test")
    costs = {c.id: c for c in Profiler(space, progress=False).profile()}
    rows = [Measurement(id=i, route=costs[i].route, acc1=ACC[i], acc5=None, loss=None,
                        flops=costs[i].flops, params=costs[i].params, dataset="digits:val",
                        checkpoint="c.pt", space=space.name, space_hash=space.content_hash)
            for i in MEASURED]
    write_measurements(tmp_path / "m.jsonl", rows)
    monkeypatch.setenv("STITCHNAS_RESULTS", str(searched))
    argv = ["predict", "tiny_test", "--measurements", str(tmp_path / "m.jsonl"), "--out",
            str(tmp_path / "p.jsonl")]
    names = imports_of(argv)
    assert (tmp_path / "p.jsonl").is_file() and "sklearn" in names
    assert "torch" not in names and "timm" not in names and "fvcore" not in names
    # a FLOPs search reads FLOPs and its memory column from the caches the first search filled
    names = imports_of(["--quiet", "search", "tiny_test", "--target", "flops_budget", "--measurements",
                        str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "res")])
    assert (tmp_path / "res" / "tiny_test" / "flops_budget" / "front.json").is_file()
    assert "optuna" in names and not names & {"torch", "timm", "fvcore"}


def test_bench_startup_times_the_front_under_results(searched, tmp_path, monkeypatch, capsys):
    """`stitchnas --results DIR bench startup` queries the front under DIR in its fresh processes
    too (they failed 'no front at results/...': the root did not reach them)."""
    monkeypatch.delenv("STITCHNAS_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "--results", searched, "bench", "startup", "--space", "tiny_test",
                             "--target", "flops_budget", "--repeats", "1", "--out", tmp_path / "b")
    assert code == 0, err
    rows = {r["command"]: r for r in json.loads((tmp_path / "b" / "startup.json").read_text())["rows"]}
    assert rows["stitchnas query"]["heavy_imports"] == []


def test_version(capsys):
    from importlib.metadata import version

    import stitchnas

    code = subprocess.run([sys.executable, "-m", "stitchnas", "--version"], capture_output=True, text=True)
    assert code.returncode == 0 and code.stdout == f"stitchnas {version('stitchnas')}\n"
    assert version("stitchnas") == stitchnas.__version__


def _levels():
    import optuna

    return (optuna.logging.get_verbosity(), logging.getLogger("optuna").handlers[:],
            [h.filters[:] for h in logging.getLogger("optuna").handlers],
            logging.getLogger("fvcore").level, logging.getLogger("iopath").level)


def test_import_and_search_leave_other_libraries_logging_alone(tmp_path, monkeypatch, capsys):
    """stitchnas quiets Optuna's per-trial lines and fvcore's warnings only while it works:
    after `import stitchnas`, a search (Optuna) and a FLOP count (fvcore), their levels,
    handlers and filters are what the user set."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.DEBUG)  # the user's choice
    logging.getLogger("fvcore").setLevel(logging.INFO)
    before = _levels()
    try:
        import stitchnas  # noqa: F401
        from stitchnas.costs import Profiler
        from stitchnas.space import load_space

        assert _levels() == before
        Profiler(load_space("tiny_test"), use_cache=False, progress=False).profile()  # fvcore
        assert _levels() == before
        monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
        code, out, err = run_cli(capsys, "--quiet", "search", "tiny_test", "--target", "flops_budget",
                                 "--anchor-acc", "s=60", "--anchor-acc", "l=70", "--sampler", "random",
                                 "--n-trials", "5", "--out-dir", tmp_path)
        assert code == 0, err
        assert _levels() == before
        assert "Trial" not in err  # quiet while it searched (the DEBUG the user set came back after)
    finally:
        optuna.logging.set_verbosity(optuna.logging.INFO)
        logging.getLogger("fvcore").setLevel(logging.NOTSET)


def test_no_global_log_or_warning_changes_in_the_source():
    """No call that changes a third-party level for the whole process outside the scoped
    helpers of stitchnas.progress; warning filters only inside catch_warnings."""
    import re
    from pathlib import Path

    import stitchnas

    root = Path(stitchnas.__file__).parent
    bad = []
    for path in root.rglob("*.py"):
        if path.name == "progress.py":
            continue
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if re.search(r"set_verbosity|disable_default_handler|getLogger\(\"(fvcore|optuna|iopath)"
                         r"|logging\.disable\(|basicConfig\(", line):
                bad.append(f"{path.relative_to(root)}:{i + 1}: {line.strip()}")
            if re.search(r"warnings\.(simplefilter|filterwarnings)\(", line):
                window = "\n".join(lines[max(0, i - 8):i])
                if "catch_warnings" not in window:
                    bad.append(f"{path.relative_to(root)}:{i + 1}: unscoped {line.strip()}")
    assert not bad, "\n".join(bad)


def test_structure_cache_gives_the_built_structure(tmp_path, monkeypatch):
    """A space's depths and feature shapes come from the cache after the first build (how a
    query checks its front without torch); a broken or foreign cache is rebuilt."""
    import json as _json

    from stitchnas.space import load_space

    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path))
    built = load_space("tiny_test")
    assert built._cached_structure is None
    depths, specs, ids = built.depths, built.feature_specs, [c.route for c in built.candidates]
    cache = next((tmp_path / "structure").glob("tiny_test-*.json"))
    again = load_space("tiny_test")
    assert again._cached_structure == (depths, specs, 0)  # no BatchNorm layer in these ViTs
    assert [c.route for c in again.candidates] == ids and again.layer_shapes == built.layer_shapes
    doc = _json.loads(cache.read_text())
    del doc["batchnorm_layers"]  # a cache written before the count: rebuilt, rewritten with it
    cache.write_text(_json.dumps(doc))
    stale = load_space("tiny_test")
    assert stale._cached_structure is None and stale.batchnorm_layers == 0
    assert _json.loads(cache.read_text())["batchnorm_layers"] == 0
    doc = _json.loads(cache.read_text())
    doc["versions"]["timm"] = "0.0.0"  # another timm: not trusted
    cache.write_text(_json.dumps(doc))
    assert load_space("tiny_test")._cached_structure is None
    cache.write_text("{broken")
    fresh = load_space("tiny_test")
    assert fresh._cached_structure is None and fresh.feature_specs == specs  # rebuilt and rewritten
    assert load_space("tiny_test")._cached_structure == (depths, specs, 0)
