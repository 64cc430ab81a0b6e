"""Per-route BatchNorm statistics: a stitch measures what its export computes.

A space of two small timm ResNets (BatchNorm) on scikit-learn's digits; after least squares the
anchors' shared statistics are polluted the way joint training pollutes them (train-mode passes
of other routes). Checked: the prefix-sharing evaluation, one candidate at a time and the route
module calibrated alone agree exactly; the network's own statistics are untouched; `evaluate`
records the recipe and warns only with --batchnorm shared; `export` (one stitch and a whole
front) ships the statistics it was measured with.
"""

import json
import warnings

import pytest
import torch
import torch.nn.functional as F
from support import run_cli, write_space

from stitchnas.measure import (BN_CALIBRATION, BatchNormCalibration, CalibrationImages, DataSpec,
                               calibration_batch, calibration_images, evaluate_candidates, load_datasets,
                               make_loader, read_measurements, space_batchnorm_layers)
from stitchnas.network import (StitchedNetwork, batchnorm_state, build_model, calibrate_batchnorm,
                               load_batchnorm_state, save_checkpoint)
from stitchnas.space import load_space

RESNET = "{model: resnet18, name: %s, kwargs: {in_chans: 1, num_classes: 10, channels: [%d, 8, 8, 8]}, checkpoint: %s}"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bn")
    path = write_space(folder, "name: bn_pair\ninput_size: [1, 28, 28]\nanchors:\n"
                               f"  - {RESNET % ('s', 4, 's.pt')}\n  - {RESNET % ('l', 8, 'l.pt')}\n"
                               "rule: {type: two_way, max_stitches: 2}\ndata: {name: digits}\n")
    space = load_space(path)
    torch.manual_seed(0)
    models = space.create_models(weights=False)
    for name, model in zip(("s", "l"), models):
        torch.save(model.state_dict(), folder / f"{name}.pt")
    net = StitchedNetwork(space, models)
    train, val, _ = load_datasets(DataSpec("digits", input_size=(1, 28, 28)))
    net.init_least_squares(calibration_batch(train, 64))
    net.train()  # what joint training does to the statistics: every route updates the same layers
    with torch.no_grad():
        for k, cand in enumerate(space.candidates):
            net.reset_stitch_id(cand.id)
            net(calibration_batch(train, 32, seed=k))
    net.eval()
    save_checkpoint(folder / "c.pt", net, anchors_tuned=True)
    return {"space": space, "path": path, "net": net, "val": val, "folder": folder,
            "calibration": calibration_images(space)}


def _alone(space, net, cid, calibration, val):
    """Candidate ``cid`` as a standalone route module calibrated by itself: (top-1 %, mean loss)."""
    import copy

    module = copy.deepcopy(net.route_module(space.candidate(cid)))
    calibrate_batchnorm(module, calibration)
    return _score(module.eval(), val)


def _score(model, val):
    """(top-1 %, mean cross-entropy) of ``model`` on ``val``."""
    hits, loss, n = 0, 0.0, 0
    with torch.no_grad():
        for x, y in make_loader(val, 100, False):
            out = model(x)
            hits += int((out.argmax(1) == y).sum())
            loss += float(F.cross_entropy(out.float(), y, reduction="sum"))
            n += len(y)
    return 100.0 * hits / n, loss / n


def test_the_recipe_is_fixed_reiterable_and_checked(setup):
    cal = setup["calibration"]
    assert space_batchnorm_layers(setup["space"]) == 42 and cal.recipe == BN_CALIBRATION
    first, again = list(cal), list(cal)
    assert len(first) == len(cal) == 6  # all 1,437 digits training images, in batches of 256
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert BN_CALIBRATION.label() == "per_route:5120x256:seed0"
    with pytest.raises(Exception, match="batch_size must be a positive integer"):
        BatchNormCalibration(batch_size=0)
    assert space_batchnorm_layers(load_space("tiny_test")) == 0  # ViTs: LayerNorm only


