"""Proxy scores (``stitchnas proxy``): held-out images, every candidate, the file, the
proxy predictor that reads them, and their way through predict/search/bench."""

import json

import numpy as np
import pytest
import torch
from support import run_cli

from stitchnas.errors import StitchnasError
from stitchnas.measure import (DataSpec, Measurement, calibration_batch, proxy_dataset, proxy_signals,
                               proxies_cover_measurements,
                               evaluate_candidates, load_datasets, make_loader, read_proxies)
from stitchnas.network import StitchedNetwork, save_checkpoint
from stitchnas.predict import AutoPredictor, ProxyPredictor, create_predictor, fit_on_measured, make_stitches
from stitchnas.space import load_space


@pytest.fixture(scope="module")
def space():
    return load_space("tiny_test")


@pytest.fixture(scope="module")
def ckpt(space, tmp_path_factory):
    torch.manual_seed(0)
    _, val, _ = load_datasets(DataSpec("digits", input_size=(1, 28, 28)))
    net = StitchedNetwork(space, space.create_models(weights=False))
    net.init_least_squares(calibration_batch(val, 64))
    path = tmp_path_factory.mktemp("cal") / "stitched.pt"
    save_checkpoint(path, net, anchors_tuned=True)
    return path, net.eval()


def _row(space, cid, acc1, checkpoint="a.pt"):
    return Measurement(id=cid, route=space.candidate(cid).route, acc1=float(acc1), acc5=None, loss=None,
                       flops=1, params=1, dataset="d", checkpoint=checkpoint, space=space.name,
                       space_hash=space.content_hash)


def _images(dataset):
    return {bytes(dataset[i][0].numpy().tobytes()) for i in range(len(dataset))}


def test_proxy_images_are_held_out_from_the_measured_subset():
    spec = DataSpec("digits", input_size=(1, 8, 8), val_subset=200)
    _, measured, _ = load_datasets(spec)
    cal, disjoint = proxy_dataset(spec, 100)
    assert disjoint and len(cal) == 100
    assert not _images(cal) & _images(measured)
    again, _ = proxy_dataset(spec, 100)  # seeded: the same images each time
    assert _images(again) == _images(cal)
    # the whole split measured (or too few left): shared images, and said so
    cal, disjoint = proxy_dataset(DataSpec("digits", input_size=(1, 8, 8), val_subset=300), 100)
    assert not disjoint and len(cal) == 100
    cal, disjoint = proxy_dataset(DataSpec("digits", input_size=(1, 8, 8)), 50)
    assert not disjoint and len(cal) == 50
    with pytest.raises(StitchnasError, match="proxy images must be a positive integer"):
        proxy_dataset(spec, 0)


def test_proxies_cover_the_measurements_only_where_they_would_include_every_measured_image():
    digits = dict(input_size=(1, 8, 8))
    for val_subset, images, covers in [(200, 100, False),   # held out
                                       (300, 100, False),   # shared, but a strict part of the 300
                                       (300, 2048, True),   # every one of the 360, the 300 among them
                                       (None, 360, True), (None, 359, False)]:
        spec = DataSpec("digits", val_subset=val_subset, **digits)
        assert proxies_cover_measurements(spec, images) is covers, (val_subset, images)
        if covers:
            cal, _ = proxy_dataset(spec, images)
            _, measured, _ = load_datasets(spec)
            assert _images(measured) <= _images(cal)


def test_cli_proxy_scores_every_candidate_like_evaluate(space, ckpt, tmp_path, capsys):
    path, net = ckpt
    out = tmp_path / "cal.jsonl"
    code, stdout, err = run_cli(capsys, "proxy", "tiny_test", "--checkpoint", path, "--data", "digits",
                                "--val-subset", 200, "--images", 64, "--out", out)
    assert code == 0, err
    assert f"scored {len(space)} candidates of tiny_test on 64 proxy images (held out" in stdout
    scores = read_proxies(out, space)
    assert [s.id for s in scores] == [c.id for c in space.candidates]
    assert {(s.images, s.disjoint, s.checkpoint, s.dataset) for s in scores} == {
        (64, True, str(path), "digits:val:subset200:proxy64")}
    data, _ = proxy_dataset(DataSpec("digits", input_size=(1, 28, 28), val_subset=200), 64)
    direct = evaluate_candidates(net, make_loader(data, 64, shuffle=False), [s.id for s in scores],
                                 progress=False)
    for s, r in zip(scores, direct):
        assert s.acc1 == pytest.approx(r.acc1) and s.loss == pytest.approx(r.loss, rel=1e-5)
    # the predictor reads them: `predict --proxies` on rows of the same checkpoint
    rows = tmp_path / "m.jsonl"
    code, _, err = run_cli(capsys, "evaluate", "tiny_test", "--checkpoint", path, "--data", "digits",
                           "--val-subset", 200, "--ids", "0,1,3,5,7,9,11", "--out", rows)
    assert code == 0, err
    code, stdout, err = run_cli(capsys, "predict", "tiny_test", "--measurements", rows, "--proxies",
                                out, "--predictor", "proxy", "--out", tmp_path / "p.jsonl")
    assert code == 0, err
    preds = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(preds) == len(space) and all(np.isfinite(p["acc1_pred"]) for p in preds)


