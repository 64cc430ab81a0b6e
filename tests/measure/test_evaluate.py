import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
import yaml
from support import run_cli, tiny_anchor

from stitchnas.network import save_checkpoint
from stitchnas.measure import DataSpec, calibration_batch, load_datasets, make_loader
from stitchnas.errors import StitchnasError
from stitchnas.measure import evaluate_candidates, parse_ids, prefix_tree_size, select_ids
from stitchnas.measure import checkpoint_digest, read_measurements
from stitchnas.network import StitchedNetwork
from stitchnas.costs import Profiler
from stitchnas.space import SearchSpace, load_space


@pytest.fixture(scope="module")
def space():
    return load_space("tiny_test")


@pytest.fixture(scope="module")
def digits():
    _, val, _ = load_datasets(DataSpec("digits", input_size=(1, 28, 28), val_subset=120))
    return val


@pytest.fixture(scope="module")
def net(space, digits):
    torch.manual_seed(0)
    net = StitchedNetwork(space, space.create_models(weights=False))
    net.init_least_squares(calibration_batch(digits, 64))
    return net.eval()


def test_select_ids(space):
    assert select_ids(space, all=True) == list(range(14))
    assert select_ids(space, ids=[7, 3, 7]) == [3, 7]
    a = select_ids(space, sample=5, seed=1)
    assert a == sorted(a) and len(set(a)) == 5 and a == select_ids(space, sample=5, seed=1)
    assert a != select_ids(space, sample=5, seed=2)
    assert parse_ids("3, 7,10-12") == [3, 7, 10, 11, 12]
    for kwargs, message in [
        ({}, "choose the candidates one way"),
        ({"ids": [1], "all": True}, "choose the candidates one way"),
        ({"ids": [99]}, "has ids 0..13, not 99"),
        ({"ids": []}, "no ids given"),
        ({"sample": 15}, "cannot sample 15 of the 14 candidates"),
        ({"sample": 0}, "positive integer"),
    ]:
        with pytest.raises(StitchnasError, match=message):
            select_ids(space, **kwargs)
    with pytest.raises(StitchnasError, match="e.g. 3,7,10-12"):
        parse_ids("3,x")


def test_sampling_skips_invalid_ids():
    doc = yaml.safe_load(f"anchors: [{tiny_anchor('s', 16)}, {tiny_anchor('l', 32)}]\n"
                         "rule: {type: snnet_v2}\ninput_size: [1, 28, 28]\n")
    v2 = SearchSpace.from_dict(doc)
    assert select_ids(v2, sample=len(v2), seed=0) == [c.id for c in v2.candidates]
    assert 5 not in select_ids(v2, all=True)
    with pytest.raises(StitchnasError, match="id 5 .* is not a valid network"):
        select_ids(v2, ids=[5])


def test_shared_prefixes_match_running_each_candidate(space, net, digits):
    loader = make_loader(digits, 80, shuffle=False)  # 120 images: batches of 80 and 40
    ids = select_ids(space, all=True)
    assert prefix_tree_size(space, ids) == (56, 102)
    fast = evaluate_candidates(net, loader, ids, progress=False)
    slow = evaluate_candidates(net, loader, ids, progress=False, share_prefixes=False)
    for r, s in zip(fast, slow):  # slow: net.reset_stitch_id(id); net(x) for each candidate
        assert r.id == s.id and r.n_samples == s.n_samples == 120
        assert r.acc1 == pytest.approx(s.acc1, abs=1e-9) and r.acc5 == pytest.approx(s.acc5, abs=1e-9)
        assert r.loss == pytest.approx(s.loss, rel=1e-6)
    assert len({round(r.loss, 6) for r in fast}) == len(ids)  # every candidate differs
    assert not net.training
    # the metrics themselves, computed here over the whole set at once
    with torch.no_grad():
        for r in (fast[0], fast[5], fast[-1]):
            net.reset_stitch_id(r.id)
            logits = torch.cat([net(x) for x, _ in loader])
            y = torch.cat([y for _, y in loader])
            assert r.acc1 == pytest.approx(100 * float((logits.argmax(1) == y).double().mean()))
            top5 = (logits.topk(5, 1).indices == y[:, None]).any(1).double().mean()
            assert r.acc5 == pytest.approx(100 * float(top5))
            assert r.loss == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-5)


