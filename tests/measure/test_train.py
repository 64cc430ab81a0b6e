import collections
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from support import run_cli, tiny_anchor, write_space
from stitchnas.network import load_network, read_checkpoint
from stitchnas.measure import DataSpec, load_datasets, make_loader
from stitchnas.errors import StitchnasError
from stitchnas.costs import Profiler
from stitchnas.space import load_space
from stitchnas.measure import (AnchorTrainConfig, RouteSampler, StitchTrainConfig, accuracy, config_from_space,
                               recipe_changes, train_anchors, train_stitched)

DIGITS = DataSpec("digits", input_size=(1, 28, 28))


@pytest.fixture(scope="module")
def trained_space(tmp_path_factory):
    """tiny_test's two anchors, trained for real on scikit-learn's digits."""
    d = tmp_path_factory.mktemp("anchors")
    text = (f"name: digits_pair\ninput_size: [1, 28, 28]\nanchors:\n"
            f"  - {tiny_anchor('s', 16)[:-1]}, checkpoint: s.pt}}\n"
            f"  - {tiny_anchor('l', 32)[:-1]}, checkpoint: l.pt}}\n"
            "rule: {type: two_way}\n")
    space = load_space(write_space(d, text))
    results = train_anchors(space, DIGITS, AnchorTrainConfig(epochs=15, batch_size=32, lr=3e-3),
                            log=lambda m: None)
    return space, results


def test_anchors_learn_and_are_saved(trained_space):
    space, results = trained_space
    assert [r.name for r in results] == ["s", "l"]
    for r, spec in zip(results, space.anchors):
        assert Path(spec.checkpoint).is_file()
        assert r.acc1 > 50.0  # 10 classes: chance is 10%
    net = load_network(space)  # anchors load from their checkpoints
    _, val, _ = load_datasets(DIGITS)
    net.reset_stitch_id(1)
    assert accuracy(net, make_loader(val, 256, shuffle=False)) == pytest.approx(results[1].acc1)


def _mean_stitch_acc(net, loader):
    accs = []
    for c in net.space.candidates:
        if not c.is_anchor:
            net.reset_stitch_id(c.id)
            accs.append(accuracy(net, loader))
    return sum(accs) / len(accs)


def test_least_squares_then_training_improve_stitches(trained_space, tmp_path):
    space, _ = trained_space
    _, val, _ = load_datasets(DIGITS)
    loader = make_loader(val, 256, shuffle=False)
    net = load_network(space)
    torch.manual_seed(0)
    random_acc = _mean_stitch_acc(net, loader)  # stitching layers at their random init
    cfg = StitchTrainConfig(epochs=0, batch_size=32, calib_size=128)
    ls = train_stitched(space, DIGITS, cfg, tmp_path / "ls.pt", resume=False, log=lambda m: None)
    ls_acc = _mean_stitch_acc(ls.network.eval(), loader)
    cfg = StitchTrainConfig(epochs=3, batch_size=32, calib_size=128, lr=2e-3)
    tr = train_stitched(space, DIGITS, cfg, tmp_path / "tr.pt", resume=False, log=lambda m: None)
    trained_acc = _mean_stitch_acc(tr.network.eval(), loader)
    assert ls_acc > random_acc + 10
    assert trained_acc > ls_acc
    assert set(ls.ls_errors) == set(space.layer_shapes)