def test_bad_proxy_input_is_one_line(space, ckpt, tmp_path, capsys):
    path, _ = ckpt
    out = tmp_path / "cal.jsonl"
    code, _, err = run_cli(capsys, "proxy", "tiny_test", "--checkpoint", tmp_path / "none.pt", "--data",
                           "digits", "--out", out)
    assert code == 2 and err.count("\n") == 1 and "no stitched checkpoint at" in err and not out.exists()
    assert run_cli(capsys, "proxy", "tiny_test", "--checkpoint", path, "--data", "digits", "--images", 32,
                   "--out", out)[0] == 0
    lines = out.read_text().splitlines()
    rows = tmp_path / "m.jsonl"
    from stitchnas.costs import Profiler

    cost = Profiler(space).cost(space.candidate(0))
    rows.write_text(json.dumps(dict(_row(space, 0, 50.0, "other.pt").to_json(), flops=cost.flops,
                                    params=cost.params)) + "\n")
    for text, message in [("\n".join(lines[1:]), "no score for candidate 0"),
                          ("\n".join(lines[:-1] + ["{\"id\": 1}"]), "not a proxy row"),
                          (lines[0].replace(space.content_hash, "0" * 16), "scores another version")]:
        bad = tmp_path / "bad.jsonl"
        bad.write_text(text + "\n")
        code, _, err = run_cli(capsys, "predict", "tiny_test", "--measurements", rows, "--proxies", bad,
                               "--out", tmp_path / "p.jsonl")
        assert code == 2 and err.count("\n") == 1 and message in err, err
    # scores of another checkpoint than the measured rows' are refused
    code, _, err = run_cli(capsys, "predict", "tiny_test", "--measurements", rows, "--proxies", out,
                           "--out", tmp_path / "p.jsonl")
    assert code == 2 and "measured id 0 is of checkpoint other.pt" in err and err.count("\n") == 1


def _synthetic(space, seed=0, noise=0.3):
    """A table whose top-1 FLOPs cannot rank (a stitch penalty by route) and proxy scores
    that see it through noise, as a held-out batch does."""
    rng = np.random.default_rng(seed)
    stitches = make_stitches(space)
    y = np.array([80 - 3 * s.num_stitches + rng.normal(0, 2) for s in stitches])
    signals = {s.id: {"proxy_acc1": float(v + rng.normal(0, noise * 4)), "proxy_loss": float(1 - v / 100)}
               for s, v in zip(stitches, y)}
    return y, signals


def test_proxy_predictor_maps_signals_onto_measured_top1(space):
    from scipy.stats import kendalltau

    y, signals = _synthetic(space)
    stitches = make_stitches(space, signals=signals)
    train = [0, 1, 3, 6, 9, 12]
    model = ProxyPredictor(shrink=2.0).fit([stitches[i] for i in train], y[train])
    assert hasattr(model, "line_") and not hasattr(ProxyPredictor(), "line_")  # fitted state ends in _
    mean, std = model.predict(stitches, return_std=True)
    test = [i for i in range(len(y)) if i not in train]
    assert kendalltau(mean[test], y[test]).statistic > 0.6
    flops = create_predictor("flops").fit([stitches[i] for i in train], y[train]).predict(stitches)
    assert kendalltau(mean[test], y[test]).statistic > kendalltau(flops[test], y[test]).statistic
    per_tree, offset = model.per_tree(stitches)  # suggest's draws: their mean is the prediction
    assert np.allclose(per_tree.mean(axis=0) + offset, mean) and np.all(std >= 0)
    with pytest.raises(StitchnasError, match="needs stitches with signals"):
        ProxyPredictor().fit(make_stitches(space)[:6], y[:6])