def test_order_mode_and_bad_batches(space, net):
    x = torch.randn(6, 1, 28, 28)
    net.train()
    net.reset_stitch_id(4)
    out = evaluate_candidates(net, [(x, torch.arange(6))], [9, 2, 9], progress=False, share_prefixes=False)
    assert [r.id for r in out] == [9, 2] and net.training and net.stitch_id == 4
    net.eval()
    with pytest.raises(StitchnasError, match="labels run 0..10 but the network has 10 classes"):
        evaluate_candidates(net, [(x, torch.tensor([0, 1, 2, 3, 4, 10]))], [0], progress=False)
    with pytest.raises(StitchnasError, match="yielded no samples"):
        evaluate_candidates(net, [], [0], progress=False)


def test_no_top5_under_five_classes():
    anchor = ("{{model: vit_tiny_patch16_224, name: {n}, kwargs: {{img_size: 28, patch_size: 7, "
              "in_chans: 1, num_classes: 3, embed_dim: {d}, depth: 2, num_heads: 2}}}}")
    doc = yaml.safe_load(f"anchors: [{anchor.format(n='s', d=16)}, {anchor.format(n='l', d=32)}]\n"
                         "rule: {type: two_way}\n")
    three = SearchSpace.from_dict(doc)
    net = StitchedNetwork(three, three.create_models(weights=False))
    out = evaluate_candidates(net, [(torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 0]))],
                              [c.id for c in three.candidates], progress=False)
    assert all(r.acc5 is None and 0 <= r.acc1 <= 100 for r in out)




