"""A whole front as one switchable model: equal outputs, shared weights, the select policy, the
CLI, version checks, the refusal to ship random weights, and the example server.

The front is built by hand on the bundled ``tiny_test`` space (real ids, routes, FLOPs, params;
made-up accuracies and latencies); the stitching layers are least-squares fitted on random images.
"""

import io
import json
import runpy
import warnings

import pytest
import torch
from support import REPO, run_cli

import stitchnas
from stitchnas.errors import StitchnasError
from stitchnas.fronts import Front, FrontPoint, NothingFits, save_front
from stitchnas.network import (FrontModel, StitchedNetwork, build_model, export_base, export_front,
                               load_front_model, read_front_model, save_checkpoint)
from stitchnas.space import load_space

IDS = (0, 2, 5, 3, 1)  # the anchors s (0) and l (1) and three stitches


@pytest.fixture(scope="module")
def space():
    return load_space("tiny_test")


@pytest.fixture(scope="module")
def front(space):
    values = {0: (70.0, 2.0), 2: (74.5, 3.0), 5: (77.0, 4.5), 3: (79.0, 6.0), 1: (80.0, 7.2)}
    members = [FrontPoint(id=i, route=space.candidate(i).route, acc1=values[i][0], acc1_source="measured",
                          flops=int(values[i][1] * 1e5), params=int(values[i][1] * 1e4),
                          latency_ms=values[i][1], memory_mb=values[i][1] * 2,
                          is_anchor=space.candidate(i).route.num_stitches == 0)
               for i in IDS]
    return Front(space=space.name, space_hash=space.content_hash, target="cpu",
                 objectives=("acc1", "latency_ms", "flops"), members=tuple(members),
                 created="2026-01-01T00:00:00+00:00")


@pytest.fixture(scope="module")
def ckpt(space, tmp_path_factory):
    """A stitched checkpoint holding the anchors too (so they count as having weights)."""
    torch.manual_seed(0)
    net = StitchedNetwork(space, space.create_models(weights=False))
    net.init_least_squares(torch.randn(32, 1, 28, 28))
    path = tmp_path_factory.mktemp("ckpt") / "stitched.pt"
    save_checkpoint(path, net, anchors_tuned=True)
    return path


@pytest.fixture(scope="module")
def exported(front, ckpt, tmp_path_factory):
    folder = tmp_path_factory.mktemp("front_model")
    front_file = save_front(front, folder / "cpu")
    paths = export_front(front, folder / "tiny", checkpoint=ckpt, batch_size=2)
    return {"bundle": paths[0], "ts": paths[1], "front": front_file, "folder": folder}


def _jit_load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.load(str(path))


def test_every_member_equals_build_model_at_two_batch_sizes(space, front, ckpt, exported):
    assert [p.name for p in (exported["bundle"], exported["ts"])] == ["tiny.pt", "tiny.ts"]
    model = load_front_model(exported["bundle"], front=front)
    scripted = _jit_load(exported["ts"])
    assert isinstance(model, FrontModel) and not model.training and model.ids == list(IDS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refs = {i: build_model(space, i, ckpt) for i in IDS}
    for batch in (1, 3):
        x = torch.randn(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch))
        for i in IDS:
            ref = refs[i]
            model.switch(i)
            with torch.no_grad():
                expected = ref(x)
                assert torch.allclose(model(x), expected, atol=1e-6, rtol=0), (batch, i)
                assert torch.allclose(scripted(x, i), expected, atol=1e-6, rtol=0), (batch, i)
    with pytest.raises(StitchnasError, match=r"id 4 is not on the front .*members: \[0, 2, 5, 3, 1\]"):
        model.switch(4)


def test_the_bundle_holds_each_used_piece_once_and_loads_weights_only(exported):
    doc = torch.load(exported["bundle"], weights_only=True)  # tensors + plain metadata only
    json.dumps({k: v for k, v in doc.items() if k != "state"})
    state = doc["state"]
    routes = [stitchnas.Route.of(m["route"]) for m in doc["members"]]
    used_blocks = {(s.anchor, b) for r in routes for s in r for b in range(s.start, s.end)}
    blocks = {tuple(int(v) for v in k.split(".")[1].split("_")) for k in state if k.startswith("blocks.")}
    assert blocks == used_blocks
    assert {k.split(".")[1] for k in state if k.startswith("heads.")} == {str(r.last_anchor) for r in routes}
    # nothing duplicated: each tensor's storage once
    ptrs = [t.untyped_storage().data_ptr() for t in state.values()]
    assert len(ptrs) == len(set(ptrs))
    assert doc["weights"]["anchors"][0]["source"] == "stitched-checkpoint"
    assert len(doc["weights"]["anchors"][0]["sha256"]) == 64