def test_resume_continues_exactly(trained_space, tmp_path):
    space, _ = trained_space
    cfg = StitchTrainConfig(epochs=2, batch_size=64, calib_size=64, seed=5)
    full = train_stitched(space, DIGITS, cfg, tmp_path / "full.pt", resume=False, log=lambda m: None)
    one = StitchTrainConfig(epochs=2, batch_size=64, calib_size=64, seed=5,
                            max_steps=full.steps // 2)
    part = train_stitched(space, DIGITS, one, tmp_path / "part.pt", resume=False, log=lambda m: None)
    assert part.epochs_done == 1
    logs = []
    rest = train_stitched(space, DIGITS, cfg, tmp_path / "part.pt", resume=True, log=logs.append)
    assert "resuming" in logs[0] and rest.steps == full.steps and rest.epochs_done == 2
    assert rest.resumed_at == "after epoch 1"
    a, b = full.network.stitch_layers.state_dict(), rest.network.stitch_layers.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_layers_fitted_to_other_anchor_weights_are_named_on_load_and_not_resumed(trained_space, tmp_path, caplog):
    """A stitched checkpoint records its anchors' checkpoint digests: after an anchor is trained
    anew, loading it warns (its layers fit the old features) and resuming it is refused."""
    import shutil

    from stitchnas.network import anchors_changed

    space, _ = trained_space
    d = tmp_path / "copy"
    shutil.copytree(Path(space.path).parent, d)
    space = load_space(d / Path(space.path).name)  # anchors of its own, to train anew
    cfg = StitchTrainConfig(epochs=2, batch_size=64, calib_size=64, max_steps=3)
    train_stitched(space, DIGITS, cfg, tmp_path / "s.pt", resume=False, log=lambda m: None)
    doc = read_checkpoint(tmp_path / "s.pt", space)
    assert set(doc["anchor_checkpoints"]) == {"s", "l"} and anchors_changed(doc, space) == []
    state = torch.load(space.anchors[1].checkpoint, weights_only=True)
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] += 0.01
    torch.save(state, space.anchors[1].checkpoint)
    assert anchors_changed(read_checkpoint(tmp_path / "s.pt", space), space) == ["l"]
    with caplog.at_level("WARNING"):
        load_network(space, tmp_path / "s.pt")
    assert "was trained on other weights of anchor(s) l" in caplog.text and "--no-resume" in caplog.text
    with pytest.raises(StitchnasError, match=r"other weights of anchor\(s\) l .* pass --no-resume"):
        train_stitched(space, DIGITS, cfg, tmp_path / "s.pt", resume=True, log=lambda m: None)


def test_an_interrupted_training_saves_mid_epoch_and_resumes_exactly(trained_space, tmp_path, monkeypatch):
    """A real SIGTERM (a scheduler's preemption; Ctrl-C's SIGINT takes the same path, but a
    background test run may ignore it) during a step: the step finishes, the checkpoint records
    the batch within the epoch, and resuming skips exactly the batches done: the result equals
    an uninterrupted run's bit for bit."""
    import signal

    space, _ = trained_space
    cfg = StitchTrainConfig(epochs=2, batch_size=64, calib_size=64, seed=5)
    full = train_stitched(space, DIGITS, cfg, tmp_path / "full.pt", resume=False, log=lambda m: None)
    steps_per_epoch = full.steps // 2
    original, calls = torch.optim.AdamW.step, [0]

    def step(self, *a, **k):
        calls[0] += 1
        if calls[0] == steps_per_epoch + 3:  # the fourth step of the second epoch
            signal.raise_signal(signal.SIGTERM)
        return original(self, *a, **k)

    logs, before = [], (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.AdamW, "step", step)
        with pytest.raises(KeyboardInterrupt):
            train_stitched(space, DIGITS, cfg, tmp_path / "part.pt", resume=False, log=logs.append)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before  # restored
    assert (f"interrupted in epoch 2/2 after 3 of {steps_per_epoch} batches; saved {tmp_path / 'part.pt'}: "
            "run the same command again to resume") in logs[-1]
    saved = read_checkpoint(tmp_path / "part.pt", space)["state"]
    assert (saved["epoch"], saved["batch"], saved["step"]) == (1, 3, steps_per_epoch + 3)
    logs = []
    rest = train_stitched(space, DIGITS, cfg, tmp_path / "part.pt", resume=True, log=logs.append)
    assert rest.steps == full.steps and rest.epochs_done == 2
    assert rest.resumed_at == "in epoch 2 after 3 batches" and full.resumed_at == ""  # run's report says it
    a, b = full.network.stitch_layers.state_dict(), rest.network.stitch_layers.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoints_inside_an_epoch_are_due_every_period_or_when_asked_to_stop():
    import signal

    from stitchnas.measure._resume import Interrupts

    stop = Interrupts(every_s=3600)
    try:
        assert not stop.due()
        signal.raise_signal(signal.SIGTERM)
        assert stop.requested and stop.due()
    finally:
        stop.close()
    stop = Interrupts(every_s=0)
    try:
        assert stop.due() and stop.due() and not stop.requested
    finally:
        stop.close()