def test_auto_weighs_the_proxy_only_where_there_are_signals(space):
    y, signals = _synthetic(space, noise=0.05)
    with_signals = make_stitches(space, signals=signals)
    auto = AutoPredictor().fit(with_signals, y)
    assert auto.chosen_ == "proxy" and "proxy scores" in auto.reason_
    plain = AutoPredictor().fit(make_stitches(space), y)
    assert "proxy" not in plain.scores_
    rows = [_row(space, s.id, v) for s, v in zip(with_signals, y)][:8]
    fit = fit_on_measured(space, rows, "auto", signals=signals)
    assert fit.chosen == "proxy" and fit.stitches[0].signals


def test_proxy_signals_refuse_another_checkpoint(space):
    from stitchnas.measure import ProxyScore

    scores = [ProxyScore(id=c.id, loss=0.5, acc1=80.0, images=8, disjoint=True, dataset="d",
                               checkpoint="a.pt", space=space.name, space_hash=space.content_hash)
              for c in space.candidates]
    row = _row(space, 0, 1.0, "b.pt")
    with pytest.raises(StitchnasError, match="score the measured checkpoint"):
        proxy_signals(scores, [row])
    ok = _row(space, 0, 1.0, "a.pt")
    assert proxy_signals(scores, [ok])[0] == {"proxy_acc1": 80.0, "proxy_loss": 0.5}


def test_proxy_signals_refuse_another_version_of_the_checkpoint(space, tmp_path):
    """Scores and rows of one checkpoint path but different digests (trained again between
    them) are refused; a proxies file written before digests existed still reads."""
    import dataclasses
    import json

    from stitchnas.measure import CHECKPOINT_DIGEST, ProxyScore, read_proxies, write_proxies

    scores = [ProxyScore(id=c.id, loss=0.5, acc1=80.0, images=8, disjoint=True, dataset="d", checkpoint="a.pt",
                         space=space.name, space_hash=space.content_hash, checkpoint_sha256="1" * 16)
              for c in space.candidates]
    same = dataclasses.replace(_row(space, 0, 1.0, "a.pt"), extra=((CHECKPOINT_DIGEST, "1" * 16),))
    assert proxy_signals(scores, [same])[0]["proxy_acc1"] == 80.0
    other = dataclasses.replace(same, extra=((CHECKPOINT_DIGEST, "2" * 16),))
    with pytest.raises(StitchnasError, match="another version of a.pt than the proxy scores"):
        proxy_signals(scores, [other])
    path = tmp_path / "p.jsonl"
    write_proxies(path, scores)
    old = [{k: v for k, v in json.loads(line).items() if k != "checkpoint_sha256"}
           for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in old))
    assert [s.checkpoint_sha256 for s in read_proxies(path, space)] == [None] * len(space)


def test_cli_proxy_interrupted_writes_nothing_and_says_so(space, ckpt, tmp_path, capsys, monkeypatch):
    """Ctrl-C while scoring (a forward hook raising KeyboardInterrupt): exit 130, one line, and no
    proxies file (scores are written whole or not at all)."""
    path, _ = ckpt
    out = tmp_path / "cal.jsonl"
    import stitchnas.network._checkpoints as checkpoints

    original, calls = checkpoints.load_network, [0]

    def interrupted(*a, **k):
        loaded = original(*a, **k)

        def hook(*_):
            calls[0] += 1
            if calls[0] == 1:
                raise KeyboardInterrupt

        loaded.adapters[-1].stem_module.register_forward_hook(hook)
        return loaded

    monkeypatch.setattr(checkpoints, "load_network", interrupted)
    code, stdout, err = run_cli(capsys, "proxy", "tiny_test", "--checkpoint", path, "--data", "digits",
                                "--val-subset", 200, "--images", 64, "--out", out)
    assert code == 130 and stdout == "" and not out.exists() and err.count("\n") == 1
    assert err.startswith("stitchnas: interrupted after 0") and err.endswith(
        f" of 64 proxy images: {out} is written only once every candidate is scored (seconds to minutes); "
        "run the same command again\n")