def test_switching_copies_no_weights(exported):
    model = load_front_model(exported["bundle"])
    before = {n: (id(p), p.data_ptr()) for n, p in model.state_dict(keep_vars=True).items()}
    owned = {id(p) for p in model.parameters()}
    for i in [*IDS, *reversed(IDS)]:
        model.switch(i)
        assert {id(p) for p in model.member_module(i).parameters()} <= owned
        with torch.no_grad():
            model(torch.zeros(1, 1, 28, 28))
    for limit in (2.0, 3.5, 5.0, 100.0):
        model.select(max_latency_ms=limit)
    assert {n: (id(p), p.data_ptr()) for n, p in model.state_dict(keep_vars=True).items()} == before


def test_select_picks_the_most_accurate_member_that_fits(exported, front):
    model = load_front_model(exported["bundle"])
    scripted = _jit_load(exported["ts"])
    assert model.stitch_id == 1  # the most accurate member until told otherwise
    assert model.select(max_latency_ms=5).id == 5 and model.stitch_id == 5
    assert model.select(max_latency_ms=6.0, max_memory_mb=8).id == 2
    assert model.select(min_acc1=79.5).id == 1
    for floor in (60.0, 74.5, 76.0, 79.0, 80.0, 99.0):  # a floor alone: the cheapest reaching it
        try:
            expected = front.best(min_acc1=floor).id
        except NothingFits:
            expected = -1
        assert scripted.select(min_acc1=floor) == expected, floor
        if expected >= 0:
            assert model.select(min_acc1=floor).id == expected
    assert front.best(min_acc1=76.0).id != front.best().id  # the rule is exercised, not the top member
    for limits in ({"max_latency_ms": v} for v in (1.0, 2.0, 2.9, 3.0, 4.5, 6.0, 7.2, 9.0)):
        try:
            expected = front.best(**limits).id
        except NothingFits:
            expected = -1
        assert scripted.select(**limits) == expected, limits
    assert scripted.select(max_flops=float(front.member(5).flops)) == front.best(
        max_flops=front.member(5).flops).id
    with pytest.raises(NothingFits, match=r"the fastest member takes 2 ms \(id 0\)"):
        model.select(max_latency_ms=1)
    assert model.stitch_id == 1  # a failed select leaves the current member running


def test_cli_switchable_export_query_and_nothing_fits(front, ckpt, exported, tmp_path, capsys):
    out = tmp_path / "cli_front"
    code, stdout, err = run_cli(capsys, "export", "tiny_test", "--switchable", "--front", exported["front"],
                                "--checkpoint", ckpt, "--out", out, "--max-latency-ms", 6,
                                "--format", "bundle")
    assert code == 0, err
    assert "4 members (ids 0, 2, 5, 3)" in stdout and "stitching layers: stitched-checkpoint" in stdout
    assert load_front_model(f"{out}.pt").ids == [0, 2, 5, 3] and not (tmp_path / "cli_front.ts").exists()
    code, stdout, err = run_cli(capsys, "query", "--model", exported["bundle"], "--max-latency-ms", 5)
    assert code == 0 and json.loads(stdout)["id"] == 5, err
    code, stdout, err = run_cli(capsys, "query", "--model", exported["bundle"], "--max-latency-ms", 1)
    assert code == 1 and stdout == "" and err.count("\n") == 1
    assert err.startswith("stitchnas: nothing fits:") and "the fastest member takes 2 ms (id 0)" in err
    code, _, err = run_cli(capsys, "export", "tiny_test", "--switchable", "--front", exported["front"],
                           "--checkpoint", ckpt, "--out", tmp_path / "none", "--max-latency-ms", 1)
    assert code == 1 and "the fastest member takes 2 ms (id 0)" in err and not list(tmp_path.glob("none*"))
    code, _, err = run_cli(capsys, "export", "tiny_test", "--switchable", "--id", 3)
    assert code == 2 and "drop --id/--route" in err


def test_an_artifact_of_another_front_version_is_refused(front, exported, tmp_path, capsys):
    newer = Front(**{**{k: getattr(front, k) for k in ("space", "space_hash", "target", "objectives")},
                     "members": front.members[:-1], "created": "2026-02-01T00:00:00+00:00"})
    other = save_front(newer, tmp_path / "newer")
    code, stdout, err = run_cli(capsys, "query", "--model", exported["bundle"], "--front", other)
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "holds version" in err and "created 2026-01-01" in err and "--switchable" in err
    code, _, err = run_cli(capsys, "query", "--model", exported["bundle"], "--front", exported["front"],
                           "--max-latency-ms", 5)
    assert code == 0, err
    with pytest.raises(StitchnasError, match="holds version"):
        load_front_model(exported["bundle"], front=newer)
    doc = torch.load(exported["bundle"], weights_only=True)
    doc["format"] = "stitchnas-front-model/2"
    torch.save(doc, tmp_path / "future.pt")
    with pytest.raises(StitchnasError, match="in format 'stitchnas-front-model/2' but this stitchnas "
                                             "reads 'stitchnas-front-model/1'"):
        read_front_model(tmp_path / "future.pt")
    (tmp_path / "cut.pt").write_bytes(exported["bundle"].read_bytes()[:300])
    code, _, err = run_cli(capsys, "query", "--model", tmp_path / "cut.pt")
    assert code == 2 and "cannot read front model" in err and err.count("\n") == 1