def test_cli_evaluate_end_to_end(space, net, digits, tmp_path, capsys):
    ckpt = tmp_path / "stitched.pt"
    save_checkpoint(ckpt, net, anchors_tuned=True)
    out = tmp_path / "m.jsonl"
    code, stdout, err = run_cli(capsys, "evaluate", "tiny_test", "--checkpoint", ckpt, "--data",
                                "digits", "--val-subset", 120, "--ids", "0,3", "--out", out)
    assert code == 0, err
    assert "evaluated 2 candidates of tiny_test on digits:val:subset120 (120 images)" in stdout
    assert "line:" not in stdout  # one anchor measured: no line to compare with
    # random anchors score what guessing does: one warning line on stderr, stdout unchanged
    assert err.count("stitchnas: warning:") == 1 and "anchor(s) s (" in err
    assert "no better than guessing (10.0% top-1 for 10 classes, on 120 images)" in err
    rows = read_measurements(out, space)
    assert [m.id for m in rows] == [0, 3]
    direct = evaluate_candidates(net, make_loader(digits, 64, shuffle=False), [0, 3], progress=False)
    costs = {c.id: c for c in Profiler(space).profile()}
    for m, r in zip(rows, direct):
        assert m.acc1 == pytest.approx(r.acc1) and m.loss == pytest.approx(r.loss, rel=1e-5)
        assert (m.flops, m.params, m.route) == (costs[m.id].flops, costs[m.id].params, costs[m.id].route)
        assert m.checkpoint == str(ckpt) and m.space_hash == space.content_hash
    # re-measuring replaces rows; new ids are added
    code, _, err = run_cli(capsys, "evaluate", "tiny_test", "--checkpoint", ckpt, "--data", "digits",
                           "--val-subset", 40, "--ids", "3-4", "--batch-size", 32, "--out", out)
    assert code == 0, err
    # ... with a warning: the file now holds one table of two evaluations (other images)
    assert "m.jsonl now holds rows measured on digits:val:subset40 and on digits:val:subset120: " \
           "predict and search read them as one table; measure on the same images (--val-subset 120)" in err
    rows = {m.id: m for m in read_measurements(out, space)}
    assert sorted(rows) == [0, 3, 4]
    assert rows[0].dataset == "digits:val:subset120" and rows[3].dataset == "digits:val:subset40"
    code, stdout, err = run_cli(capsys, "evaluate", "tiny_test", "--checkpoint", ckpt, "--data",
                                "digits", "--val-subset", 20, "--sample", 3, "--seed", 1, "--out", out)
    assert code == 0, err
    assert len(read_measurements(out, space)) == len({0, 3, 4} | set(select_ids(space, sample=3, seed=1)))
    assert json.loads(out.read_text().splitlines()[0])["id"] == 0

    # the checkpoint is trained again at the same path: new rows are not mixed with the old ones
    assert {json.loads(line)["checkpoint_sha256"] for line in out.read_text().splitlines()} == {
        checkpoint_digest(ckpt)}
    with torch.no_grad():
        next(net.stitch_layers.parameters()).add_(0.01)
    save_checkpoint(ckpt, net, anchors_tuned=True)
    before = out.read_bytes()
    code, stdout, err = run_cli(capsys, "evaluate", "tiny_test", "--checkpoint", ckpt, "--data", "digits",
                                "--val-subset", 20, "--ids", "5", "--out", out)
    assert code == 2 and "holds rows of an earlier version of the checkpoint (ids 0," in err, err
    assert "measure into a new file (--out NEW.jsonl)" in err
    assert out.read_bytes() == before
    code, _, err = run_cli(capsys, "evaluate", "tiny_test", "--checkpoint", ckpt, "--data", "digits",
                           "--val-subset", 20, "--ids", "5", "--out", tmp_path / "fresh.jsonl")
    assert code == 0, err
    assert "stitched checkpoints" not in err
    # a second checkpoint's rows in the same file: written, with a warning that they mix
    save_checkpoint(tmp_path / "other.pt", net, anchors_tuned=True)
    code, _, err = run_cli(capsys, "evaluate", "tiny_test", "--checkpoint", tmp_path / "other.pt", "--data",
                           "digits", "--val-subset", 20, "--ids", "6", "--out", tmp_path / "fresh.jsonl")
    assert code == 0 and "fresh.jsonl now holds rows of 2 stitched checkpoints" in err
    assert len(read_measurements(tmp_path / "fresh.jsonl", space)) == 2


@pytest.mark.parametrize("argv, message", [
    (["--ids", "0", "--seed", "3"], "--seed only applies to --sample"),
    (["--ids", "99"], "has ids 0..13, not 99"),
    (["--ids", "1,x"], "cannot read ids '1,x'"),
    (["--sample", "20"], "cannot sample 20 of the 14"),
    (["--ids", "1", "--all"], "not allowed with argument"),
    (["--ids", "1", "--data", "mnist"], "unknown dataset 'mnist'"),
    (["--ids", "1", "--data", "digts"], "unknown dataset 'digts' (did you mean digits?)"),
    (["--ids", "1", "--data", "./no-such-folder"], "no data folder at './no-such-folder'"),
    (["--ids", "1", "--data", __file__], "is a file, not a folder"),
    (["--ids", "1", "--checkpoint", "nope.pt"], "checkpoint nope.pt does not exist"),
])
def test_cli_evaluate_bad_input(argv, message, tmp_path, capsys):
    if "--data" not in argv:
        argv = argv + ["--data", "digits"]
    code, stdout, err = run_cli(capsys, "evaluate", "tiny_test", "--out", tmp_path / "m.jsonl", *argv)
    assert code == 2
    assert message in err and err.count("\n") == 1 and err.startswith("stitchnas")
    assert not (tmp_path / "m.jsonl").exists()


def test_cli_evaluate_needs_a_dataset(tmp_path, capsys):
    code, _, err = run_cli(capsys, "evaluate", "tiny_test", "--ids", "1", "--out", tmp_path / "m.jsonl")
    assert code == 2 and err.count("\n") == 1
    assert "space 'tiny_test' names no dataset: pass --data" in err