def test_cli_train_stopped_by_a_signal_says_how_to_resume_and_resumes(trained_space, tmp_path, capsys,
                                                                      monkeypatch):
    import signal

    space, _ = trained_space
    out = tmp_path / "st.pt"
    argv = ("train", space.path, "--data", "digits", "--epochs", "1", "--batch-size", "64", "--out", out)
    original, calls = torch.optim.AdamW.step, [0]

    def step(self, *a, **k):
        calls[0] += 1
        if calls[0] == 3:
            signal.raise_signal(signal.SIGTERM)
        return original(self, *a, **k)

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.AdamW, "step", step)
        code, stdout, err = run_cli(capsys, *argv)
    assert code == 130 and stdout == ""
    assert (f"interrupted in epoch 1/1 after 3 of 22 batches; saved {out}: run the same command again "
            "to resume") in err and err.rstrip().endswith("stitchnas: interrupted")
    code, _, err = run_cli(capsys, *argv)
    assert code == 0 and f"resuming {out} in epoch 1 after 3 batches" in err, err
    assert read_checkpoint(out, space)["state"]["step"] == 22


def test_an_interrupted_anchor_training_resumes_exactly(tmp_path, monkeypatch):
    """An anchor has no checkpoint until it is trained: a real SIGTERM inside its second epoch
    saves its unfinished training beside that checkpoint, and training the missing anchors again
    resumes it; the weights equal an uninterrupted training's bit for bit."""
    import signal

    def space(folder):
        text = (f"name: digits_pair\ninput_size: [1, 28, 28]\nanchors:\n"
                f"  - {tiny_anchor('s', 16)[:-1]}, checkpoint: s.pt}}\n"
                f"  - {tiny_anchor('l', 32)[:-1]}, checkpoint: l.pt}}\n"
                "rule: {type: two_way}\n")
        return load_space(write_space(folder, text))

    cfg = AnchorTrainConfig(epochs=2, batch_size=64, lr=3e-3)
    (tmp_path / "full").mkdir(), (tmp_path / "part").mkdir()
    full = train_anchors(space(tmp_path / "full"), DIGITS, cfg, log=lambda m: None)
    steps = 1437 // 64  # per epoch (digits' train split, last batch dropped)
    original, calls = torch.optim.AdamW.step, [0]

    def step(self, *a, **k):
        calls[0] += 1
        if calls[0] == 2 * steps + steps + 5:  # the second anchor, fifth step of its second epoch
            signal.raise_signal(signal.SIGTERM)
        return original(self, *a, **k)

    part_space, logs = space(tmp_path / "part"), []
    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.AdamW, "step", step)
        with pytest.raises(KeyboardInterrupt):
            train_anchors(part_space, DIGITS, cfg, log=logs.append)
    state = tmp_path / "part" / "l.pt.partial.pt"
    assert (tmp_path / "part" / "s.pt").is_file() and not (tmp_path / "part" / "l.pt").exists()
    assert f"anchor l: interrupted in epoch 2/2 after 5 of {steps} batches; saved {state}" in logs[-1]
    logs = []
    rest = train_anchors(part_space, DIGITS, cfg, only_missing=True, log=logs.append)
    assert "anchor l: resuming" in logs[0] and [r.name for r in rest] == ["l"] and not state.exists()
    assert rest[0].acc1 == full[1].acc1
    a = torch.load(tmp_path / "full" / "l.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "l.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_unreadable_validation_image_fails_in_one_line_after_the_trained_anchor_is_saved(tmp_path):
    """A file in val/ that is not an image stops the first anchor's accuracy, not its training:
    the anchor is saved first, so running again trains only what is missing."""
    from support import make_image_tree

    make_image_tree(tmp_path / "images", classes=[f"c{i}" for i in range(10)], per_class=2)
    (tmp_path / "images" / "val" / "c7" / "readme.png").write_text("not an image\n")
    text = (f"name: folder_pair\ninput_size: [1, 28, 28]\nanchors:\n"
            f"  - {tiny_anchor('s', 16)[:-1]}, checkpoint: s.pt}}\n"
            f"  - {tiny_anchor('l', 32)[:-1]}, checkpoint: l.pt}}\n"
            "rule: {type: two_way}\n")
    space = load_space(write_space(tmp_path, text))
    data = DataSpec("imagefolder", root=str(tmp_path / "images"), input_size=(1, 28, 28))
    with pytest.raises(StitchnasError, match=r"cannot read image .*readme\.png \(not an image PIL can "
                                             r"identify\): remove or replace it"):
        train_anchors(space, data, AnchorTrainConfig(epochs=1, batch_size=4), log=lambda m: None)
    assert (tmp_path / "s.pt").is_file() and not (tmp_path / "l.pt").exists()


def test_low_rank_training_moves_only_the_update(trained_space, tmp_path):
    space, _ = trained_space
    ls = train_stitched(space, DIGITS, StitchTrainConfig(epochs=0, rank=2, calib_size=64),
                        tmp_path / "a.pt", resume=False, log=lambda m: None)
    tr = train_stitched(space, DIGITS, StitchTrainConfig(epochs=1, rank=2, calib_size=64, batch_size=32),
                        tmp_path / "b.pt", resume=False, log=lambda m: None)
    a, b = ls.network.stitch_layers.state_dict(), tr.network.stitch_layers.state_dict()
    for k in a:
        if ".linear." in k:
            assert torch.equal(a[k], b[k]), k
        elif "lora_b" in k:
            assert not torch.equal(a[k], b[k]), k
    assert read_checkpoint(tmp_path / "b.pt", space)["rank"] == 2
    assert load_network(space, tmp_path / "b.pt").stitch_layers[next(iter(a)).split(".")[0]].rank == 2


def test_distillation_and_finetuning_run(trained_space, tmp_path):
    space, _ = trained_space
    cfg = StitchTrainConfig(epochs=1, batch_size=32, calib_size=64, distill=True,
                            freeze_anchors=False, max_steps=5)
    before = load_network(space).anchors.state_dict()
    tr = train_stitched(space, DIGITS, cfg, tmp_path / "ft.pt", resume=False, log=lambda m: None)
    after = tr.network.anchors.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert read_checkpoint(tmp_path / "ft.pt", space)["anchors"] is not None
    net = load_network(space, tmp_path / "ft.pt")
    assert all(torch.equal(net.anchors.state_dict()[k], after[k].cpu()) for k in after)


def test_a_family_without_checkpoints_trains_together_from_its_seed(tmp_path):
    text = (f"name: digits_scratch\ninput_size: [1, 28, 28]\nanchors:\n  - {tiny_anchor('s', 16)}\n"
            f"  - {tiny_anchor('l', 32)}\nrule: {{type: two_way}}\n")
    space = load_space(write_space(tmp_path, text))
    cfg = StitchTrainConfig(epochs=1, batch_size=32, calib_size=64, freeze_anchors=False, anchor_lr=2e-3,
                            anchor_share=0.5, max_steps=6)
    torch.manual_seed(cfg.seed)
    start = [m.state_dict() for m in space.create_models(weights=True)]  # timm's seeded random weights
    runs = [train_stitched(space, DIGITS, cfg, tmp_path / f"{i}.pt", resume=False, log=lambda m: None)
            for i in range(2)]
    first, second = (r.network.anchors.state_dict() for r in runs)
    assert all(torch.equal(first[k], second[k]) for k in first)  # the seed decides the whole family
    assert any(not torch.equal(start[int(k.split(".")[0])][k.split(".", 1)[1]], v) for k, v in first.items())
    assert read_checkpoint(tmp_path / "0.pt", space)["state"]["config"]["anchor_share"] == 0.5


def test_an_anchor_share_with_frozen_anchors_is_a_warning(trained_space, tmp_path, caplog):
    space, _ = trained_space
    cfg = StitchTrainConfig(epochs=1, batch_size=32, calib_size=64, anchor_share=0.5, max_steps=1)
    with caplog.at_level("WARNING", logger="stitchnas"):
        train_stitched(space, DIGITS, cfg, tmp_path / "f.pt", resume=False, log=lambda m: None)
    assert [r.getMessage() for r in caplog.records if "anchor_share" in r.getMessage()] == [
        "anchor_share has no effect with frozen anchors (every step trains a stitch): train the anchors "
        "too (--finetune-anchors, or freeze_anchors: false) or drop it"]


def test_checkpoint_of_another_space_is_refused(trained_space, tmp_path):
    space, _ = trained_space
    train_stitched(space, DIGITS, StitchTrainConfig(epochs=0, calib_size=32), tmp_path / "x.pt",
                   resume=False, log=lambda m: None)
    with pytest.raises(StitchnasError, match="trained on space 'digits_pair'"):
        load_network(load_space("tiny_test"), tmp_path / "x.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(StitchnasError, match="truncated or not a stitchnas checkpoint"):
        load_network(space, tmp_path / "bad.pt")


def test_flops_aware_sampling_visits_every_flops_interval_equally():
    space = load_space("fmnist_vit_2way")
    costs = Profiler(space).profile()
    cands = [c for c in space.candidates if not c.is_anchor]
    flops = {c.id: c.flops for c in costs}
    sampler = RouteSampler(cands, [flops[c.id] for c in cands], "flops", bins=5, seed=0)
    group_of = {c.id: g for g, grp in enumerate(sampler.groups) for c in grp}
    counts = collections.Counter(group_of[sampler.sample().id] for _ in range(20000))
    share = [counts[g] / 20000 for g in range(len(sampler.groups))]
    assert max(share) - min(share) < 0.03
    uniform = RouteSampler(cands, [flops[c.id] for c in cands], "uniform", bins=5, seed=0)
    ucounts = collections.Counter(group_of[uniform.sample().id] for _ in range(20000))
    sizes = [len(g) / len(cands) for g in sampler.groups]
    assert all(abs(ucounts[g] / 20000 - sizes[g]) < 0.03 for g in range(len(sizes)))
    fl = [flops[c.id] for c in cands]

    def sequence(seed):
        sampler = RouteSampler(cands, fl, "flops", 5, seed)
        return [sampler.sample().id for _ in range(50)]

    assert sequence(0) == sequence(0) != sequence(1)


def test_anchor_share_gives_the_anchors_their_share_and_the_stitches_the_rest():
    space = load_space("fmnist_vit_2way")
    flops = {c.id: c.flops for c in Profiler(space).profile()}
    cands = list(space.candidates)
    fl = [flops[c.id] for c in cands]
    plain = RouteSampler(cands, fl, "flops", bins=10, seed=0)
    assert plain.probabilities()[0] < 0.01  # the tiny anchor shares its FLOPs bin with stitches
    shared = RouteSampler(cands, fl, "flops", bins=10, seed=0, anchor_share=0.3)
    p = shared.probabilities()
    assert sum(p.values()) == pytest.approx(1.0)
    assert [p[c.id] for c in cands if c.is_anchor] == pytest.approx([0.1] * 3)
    n = 30000
    counts = collections.Counter(shared.sample().id for _ in range(n))
    assert all(abs(counts[c.id] / n - 0.1) < 0.01 for c in cands if c.is_anchor)
    stitches = [c for c in cands if not c.is_anchor]
    group_of = {c.id: g for g, grp in enumerate(shared.groups) for c in grp}
    assert set(group_of) == {c.id for c in stitches}  # the stitches keep the FLOPs-aware draw
    per_group = collections.Counter(group_of[i] for i in counts.elements() if i in group_of)
    share = [per_group[g] / n for g in range(len(shared.groups))]
    assert max(share) - min(share) < 0.02 and sum(share) == pytest.approx(0.7, abs=0.01)
    frozen = RouteSampler(stitches, [flops[c.id] for c in stitches], "flops", seed=0, anchor_share=0.3)
    assert frozen.anchor_share is None  # no anchor to train (frozen anchors): every step a stitch
    with pytest.raises(StitchnasError, match="anchor_share"):
        config_from_space(StitchTrainConfig, space, "stitching", anchor_share=1.5)
    older = {k: v for k, v in asdict(StitchTrainConfig()).items() if k != "anchor_share"}  # before the key
    assert recipe_changes(older, StitchTrainConfig()) == []
    assert recipe_changes(older, StitchTrainConfig(anchor_share=0.3)) == ["anchor_share None -> 0.3"]


def test_torchrun_two_ranks_end_with_identical_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "STITCHNAS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
         str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert r0.keys() == r1.keys() and len(r0) > 0
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    doc = read_checkpoint(tmp_path / "stitched.pt")
    assert all(torch.equal(doc["stitch_layers"][k], r0[k]) for k in r0)
    assert doc["state"]["step"] == 22  # 1437 digits / 2 ranks / batch 32


def test_python_training_reads_the_space_file_and_keeps_existing_weights(tmp_path, monkeypatch):
    """``train_anchors(path)`` and ``train_stitched(path)`` need nothing but the space: its data
    and training sections, its checkpoint paths, results/SPACE/stitched.pt; existing anchor
    weights are refused unless ``force`` or ``only_missing``, as on the command line."""
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path / "results"))
    path = write_space(tmp_path, (
        "name: digits_api\ninput_size: [1, 28, 28]\nanchors:\n"
        f"  - {tiny_anchor('s', 16)[:-1]}, checkpoint: s.pt}}\n"
        f"  - {tiny_anchor('l', 32)[:-1]}, checkpoint: l.pt}}\n"
        "rule: {type: two_way}\ndata: {name: digits}\n"
        "training:\n  anchors: {epochs: 1, batch_size: 32, train_subset: 64, val_subset: 64}\n"
        "  stitching: {epochs: 1, batch_size: 32, train_subset: 64, max_steps: 1}\n"))
    first = train_anchors(path, log=lambda m: None)
    assert [r.name for r in first] == ["s", "l"]
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "s.pt", tmp_path / "l.pt")}
    with pytest.raises(StitchnasError, match=r"already have weights: s .*pass force=True .*only_missing=True"):
        train_anchors(path, log=lambda m: None)
    assert train_anchors(path, only_missing=True, log=lambda m: None) == []
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing replaced
    assert len(train_anchors(path, force=True, log=lambda m: None)) == 2

    res = train_stitched(path, log=lambda m: None)
    assert Path(res.checkpoint) == tmp_path / "results" / "digits_api" / "stitched.pt"
    assert res.steps == 1 and Path(res.checkpoint).is_file()

    # resuming with another recipe would mix two: refused, nothing written; more epochs extend it
    stamp = Path(res.checkpoint).stat().st_mtime_ns
    with pytest.raises(StitchnasError, match=r"trained with other settings \(lr 0.001 -> 0.01\).*--no-resume"):
        train_stitched(path, cfg=StitchTrainConfig(epochs=1, batch_size=32, train_subset=64, max_steps=1, lr=0.01),
                       log=lambda m: None)
    assert Path(res.checkpoint).stat().st_mtime_ns == stamp
    more = train_stitched(path, cfg=StitchTrainConfig(epochs=2, batch_size=32, train_subset=64, max_steps=2),
                          log=lambda m: None)
    assert more.epochs_done == 2 and more.steps == 2



