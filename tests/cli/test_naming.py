"""One verb, one name: each command's options are the keyword arguments of its Python function
(``--some-name`` is ``some_name``), and both give the same answer."""

import argparse
import dataclasses
import inspect
import json

import pytest
from support import run_cli

import stitchnas as sn
from stitchnas.cli import build_parser
from stitchnas.objectives import LIMIT_KEYS

#: Options only the command line has, with what a Python caller does instead (docs/python.md).
CLI_ONLY = {
    "search": {"anchor_acc": "space.with_anchor_acc1({NAME: ACC})"},
    "query": {"format": "presentation: the table or JSONL printed"},
}
PRESENTATION = {"progress_mode", "func", "help"}
#: Options every command has, with what a Python caller does instead (docs/python.md).
GLOBAL = {"results": "with stitchnas.paths.results_root(DIR): ..."}


def _dests(verb):
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest for a in sub.choices[verb]._actions
            if not isinstance(a, argparse._HelpAction)} - PRESENTATION - set(GLOBAL)


def _params(*funcs):
    names = set()
    for f in funcs:
        if dataclasses.is_dataclass(f):
            names |= {field.name for field in dataclasses.fields(f)}
            continue
        params = inspect.signature(f).parameters
        names |= {n for n, p in params.items() if p.kind is not p.VAR_KEYWORD}
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            names |= set(LIMIT_KEYS)  # **limits: max_flops, max_latency_ms, ...
    return names


@pytest.mark.parametrize("verb, funcs", [
    ("search", (sn.search, sn.SearchConfig)),
    ("query", (sn.query,)),
    ("export", (sn.export,)),
    ("predict", (sn.predict_candidates,)),
    ("import-snnet", (sn.import_snnet,)),
])
def test_cli_options_are_the_python_keywords(verb, funcs):
    missing = _dests(verb) - _params(*funcs) - set(CLI_ONLY.get(verb, {}))
    assert not missing, f"`stitchnas {verb}` options with no keyword of the same name: {sorted(missing)}"


def test_the_old_option_names_still_work():
    args = build_parser().parse_args(["search", "tiny_test", "--target", "cpu", "--trials", "7", "--out", "x"])
    assert args.n_trials == 7 and args.out_dir == "x"
    args = build_parser().parse_args(["search", "tiny_test", "--target", "cpu", "--n-trials", "7", "--out-dir", "x"])
    assert args.n_trials == 7 and args.out_dir == "x"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("results")
    old = os.environ.get("STITCHNAS_RESULTS")
    os.environ["STITCHNAS_RESULTS"] = str(root)
    try:
        from stitchnas.cli import main

        assert main(["--quiet", "search", "tiny_test", "--target", "flops_budget", "--anchor-acc", "s=60",
                     "--anchor-acc", "l=70", "--out-dir", str(root)]) == 0
        yield root
    finally:
        os.environ.pop("STITCHNAS_RESULTS") if old is None else os.environ.__setitem__("STITCHNAS_RESULTS", old)


def test_query_in_python_is_the_command(results, capsys):
    code, out, _ = run_cli(capsys, "query", "tiny_test", "--target", "flops_budget", "--max-flops", "2e6")
    assert code == 0
    row = json.loads(out)
    with pytest.warns(sn.StitchnasWarning, match=r"id 1's top-1 \(70.00%\) is the acc1 given for this anchor"):
        best = sn.query("tiny_test", target="flops_budget", max_flops=2e6)  # a front of priors says so
    assert (best.id, best.acc1, best.flops) == (row["id"], row["acc1"], row["flops"])
    assert best == sn.load_front("tiny_test", target="flops_budget").best(max_flops=2e6)
    members = sn.query("tiny_test", target="flops_budget", list=True)
    code, out, _ = run_cli(capsys, "query", "tiny_test", "--target", "flops_budget", "--list", "--format", "jsonl")
    assert [m.id for m in members] == [json.loads(line)["id"] for line in out.splitlines()]
    front_file = results / "tiny_test" / "flops_budget" / "front.json"
    with pytest.warns(sn.StitchnasWarning, match="not measured here"):
        assert sn.query(front=front_file) == sn.query("tiny_test", target="flops_budget")