def test_prefix_sharing_one_at_a_time_and_alone_agree_exactly(setup):
    space, net, val, cal = setup["space"], setup["net"], setup["val"], setup["calibration"]
    ids = [c.id for c in space.candidates]
    kept = batchnorm_state(net)
    loader = make_loader(val, 100, False)
    shared = evaluate_candidates(net, loader, ids, calibration=cal, progress=False)
    some = ids[::4]  # one candidate at a time costs a calibration each: every fourth is enough
    single = evaluate_candidates(net, loader, some, calibration=cal, share_prefixes=False, progress=False)
    assert [(r.acc1, r.loss) for r in shared[::4]] == [(r.acc1, r.loss) for r in single]
    assert all(torch.equal(a, b) for x, y in zip(kept, batchnorm_state(net)) for a, b in zip(x, y))
    stale = evaluate_candidates(net, loader, ids, progress=False)
    stitched = [k for k, c in enumerate(space.candidates) if c.route.num_stitches]
    assert sum(shared[k].loss != stale[k].loss for k in stitched) == len(stitched)
    for k in stitched[:: max(1, len(stitched) // 4)]:
        acc1, loss = _alone(space, net, ids[k], cal, val)
        assert acc1 == shared[k].acc1 and loss == pytest.approx(shared[k].loss, rel=1e-6)


def test_evaluate_records_the_recipe_and_warns_only_for_shared_statistics(setup, tmp_path, capsys):
    space, path = setup["space"], setup["path"]
    stitch, other = [c.id for c in space.candidates if c.route.num_stitches][:2]
    out = tmp_path / "m.jsonl"
    argv = ("evaluate", path, "--checkpoint", setup["folder"] / "c.pt", "--ids", f"0,{stitch}")
    code, printed, err = run_cli(capsys, *argv[:-1], f"0,{stitch},{other}", "--out", out)
    assert code == 0 and "BatchNorm" not in err, err
    assert "; each route with its own BatchNorm statistics (per_route:5120x256:seed0)" in printed
    rows = {m.id: m for m in read_measurements(out, space)}
    assert dict(rows[stitch].extra)["batchnorm"] == BN_CALIBRATION.label()
    code, printed, err = run_cli(capsys, *argv, "--out", tmp_path / "shared.jsonl", "--batchnorm", "shared")
    assert "own BatchNorm statistics" not in printed
    lines = [ln for ln in err.splitlines() if "BatchNorm" in ln]
    assert code == 0 and len(lines) == 1 and "1 stitched route was measured with the BatchNorm" in lines[0]
    shared = {m.id: m for m in read_measurements(tmp_path / "shared.jsonl", space)}
    assert "batchnorm" not in dict(shared[stitch].extra) and shared[stitch].loss != rows[stitch].loss
    code, _, err = run_cli(capsys, *argv[:-1], str(other), "--out", out, "--batchnorm", "shared")
    assert code == 0 and "statistics set 2 ways (per_route:5120x256:seed0, shared)" in err


def test_an_exported_stitch_computes_what_was_measured(setup, tmp_path, capsys):
    space, path, val = setup["space"], setup["path"], setup["val"]
    stitch = max((c for c in space.candidates if c.route.num_stitches), key=lambda c: c.route.num_stitches).id
    out = tmp_path / "m.jsonl"
    ckpt = setup["folder"] / "c.pt"
    assert run_cli(capsys, "evaluate", path, "--checkpoint", ckpt, "--ids", stitch, "--out", out)[0] == 0
    row = read_measurements(out, space)[0]
    code, _, err = run_cli(capsys, "export", path, "--id", stitch, "--checkpoint", ckpt,
                           "--out", tmp_path / "one", "--format", "pt2")
    assert code == 0, err
    from stitchnas.network import load_exported, read_export_metadata

    assert read_export_metadata(tmp_path / "one.pt2")["batchnorm"] == BN_CALIBRATION.label()
    acc1, loss = _score(load_exported(tmp_path / "one.pt2"), val)
    assert acc1 == pytest.approx(row.acc1, abs=100.0 / len(val))  # one image at most
    assert loss == pytest.approx(row.loss, rel=1e-4)
    code, _, _ = run_cli(capsys, "export", path, "--id", stitch, "--checkpoint", ckpt,
                         "--out", tmp_path / "kept", "--format", "pt2", "--batchnorm", "shared")
    assert code == 0 and "batchnorm" not in read_export_metadata(tmp_path / "kept.pt2")


def test_a_switchable_front_keeps_each_members_own_statistics(setup, tmp_path):
    from stitchnas.fronts import Front, FrontPoint
    from stitchnas.network import export_front, load_front_model

    space, cal = setup["space"], setup["calibration"]
    ckpt = setup["folder"] / "c.pt"
    picked = [c for c in space.candidates if c.route.num_stitches][:3] + [space.candidate(0)]
    members = tuple(FrontPoint(id=c.id, route=c.route, acc1=50.0 + k, acc1_source="measured",
                               flops=1000 * (k + 1), params=100, latency_ms=None, memory_mb=None,
                               is_anchor=not c.route.num_stitches) for k, c in enumerate(picked))
    front = Front(space=space.name, space_hash=space.content_hash, target="flops",
                  objectives=("acc1", "flops"), members=members, created="2026-01-01T00:00:00+00:00")
    paths = export_front(front, tmp_path / "front", space=space, checkpoint=ckpt, batch_size=2,
                         calibration=cal)
    model = load_front_model(paths[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.load(str(paths[1]))
    x = calibration_batch(setup["val"], 8, seed=3)
    with torch.no_grad():
        for c in reversed(picked):
            expected = build_model(space, c.id, ckpt, calibration=cal)(x)
            model.switch(c.id)
            assert torch.allclose(model(x), expected, atol=1e-5, rtol=0), c.id
            assert torch.allclose(scripted(x, c.id), expected, atol=1e-5, rtol=0), c.id
    assert model.info["batchnorm"] == BN_CALIBRATION.label()
    means = {c.id: [layer[0] for layer in model.batchnorm[str(c.id)].state()] for c in picked}
    a, b = picked[0], picked[-1]
    assert a.route.first_anchor == b.route.first_anchor == 0
    assert torch.equal(means[a.id][0], means[b.id][0])  # one stem, one prefix: the same statistics
    assert not all(torch.equal(x, y) for x, y in zip(means[a.id], means[b.id]))  # two routes after it


def test_state_helpers_round_trip_and_refuse_another_structure(setup):
    net = setup["net"]
    state = batchnorm_state(net)
    load_batchnorm_state(net, state)
    with pytest.raises(ValueError, match="BatchNorm states for"):
        load_batchnorm_state(net, state[:-1])
    assert json.dumps(BN_CALIBRATION.label())
    assert isinstance(setup["calibration"], CalibrationImages)


def test_no_warning_for_anchors_alone_or_layernorm_families(setup):
    from support.tiny import row

    from stitchnas.costs import Profiler
    from stitchnas.measure import Measurement, shared_batchnorm_warning

    space = setup["space"]
    costs = {c.id: c for c in Profiler(space).profile()}
    rows = [Measurement(id=c.id, route=c.route, acc1=50.0, acc5=None, loss=1.0, flops=costs[c.id].flops,
                        params=costs[c.id].params, dataset="digits:val", checkpoint="c.pt", space=space.name,
                        space_hash=space.content_hash) for c in space.candidates[:6]]
    anchors = [m for m in rows if not m.route.num_stitches]
    assert shared_batchnorm_warning(space, anchors) is None
    assert "were measured with the BatchNorm statistics" in shared_batchnorm_warning(space, rows)
    tiny = load_space("tiny_test")
    tiny_costs = {c.id: c for c in Profiler(tiny).profile()}
    assert shared_batchnorm_warning(tiny, [row(tiny, tiny_costs, i) for i in (0, 2, 5)]) is None


def test_an_interrupted_calibrated_evaluation_resumes_to_the_uninterrupted_result(setup):
    from stitchnas.measure import EvaluationInterrupted

    space, net, val, cal = setup["space"], setup["net"], setup["val"], setup["calibration"]
    ids = [c.id for c in space.candidates]
    whole = evaluate_candidates(net, make_loader(val, 32, False), ids, calibration=cal, progress=False)
    kept = batchnorm_state(net)
    calls = [0]

    def hook(*_):  # Ctrl-C in the third evaluation batch: the stem runs once per calibration batch first
        calls[0] += 1
        if calls[0] == len(cal) + 3:
            raise KeyboardInterrupt

    handle = net.adapters[1].stem_module.register_forward_hook(hook)
    try:
        with pytest.raises(EvaluationInterrupted) as info:
            evaluate_candidates(net, make_loader(val, 32, False), ids, calibration=cal, progress=False)
    finally:
        handle.remove()
    assert info.value.partial.n_samples == 64
    assert all(torch.equal(a, b) for x, y in zip(kept, batchnorm_state(net)) for a, b in zip(x, y))
    rest = make_loader(torch.utils.data.Subset(val, range(64, len(val))), 32, False)
    resumed = evaluate_candidates(net, rest, ids, calibration=cal, progress=False, resume=info.value.partial)
    assert resumed == whole


def test_search_warns_once_about_rows_measured_with_shared_statistics(setup, tmp_path, capsys, caplog):
    import logging

    space, path = setup["space"], setup["path"]
    ids = ",".join(str(c.id) for c in space.candidates[:5])
    argv = ("evaluate", path, "--checkpoint", setup["folder"] / "c.pt", "--ids", ids)
    assert run_cli(capsys, *argv, "--out", tmp_path / "route.jsonl")[0] == 0
    assert run_cli(capsys, *argv, "--out", tmp_path / "shared.jsonl", "--batchnorm", "shared")[0] == 0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="stitchnas"):
        code, _, err = run_cli(capsys, "search", path, "--target", "flops", "--measurements",
                               tmp_path / "route.jsonl", "--out-dir", tmp_path / "r")
        assert code == 0, err
        assert not [r for r in caplog.records if "BatchNorm" in r.getMessage()]
        for _ in range(2):  # the same file twice: one line
            code, _, err = run_cli(capsys, "search", path, "--target", "flops", "--measurements",
                                   tmp_path / "shared.jsonl", "--out-dir", tmp_path / "s")
            assert code == 0, err
    lines = [r.getMessage() for r in caplog.records if "BatchNorm" in r.getMessage()]
    assert len(lines) == 1 and "were measured with the BatchNorm statistics that every route" in lines[0]


def test_proxy_scores_use_and_record_per_route_statistics(setup, tmp_path, capsys):
    from stitchnas.measure import read_proxies

    argv = ("proxy", setup["path"], "--checkpoint", setup["folder"] / "c.pt", "--images", 64)
    code, printed, err = run_cli(capsys, *argv, "--out", tmp_path / "p.jsonl")
    assert code == 0, err
    assert "; each route with its own BatchNorm statistics (per_route:5120x256:seed0)" in printed
    route = read_proxies(tmp_path / "p.jsonl", setup["space"])
    assert {s.batchnorm for s in route} == {BN_CALIBRATION.label()}
    assert run_cli(capsys, *argv, "--out", tmp_path / "s.jsonl", "--batchnorm", "shared")[0] == 0
    shared = read_proxies(tmp_path / "s.jsonl", setup["space"])
    assert {s.batchnorm for s in shared} == {None}
    assert [s.loss for s in shared] != [s.loss for s in route]


def test_train_anchors_reports_the_top1_measurements_will_see(tmp_path, capsys, caplog):
    """A briefly trained BatchNorm anchor: train-anchors reports its top-1 with the statistics
    training left and re-estimated; the second is what `evaluate --anchors` then measures, and
    the checkpoint keeps the first (re-training reproduces a shipped anchor's file)."""
    import logging

    from stitchnas.measure import AnchorTrainConfig, make_loader, train_anchors
    from stitchnas.measure._train import accuracy

    path = write_space(tmp_path, "name: bn_train\ninput_size: [1, 28, 28]\nanchors:\n"
                                 f"  - {RESNET % ('s', 4, 's.pt')}\n  - {RESNET % ('l', 8, 'l.pt')}\n"
                                 "rule: {type: two_way, max_stitches: 1}\ndata: {name: digits}\n")
    space = load_space(path)
    with caplog.at_level(logging.INFO, logger="stitchnas"):
        results = train_anchors(space, cfg=AnchorTrainConfig(epochs=1, batch_size=64))
    said = " ".join(r.getMessage() for r in caplog.records)
    assert all(r.acc1_calibrated is not None for r in results)
    assert any(r.acc1 != r.acc1_calibrated for r in results)  # else the checks below tell nothing
    for r in results:
        assert f"top-1 {r.acc1:.2f}% on digits val with the BatchNorm statistics training left, " \
               f"{r.acc1_calibrated:.2f}% with them re-estimated as measurements do" in said
    out = tmp_path / "m.jsonl"
    code, _, err = run_cli(capsys, "evaluate", path, "--anchors", "--out", out)
    assert code == 0, err
    measured = {m.route.first_anchor: m.acc1 for m in read_measurements(out, space)}
    assert measured == {0: results[0].acc1_calibrated, 1: results[1].acc1_calibrated}
    _, val, _ = load_datasets(DataSpec("digits", input_size=(1, 28, 28)))
    saved = space.create_models()[0]  # the checkpoint as written: training's own statistics
    assert accuracy(saved, make_loader(val, 512, shuffle=False)) == results[0].acc1


@pytest.mark.parametrize("acc, calibrated, says", [
    (14.4, 78.3, "its checkpoint's BatchNorm statistics have not settled (top-1 14.40% with them, 78.30% re-estimated)"),
    (14.4, 12.0, "top-1 12.00% is no better than guessing"),
    (80.0, 12.0, "top-1 12.00% is no better than guessing"),
    (12.0, None, "top-1 12.00% is no better than guessing"),
    (80.0, 81.0, None),
    (80.0, None, None),
])
def test_an_anchor_is_judged_as_measurements_will_see_it(caplog, acc, calibrated, says):
    import logging

    from stitchnas.measure._train import _warn_anchor

    with caplog.at_level(logging.WARNING, logger="stitchnas"):
        _warn_anchor("a", acc, calibrated, 10, 360)
    warned = [r.getMessage() for r in caplog.records]
    assert (warned == []) if says is None else (len(warned) == 1 and says in warned[0])


def test_an_anchor_at_chance_under_timms_augmentation_is_pointed_to_lighter_augmentation(caplog):
    import logging

    from stitchnas.measure._train import _warn_anchor

    with caplog.at_level(logging.WARNING, logger="stitchnas"):
        _warn_anchor("a", 12.0, None, 10, 360, augmented=True)
        _warn_anchor("b", 12.0, None, 10, 360)
    augmented, plain = [r.getMessage() for r in caplog.records]
    assert "augment less (`augment: none` in the space file's data section" in augmented
    assert "augment" not in plain