def test_stitching_layers_that_get_few_steps_are_a_warning(trained_space, tmp_path, capsys):
    """Each step trains one sampled route's layers: with a digits-sized data set and one epoch of
    large batches some layers expect fewer than ten updates, and `train` says so in one line (what
    to change); a recipe with enough steps trains silently."""
    from stitchnas.measure._sampling import MIN_STEPS_PER_LAYER, few_steps_warning

    space, _ = trained_space
    flops = {c.id: c.flops for c in Profiler(space).profile()}
    sampler = RouteSampler(list(space.candidates), [flops[c.id] for c in space.candidates], "uniform")
    p = sampler.probabilities()
    assert sum(p.values()) == pytest.approx(1.0)
    share = {}
    for c in space.candidates:
        for key in c.layer_keys:
            share[key] = share.get(key, 0.0) + p[c.id]
    least = min(share.values())
    just_enough = int(MIN_STEPS_PER_LAYER / least) + 1
    assert few_steps_warning(sampler, just_enough) is None
    line = few_steps_warning(sampler, just_enough - 2)
    assert line.startswith("stitching layers: ") and f"of {len(share)} can expect fewer than 10" in line
    assert "--epochs" in line and "\n" not in line

    common = (space.path, "--data", "digits", "--no-resume", "--epochs", "1")
    code, _, err = run_cli(capsys, "train", *common, "--batch-size", "256", "--out", tmp_path / "few.pt")
    assert code == 0, err
    warned = [ln for ln in err.splitlines() if ln.startswith("stitchnas: warning: stitching layers")]
    assert len(warned) == 1 and "fewer than 10 training steps each" in warned[0]
    code, _, err = run_cli(capsys, "train", *common, "--batch-size", "4", "--train-subset", "1000",
                           "--out", tmp_path / "many.pt")
    assert code == 0 and "warning" not in err, err


def test_the_demo_quick_recipe_trains_every_stitching_layer_enough():
    """The figure docs/training.md quotes: the demo run's recipe (2 epochs of 30,000 images in
    batches of 128, FLOPs-aware sampling) gives its least-used stitching layer about 19 steps."""
    from stitchnas.measure._sampling import few_steps_warning

    space = load_space("fmnist_vit_2way")
    flops = {c.id: c.flops for c in Profiler(space).profile()}
    sampler = RouteSampler(list(space.candidates), [flops[c.id] for c in space.candidates], "flops")
    steps = 2 * (30000 // 128)
    assert few_steps_warning(sampler, steps) is None
    p = sampler.probabilities()
    use = collections.Counter()
    for c in space.candidates:
        for key in c.layer_keys:
            use[key] += p[c.id] * steps
    assert round(min(use.values())) == 19