def test_cli_evaluate_checks_out_file_and_classes_before_measuring(space, tmp_path, capsys):
    out = tmp_path / "m.jsonl"
    row = {"id": 0, "route": [[0, 0, 4]], "acc1": 1.0, "acc5": None, "loss": None, "flops": 1,
           "params": 1, "dataset": "d", "checkpoint": "c", "space": "other", "space_hash": "f" * 16}
    out.write_text(json.dumps(row) + "\n")
    code, _, err = run_cli(capsys, "evaluate", "tiny_test", "--data", "digits", "--ids", "1",
                           "--checkpoint", tmp_path / "never-read.pt", "--out", out)
    assert code == 2 and err.count("\n") == 1 and "line 1: the file belongs to another space" in err
    anchor = ("{{model: vit_tiny_patch16_224, name: {n}, kwargs: {{img_size: 28, patch_size: 7, "
              "in_chans: 1, num_classes: 3, embed_dim: {d}, depth: 2, num_heads: 2}}}}")
    path = tmp_path / "three.yaml"
    path.write_text(f"anchors: [{anchor.format(n='s', d=16)}, {anchor.format(n='l', d=32)}]\n"
                    "rule: {type: two_way}\ndata: {name: digits}\n")
    three = load_space(path)
    save_checkpoint(tmp_path / "three.pt", StitchedNetwork(three, three.create_models(weights=False)),
                    anchors_tuned=True)
    code, _, err = run_cli(capsys, "evaluate", path, "--checkpoint", tmp_path / "three.pt",
                           "--out", tmp_path / "three.jsonl")
    assert code == 2 and err.count("\n") == 1
    assert "dataset digits has 10 classes but the network predicts 3" in err


def test_chance_warning_names_anchors_within_three_standard_errors_of_guessing(space):
    from support.tiny import row
    from stitchnas.measure import chance_warning, top1_stderr

    costs = {c.id: c for c in Profiler(space).profile()}
    assert top1_stderr(10.0, 400) == pytest.approx(1.5)  # sqrt(0.1 * 0.9 / 400)
    assert top1_stderr(50.0, 10000) == pytest.approx(0.5)
    trained = [row(space, costs, i) for i in (0, 1, 2)]  # 70 / 80 %, and a stitch
    assert chance_warning(space, trained, classes=10, images=400) is None
    # 10% + 3 x 1.5 = 14.5: anchor s at 14.4 is guessing, l at 14.6 is not; a stitch never counts
    rows = [row(space, costs, 0, 14.4), row(space, costs, 1, 14.6), row(space, costs, 2, 1.0)]
    line = chance_warning(space, rows, classes=10, images=400)
    assert line.startswith("anchor(s) s (14.40%) of tiny_test score no better than guessing")
    assert "l (" not in line and "train-anchors tiny_test --force" in line
    # more classes, more images: the limit follows both
    assert chance_warning(space, rows, classes=100, images=400) is None
    assert chance_warning(space, [row(space, costs, 0, 1.2)], classes=100, images=10000) is not None


def test_anchor_order_warning_names_a_costlier_anchor_scoring_below_a_cheaper_one(space):
    """Anchor l (more FLOPs) below anchor s by more than two standard errors of the difference is
    named with both; within them, or in the usual order, nothing is said; stitches never count."""
    from support.tiny import row
    from stitchnas.measure import anchor_order_warning, top1_stderr

    costs = {c.id: c for c in Profiler(space).profile()}
    assert costs[1].flops > costs[0].flops
    assert anchor_order_warning(space, [row(space, costs, i) for i in (0, 1, 2)], 400) is None  # 70 < 80
    limit = 2 * (2 * top1_stderr(70.0, 400) ** 2) ** 0.5  # about 6.5 points on 400 images
    near = [row(space, costs, 0, 70.0), row(space, costs, 1, 70.0 - 0.9 * limit), row(space, costs, 2, 1.0)]
    assert anchor_order_warning(space, near, 400) is None
    far = [row(space, costs, 0, 70.0), row(space, costs, 1, 70.0 - 1.1 * limit), row(space, costs, 2, 99.0)]
    line = anchor_order_warning(space, far, 400)
    assert line.startswith("costlier anchor(s) of tiny_test score below cheaper ones, by more than two "
                           "standard errors on 400 images: l (")
    assert "below s (" in line and "train-anchors tiny_test --force" in line and "\n" not in line
    assert anchor_order_warning(space, near, 100000) is not None  # more images, a smaller limit