def test_query_unknown_limit_is_one_line():
    with pytest.raises(sn.StitchnasError, match="unknown limit 'max_flop'.*max_flops"):
        sn.query("tiny_test", target="flops_budget", max_flop=1)


def test_query_nothing_fits(results):
    from stitchnas.fronts import NothingFits

    with pytest.raises(NothingFits):
        sn.query("tiny_test", target="flops_budget", max_flops=1)


@pytest.mark.filterwarnings("ignore:TorchScript export uses torch.jit.trace:FutureWarning")  # tested apart
def test_export_in_python_is_the_command(results, tmp_path, capsys):
    """sn.export passes ``format`` through to export_model: the files the command writes."""
    paths = sn.export("tiny_test", id=0, out=tmp_path / "py", format="torchscript",
                      allow_random_weights=True)
    assert [p.name for p in paths] == ["py.pt"] and paths[0].is_file()
    code, out, err = run_cli(capsys, "export", "tiny_test", "--id", "0", "--out", tmp_path / "cli",
                             "--format", "torchscript", "--allow-random-weights")
    assert code == 0, err
    assert (tmp_path / "cli.pt").is_file() and f"wrote {tmp_path / 'cli.pt'}" in out
    with pytest.raises(sn.StitchnasError, match="unknown export format"):
        sn.export("tiny_test", id=0, out=tmp_path / "bad", format="gif", allow_random_weights=True)
    assert not list(tmp_path.glob("bad*"))


def test_predict_in_python_is_the_command(tmp_path, capsys):
    from stitchnas.costs import Profiler
    from stitchnas.measure import Measurement, write_measurements
    from stitchnas.space import load_space

    space = load_space("tiny_test")
    costs = {c.id: c for c in Profiler(space, progress=False).profile()}
    measurements = tmp_path / "m.jsonl"
    write_measurements(measurements, [
        Measurement(id=c.id, route=c.route, acc1=50.0 + i, acc5=None, loss=None, flops=costs[c.id].flops,
                    params=costs[c.id].params, dataset="synthetic", checkpoint="none", space=space.name,
                    space_hash=space.content_hash)
        for i, c in enumerate(space.candidates[:6])])
    got = sn.predict_candidates("tiny_test", measurements=measurements, predictor="flops", seed=0, out=tmp_path / "py.jsonl")
    code, out, err = run_cli(capsys, "predict", "tiny_test", "--measurements", measurements, "--predictor",
                             "flops", "--seed", "0", "--out", tmp_path / "cli.jsonl")
    assert code == 0, err
    cli_rows = [json.loads(line) for line in (tmp_path / "cli.jsonl").read_text().splitlines()]
    assert got == cli_rows == [json.loads(line) for line in (tmp_path / "py.jsonl").read_text().splitlines()]
    assert len(got) == len(space) and sum(r["measured"] for r in got) == 6

    # without --out: the same predictions as a table on stdout, best first, nothing written
    before = set(tmp_path.iterdir())
    code, out, err = run_cli(capsys, "predict", "tiny_test", "--measurements", measurements, "--predictor",
                             "flops", "--seed", "0")
    assert code == 0, err
    assert set(tmp_path.iterdir()) == before
    table = [line.split() for line in out.splitlines() if not line.startswith("#")][1:]
    assert len(table) == len(space)
    assert [int(r[0]) for r in table] == [r["id"] for r in sorted(got, key=lambda r: (-r["acc1_pred"], r["id"]))]
    by_id = {r["id"]: r for r in got}
    for r in table:
        assert float(r[1]) == pytest.approx(by_id[int(r[0])]["acc1_pred"], abs=0.006)
        assert (r[3] != "-") == by_id[int(r[0])]["measured"]


def test_import_snnet_takes_out_like_the_command():
    params = inspect.signature(sn.import_snnet).parameters
    assert list(params)[:3] == ["file", "space", "out"] and "path" in params  # the old name kept