def test_exports_refuse_random_weights_unless_asked(space, front, exported, tmp_path, capsys):
    # tiny_test's anchors have no checkpoint and no pretrained weights
    code, stdout, err = run_cli(capsys, "export", "tiny_test", "--id", 0, "--out", tmp_path / "a0",
                                "--format", "torchscript")
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "anchor(s) 's' of tiny_test have no weights" in err and "--allow-random-weights" in err
    assert not list(tmp_path.iterdir())
    code, stdout, err = run_cli(capsys, "export", "tiny_test", "--id", 0, "--out", tmp_path / "a0",
                                "--format", "torchscript", "--allow-random-weights")
    assert code == 0, err
    assert "weights: anchor s: random" in stdout
    extra = {"stitchnas_export.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.load(str(tmp_path / "a0.pt"), _extra_files=extra)
    meta = json.loads(extra["stitchnas_export.json"])
    assert meta["id"] == 0 and meta["weights"]["anchors"][0]["source"] == "random"
    # the stitching layers trained, the anchors not: still refused for the whole front
    untuned = tmp_path / "untuned.pt"
    save_checkpoint(untuned, StitchedNetwork(space, space.create_models(weights=False)), anchors_tuned=False)
    with pytest.raises(StitchnasError, match="have no weights"):
        export_front(front, tmp_path / "f", checkpoint=untuned)
    paths = export_front(front, tmp_path / "f", checkpoint=untuned, formats=("bundle",),
                         allow_random_weights=True)
    weights = read_front_model(paths[0])["weights"]
    assert [a["source"] for a in weights["anchors"]] == ["random", "random"]
    assert weights["stitching"]["source"] == "stitched-checkpoint"



@pytest.mark.parametrize("given", ["f", "f.pt", "f.ts", "f.pt2", "f.onnx"])
def test_a_path_given_with_any_export_suffix_names_the_same_files(front, ckpt, tmp_path, given):
    # `--out f.pt2` once gave the front f.pt2.pt and f.pt2.ts; one stitch's export gave f.pt2, f.onnx
    paths = export_front(front, tmp_path / given, checkpoint=ckpt, formats=("bundle",))
    assert [p.name for p in paths] == ["f.pt"] and sorted(x.name for x in tmp_path.iterdir()) == ["f.pt"]
    assert export_base(tmp_path / given) == tmp_path / "f"
    assert export_base(tmp_path / "f.v2") == tmp_path / "f.v2"  # a suffix of the user's own is kept

def test_example_server_answers_each_budget(exported):
    serve = runpy.run_path(str(REPO / "examples" / "serve_front.py"))["serve"]
    model = load_front_model(exported["bundle"])
    requests = io.StringIO("\n".join([
        json.dumps({"max_latency_ms": 5}), json.dumps({"max_latency_ms": 1}),
        json.dumps({"max_flops": 1e12, "input": torch.zeros(1, 28, 28).tolist()}), "not json", ""]))
    replies = io.StringIO()
    served = serve(model, requests, replies)
    lines = [json.loads(line) for line in replies.getvalue().splitlines()]
    assert served == 4 and len(lines) == 4
    assert lines[0]["id"] == 5 and lines[0]["switch_us"] >= 0 and lines[0]["infer_ms"] > 0
    assert "nothing fits" in lines[1]["error"] and "the fastest member takes 2 ms (id 0)" in lines[1]["error"]
    assert lines[2]["id"] == 1 and len(lines[2]["logits"][0]) == 10
    assert "error" in lines[3]


def test_a_bundle_with_nan_weights_is_refused_in_one_line(exported, tmp_path, capsys):
    doc = torch.load(exported["bundle"], weights_only=True)
    name = next(k for k, v in doc["state"].items() if v.is_floating_point())
    doc["state"][name] = doc["state"][name].clone().fill_(float("nan"))
    torch.save(doc, tmp_path / "nan.pt")
    with pytest.raises(StitchnasError, match=f"'state.{name}' holds .* NaN"):
        read_front_model(tmp_path / "nan.pt")
    code, stdout, err = run_cli(capsys, "query", "--model", tmp_path / "nan.pt")
    assert code == 2 and stdout == "" and err.count("\n") == 1 and "not finite" in err