def test_anchors_warning_says_chance_before_order(space):
    """The one line `evaluate`, `run` and `study` print: anchors at chance make their order
    meaningless, so that is said alone; else a costlier anchor below a cheaper one; else nothing."""
    from support.tiny import row
    from stitchnas.measure import anchor_order_warning, anchors_warning, chance_warning

    costs = {c.id: c for c in Profiler(space).profile()}
    ordered = [row(space, costs, i) for i in (0, 1, 2)]
    assert anchors_warning(space, iter(ordered), classes=10, images=400) is None
    upside_down = [row(space, costs, 0, 90.0), row(space, costs, 1, 40.0)]
    assert anchors_warning(space, iter(upside_down), 10, 400) == anchor_order_warning(space, upside_down, 400)
    at_chance = [row(space, costs, 0, 90.0), row(space, costs, 1, 10.0)]  # also below s
    assert anchor_order_warning(space, at_chance, 400) is not None
    assert anchors_warning(space, iter(at_chance), 10, 400) == chance_warning(space, at_chance, 10, 400)


def test_evaluate_warns_when_a_costlier_anchor_scores_below_a_cheaper_one(tmp_path, capsys):
    """Through the CLI: two anchors trained alike, then the costlier one's head mixed up for half
    the classes (its top-1 about halves, still far above guessing): `evaluate`, measuring the
    anchors alone, names it below the cheaper one in one warning line and still saves the rows."""
    from support import write_space

    path = write_space(tmp_path, "name: ordered\ninput_size: [1, 28, 28]\nanchors:\n"
                                 f"  - {tiny_anchor('s', 16, depth=2, patch=14)[:-1]}, checkpoint: s.pt}}\n"
                                 f"  - {tiny_anchor('l', 32, depth=2, patch=14)[:-1]}, checkpoint: l.pt}}\n"
                                 "rule: {type: two_way}\ndata: {name: digits}\n")
    quick = ("--epochs", "6", "--batch-size", "32", "--lr", "0.003", "--val-subset", "64")
    assert run_cli(capsys, "train-anchors", path, *quick)[0] == 0
    state = torch.load(tmp_path / "l.pt")
    key = next(k for k in state if k.endswith("head.weight"))
    rows = [1, 2, 3, 4, 0, 5, 6, 7, 8, 9]  # class c's logit now scores class c - 1, for c < 5
    state[key], bias = state[key][rows], key.replace("weight", "bias")
    state[bias] = state[bias][rows]
    torch.save(state, tmp_path / "l.pt")
    out = tmp_path / "m.jsonl"
    code, said, err = run_cli(capsys, "evaluate", path, "--anchors", "--out", out)
    assert code == 0 and said.startswith("evaluated 2 candidates of ordered on digits:val (360 images)"), err
    acc = {r.id: r.acc1 for r in read_measurements(out, load_space(path))}
    assert acc[1] < acc[0] - 15 and acc[1] > 30, acc  # the mix-up did what the test needs
    lines = [ln for ln in err.splitlines() if "warning" in ln]
    assert len(lines) == 1 and "costlier anchor(s) of" in lines[0], err
    assert "l (" in lines[0] and "below s (" in lines[0] and "on 360 images" in lines[0]


def test_a_distributed_evaluate_warns_about_anchors_at_chance_too(net, tmp_path, capsys):
    ckpt = tmp_path / "stitched.pt"
    save_checkpoint(ckpt, net, anchors_tuned=True)
    code, out, err = run_cli(capsys, "evaluate", "tiny_test", "--checkpoint", ckpt, "--data", "digits",
                             "--val-subset", 120, "--ids", "0,1,3", "--storage",
                             f"sqlite:///{tmp_path / 'q.db'}", "--out", tmp_path / "m.jsonl")
    assert code == 0 and "this worker measured 3 candidates" in out, err
    assert err.count("no better than guessing") == 1 and "anchor(s) s (" in err


def test_evaluate_into_a_new_default_file_after_a_run_says_what_search_will_read(
        space, net, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    ckpt = tmp_path / "stitched.pt"
    save_checkpoint(ckpt, net, anchors_tuned=True)
    ran = tmp_path / "results" / "tiny_test" / "run" / "measurements.jsonl"  # what a run leaves
    common = ("evaluate", "tiny_test", "--checkpoint", ckpt, "--data", "digits")
    assert run_cli(capsys, *common, "--val-subset", 60, "--ids", "0,1,5", "--out", ran)[0] == 0
    code, said, err = run_cli(capsys, "suggest", "tiny_test", "--k", "2")  # reads the run's rows
    assert code == 0 and f"reading the last run's {ran}" in err
    assert said.splitlines()[-1].endswith(f"--out {ran} --val-subset 60")  # where and how to add rows
    code, _, err = run_cli(capsys, *common, "--ids", "3")
    assert code == 0, err
    default = tmp_path / "results" / "tiny_test" / "measurements.jsonl"
    assert f"{default} is new: search, predict and suggest now read it instead of the last run's 3 " \
           f"rows in {ran}; to measure beside those, pass --out {ran} --val-subset 60" in err
    code, _, err = run_cli(capsys, *common, "--ids", "4")  # the file exists now: said once
    assert code == 0 and "is new" not in err and "now holds rows measured on" not in err


def test_commands_read_the_proxy_scores_beside_the_measurements_when_of_their_checkpoint(
        space, net, tmp_path, capsys, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("STITCHNAS_RESULTS", str(results))
    home = results / "tiny_test"
    home.mkdir(parents=True)
    save_checkpoint(home / "stitched.pt", net, anchors_tuned=True)  # the default checkpoint
    data = ("--data", "digits", "--val-subset", "60")
    assert run_cli(capsys, "evaluate", "tiny_test", *data, "--ids", "0,1,3,5,8")[0] == 0
    assert run_cli(capsys, "proxy", "tiny_test", *data, "--images", "64")[0] == 0
    assert (home / "proxies.jsonl").is_file()
    code, said, err = run_cli(capsys, "predict", "tiny_test")
    assert code == 0, err
    assert f"predict: reading the proxy scores in {home / 'proxies.jsonl'} (of the measured checkpoint)" in err
    assert "with auto (chose proxy), fitted on 5 measured" in said
    # scores of another checkpoint beside them: not read, and said why
    save_checkpoint(tmp_path / "other.pt", net, anchors_tuned=True)
    assert run_cli(capsys, "proxy", "tiny_test", *data, "--images", "64", "--checkpoint",
                   tmp_path / "other.pt")[0] == 0
    code, said, err = run_cli(capsys, "predict", "tiny_test")
    assert code == 0, err
    assert f"warning: predict: not reading the proxy scores in {home / 'proxies.jsonl'}: measured id 0 " \
           "is of checkpoint" in err
    assert "chose proxy" not in said


def _interrupt_on_call(module, n):
    """A forward hook raising KeyboardInterrupt on the module's ``n``-th call (Ctrl-C mid-batch)."""
    calls = [0]

    def hook(*_):
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt

    return module.register_forward_hook(hook)


def _interrupted(net, loader, ids, call):
    """The partial counts of an evaluation stopped by Ctrl-C in the ``call``-th run of the last
    anchor's stem (once per batch, after every route of the first anchor was scored)."""
    from stitchnas.measure import EvaluationInterrupted

    handle = _interrupt_on_call(net.adapters[-1].stem_module, call)
    try:
        with pytest.raises(EvaluationInterrupted) as info:
            evaluate_candidates(net, loader, ids, progress=False)
    finally:
        handle.remove()
    assert isinstance(info.value, KeyboardInterrupt)  # the CLI's Ctrl-C handling still applies
    return info.value.partial


def test_an_interrupted_evaluation_resumes_to_the_uninterrupted_result(space, net, digits):
    ids = select_ids(space, all=True)
    whole = evaluate_candidates(net, make_loader(digits, 32, shuffle=False), ids, progress=False)
    partial = _interrupted(net, make_loader(digits, 32, shuffle=False), ids, 3)  # two batches count
    assert partial.n_samples == 64 and partial.ids == tuple(ids) and partial.num_classes == 10
    rest = make_loader(torch.utils.data.Subset(digits, range(64, len(digits))), 32, shuffle=False)
    resumed = evaluate_candidates(net, rest, ids, progress=False, resume=partial)
    assert resumed == whole  # exactly: the same sums in the same order
    with pytest.raises(StitchnasError, match="counted other candidates"):
        evaluate_candidates(net, rest, ids[:3], progress=False, resume=partial)
    # checkpoints during the pass carry whole batches only
    seen = []
    evaluate_candidates(net, make_loader(digits, 32, shuffle=False), ids, progress=False,
                        on_checkpoint=seen.append, checkpoint_every_s=0)
    assert [p.n_samples for p in seen] == [32, 64, 96, 120]


def test_cli_evaluate_keeps_an_interrupted_evaluation_and_resumes_it(space, net, tmp_path, capsys,
                                                                    monkeypatch):
    from stitchnas.measure import partial_path

    ckpt = tmp_path / "stitched.pt"
    save_checkpoint(ckpt, net, anchors_tuned=True)
    out = tmp_path / "m.jsonl"
    argv = ("evaluate", "tiny_test", "--checkpoint", ckpt, "--data", "digits", "--val-subset", 120,
            "--batch-size", 32, "--out", out)
    import stitchnas.network._checkpoints as checkpoints

    original = checkpoints.load_network

    def interrupted_in_the_third_batch(*a, **k):
        loaded = original(*a, **k)
        _interrupt_on_call(loaded.adapters[-1].stem_module, 3)
        return loaded

    def interrupted_in_the_first_batch(*a, **k):
        loaded = original(*a, **k)
        _interrupt_on_call(loaded.adapters[-1].stem_module, 1)
        return loaded

    state = partial_path(out)
    with monkeypatch.context() as patch:  # nothing counted yet: nothing saved
        patch.setattr(checkpoints, "load_network", interrupted_in_the_first_batch)
        code, stdout, err = run_cli(capsys, *argv)
    assert code == 130 and stdout == "" and not out.exists() and not state.exists()
    assert err == ("stitchnas: interrupted before the first batch of images was counted: nothing to keep; "
                   "run the same command again\n")
    with monkeypatch.context() as patch:
        patch.setattr(checkpoints, "load_network", interrupted_in_the_third_batch)
        code, stdout, err = run_cli(capsys, *argv)
    assert code == 130 and stdout == "" and not out.exists()
    assert f"interrupted after 64 of 120 images; their counts are saved in {state}" in err
    assert json.loads(state.read_text())["partial"]["n_samples"] == 64
    code, stdout, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert f"resuming the interrupted evaluation saved in {state}: 64 of 120 images already counted" in err
    assert "(resumed after 64 images)" in stdout and not state.exists()
    resumed = read_measurements(out, space)
    out.unlink()
    assert run_cli(capsys, *argv)[0] == 0
    assert [(m.id, m.acc1, m.acc5, m.loss) for m in read_measurements(out, space)] == [
        (m.id, m.acc1, m.acc5, m.loss) for m in resumed]
    # a state of another evaluation (other ids) is named and ignored, and stays
    state.write_text(json.dumps({"version": 1, "key": {"ids": [1]}, "partial": {
        "ids": [1], "sums": [[1.0, 1.0, 1.0]], "n_samples": 32, "num_classes": 10}}))
    code, _, err = run_cli(capsys, *argv, "--ids", "0,3")
    assert code == 0 and f"ignoring {state}: it counted another evaluation (other " in err
    assert state.exists()
    state.write_text("{not json")
    code, _, err = run_cli(capsys, *argv, "--ids", "0,3")
    assert code == 0 and f"ignoring {state}: not a saved evaluation" in err


def test_per_image_outcomes_are_the_top1_image_by_image(space, net, digits):
    """Each candidate's per-image outcomes, in loader order, are its own top-1 image by image (a
    candidate run alone on the same images), the same with prefixes shared or not, and travel in
    the measured row (``top1_hits``), which decodes to them; a resumed evaluation has none."""
    import numpy as np

    from stitchnas.measure import TOP1_HITS, measure, top1_outcomes

    ids = [0, 1, 5, 9]
    loader = make_loader(digits, 50, shuffle=False)
    fast = evaluate_candidates(net, loader, ids, progress=False)
    slow = evaluate_candidates(net, loader, ids, progress=False, share_prefixes=False)
    x = torch.stack([digits[i][0] for i in range(len(digits))])
    y = torch.tensor([int(digits[i][1]) for i in range(len(digits))])
    for r, s in zip(fast, slow):
        net.reset_stitch_id(r.id)
        with torch.no_grad():
            alone = (net(x).argmax(dim=1) == y).tolist()
        assert list(r.hits) == list(s.hits) == alone and len(alone) == 120
        assert 100.0 * sum(r.hits) / 120 == pytest.approx(r.acc1, abs=1e-9)
    assert len({r.hits for r in fast}) == len(ids)  # the candidates differ image by image
    rows = measure(space, net, loader, ids, dataset="digits:val", checkpoint="c.pt", progress=False)
    for m, r in zip(rows, fast):
        assert np.array_equal(top1_outcomes(m), np.array(r.hits, dtype=float))
    forged = dataclasses.replace(rows[0], acc1=rows[0].acc1 + 1.0)  # outcomes of another top-1: unused
    assert top1_outcomes(forged) is None
    for text in ("x", "12:!!", "0:", "999:AAAA"):
        broken = dataclasses.replace(rows[0], extra=((TOP1_HITS, text),))
        assert top1_outcomes(broken) is None
    partial = _interrupted(net, make_loader(digits, 60, shuffle=False), ids, 2)  # one batch counts
    rest = make_loader(torch.utils.data.Subset(digits, range(60, 120)), 60, shuffle=False)
    resumed = evaluate_candidates(net, rest, ids, progress=False, resume=partial)
    whole = evaluate_candidates(net, make_loader(digits, 60, shuffle=False), ids, progress=False)
    assert all(r.hits is None for r in resumed) and resumed == whole  # the scores, as before


def test_cli_evaluate_counts_stitches_against_the_line_of_measured_anchors(space, net, tmp_path, capsys):
    """With two anchors among the ids, evaluate's last line counts the stitches between them that
    beat the line, and by more than two standard errors paired over the images, as the run's
    report counts them from the same rows."""
    from stitchnas.workflows import line_summary

    ckpt = tmp_path / "stitched.pt"
    save_checkpoint(ckpt, net, anchors_tuned=True)
    out = tmp_path / "m.jsonl"
    code, stdout, err = run_cli(capsys, "evaluate", "tiny_test", "--checkpoint", ckpt, "--data", "digits",
                                "--val-subset", 120, "--all", "--out", out)
    assert code == 0, err
    line = line_summary(read_measurements(out, space), 120)
    assert line["paired"] == line["within_anchors"] > 0
    assert stdout.splitlines()[-1] == (
        f"line: {line['above']} of {line['within_anchors']} stitches between measured anchors beat the line "
        f"between their neighbouring anchors; {line['above_by_2se']} by more than two standard errors "
        f"(paired over the images; were every stitch exactly on its line, about {line['by_chance']:.1f} would "
        "by chance)")
    assert line["by_chance"] == pytest.approx(0.02275 * line["within_anchors"], abs=0.01)
