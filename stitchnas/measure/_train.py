"""Training: anchors from scratch, then SN-Net's joint training of the stitching layers.

``train_anchors`` trains each anchor of a space on a dataset and saves it where the space file points.
``train_stitched`` initialises every stitching layer by least squares on a calibration batch, then
trains them (and the anchors, if asked) jointly, sampling one candidate per step: uniformly (SN-Net)
or FLOPs-aware so each FLOPs interval is visited equally often (SN-Netv2). It checkpoints every epoch
(and inside one on Ctrl-C, SIGTERM and every 10 minutes), resumes where it stopped, bit for bit, and
runs under ``torchrun`` (DDP: gloo on CPU, nccl on GPU): every rank samples the same candidate at each
step from a shared seed.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..costs import Profiler
from ..errors import StitchnasError
from ..fileio import atomic_write
from ..network import (StitchedNetwork, anchors_changed, apply_checkpoint, calibrate_batchnorm, has_batchnorm,
                       read_checkpoint, save_checkpoint)
from ..progress import get_logger, show_bars
from ..space import SearchSpace
from ._calibrate import CalibrationImages, calibration_images
from ._data import DataSpec, calibration_batch, load_datasets, make_loader, space_data
from ._evaluate import no_better_than_chance
from ._grow import check_growable, grown_anchor
from ._resume import (Interrupts, anchor_state_path, batches_after, load_anchor_state,
                      rng_state, save_anchor_state, set_rng_state)
from ._sampling import RouteSampler, few_steps_warning

__all__ = ["AnchorTrainConfig", "StitchTrainConfig", "AnchorResult", "StitchTrainResult", "recipe_changes",
           "train_anchors", "train_stitched", "accuracy"]


@dataclass(frozen=True)
class AnchorTrainConfig:
    """How to train anchors from scratch."""

    epochs: int = 8
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 0.5
    label_smoothing: float = 0.1
    seed: int = 0
    train_subset: int | None = None
    val_subset: int | None = None
    grow: bool = False  # every anchor after the first starts as the one before it, deepened (_grow.py)


@dataclass(frozen=True)
class StitchTrainConfig:
    """How to train stitching layers (SN-Net / SN-Netv2 options)."""

    epochs: int = 2
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_epochs: float = 0.0
    sampling: str = "flops"          # "uniform" (SN-Net) or "flops" (SN-Netv2)
    flops_bins: int = 10
    freeze_anchors: bool = True
    anchor_lr: float = 1e-4          # when anchors are fine-tuned
    anchor_share: float | None = None  # this share of steps trains an anchor (None: as sampled)
    rank: int | None = None          # low-rank stitching layers (None: full)
    distill: bool = False            # distil from the largest anchor
    distill_weight: float = 0.5
    distill_temperature: float = 1.0
    calib_size: int = 256
    seed: int = 0
    train_subset: int | None = None
    max_steps: int | None = None     # stop early (tests, quick modes)

    def __post_init__(self) -> None:
        if self.sampling not in ("uniform", "flops"):
            raise StitchnasError(f"sampling must be 'uniform' or 'flops', got {self.sampling!r}")
        if self.epochs < 0 or self.batch_size < 1 or self.flops_bins < 1:
            raise StitchnasError("epochs must be >= 0, batch_size and flops_bins >= 1")


@dataclass(frozen=True)
class AnchorResult:
    """One trained anchor: ``acc1`` on the validation split with the checkpoint as saved, and
    ``acc1_calibrated`` with its BatchNorm statistics re-estimated as every measurement does
    (None without BatchNorm layers)."""

    name: str
    acc1: float
    train_seconds: float
    checkpoint: str
    acc1_calibrated: float | None = None


@dataclass(frozen=True)
class StitchTrainResult:
    checkpoint: str
    epochs_done: int
    steps: int
    train_seconds: float
    ls_errors: dict[str, float] = field(default_factory=dict)
    network: StitchedNetwork | None = field(default=None, repr=False, compare=False)
    resumed_at: str = ""  # where an interrupted training went on ("in epoch 2 after 147 batches"); "" if new


def config_from_space(cls, space: SearchSpace, section: str, **overrides: Any):
    """A config from the space file's ``training: {section: {...}}``, then CLI overrides."""
    doc = dict((space.extra.get("training") or {}).get(section) or {})
    known = {f for f in cls.__dataclass_fields__}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise StitchnasError(
            f"space {space.name!r}: training.{section} has unknown key(s) {unknown}; known: {sorted(known)}"
        )
    doc.update({k: v for k, v in overrides.items() if v is not None})
    from ..space import check_section  # typed and range-checked, command-line values too

    check_section(f"training.{section}", doc, f"space {space.name!r}")
    try:
        return cls(**doc)
    except TypeError as err:
        raise StitchnasError(f"space {space.name!r}: bad training.{section}: {err}") from err


# ---- distributed helpers ----------------------------------------------------------------------
def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def init_distributed(device: str) -> tuple[int, int]:
    """Join the process group when launched by torchrun; returns (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), dist.get_world_size()


#: settings a stitched training may change when it resumes: more epochs extend it
RESUMABLE = ("epochs", "max_steps")


def recipe_changes(saved: dict[str, Any] | None, cfg: StitchTrainConfig) -> list[str]:
    """How ``cfg`` differs from the config a stitched checkpoint was trained with (its
    ``state["config"]``), as ``"lr 0.001 -> 0.01"``, leaving out :data:`RESUMABLE`; empty when
    resuming would continue the same recipe (or the checkpoint recorded none). A setting the
    checkpoint predates counts as its default, which keeps the behaviour of before it existed."""
    if not saved:
        return []
    now, was = asdict(cfg), asdict(type(cfg)()) | saved
    return [f"{k} {was[k]!r} -> {now[k]!r}" for k in now if k not in RESUMABLE and was[k] != now[k]]


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _lr_lambda(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def fn(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return fn


@torch.no_grad()
def accuracy(model: nn.Module, loader, device: str = "cpu") -> float:
    """Top-1 accuracy in percent."""
    model.eval()
    correct = total = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        correct += int((model(x).argmax(-1) == y).sum())
        total += len(y)
    return 100.0 * correct / max(1, total)


_LOG = get_logger("train")


def _progress(iterable, desc: str, total: int | None = None):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, disable=not show_bars())


class _EpochStats:
    """Running mean loss and top-1 of the training batches of one epoch (for its log line)."""

    def __init__(self) -> None:
        self.loss = 0.0
        self.correct = self.seen = self.batches = 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        self.loss += float(loss.detach())
        self.correct += int((logits.detach().argmax(-1) == y).sum())
        self.seen += len(y)
        self.batches += 1

    def line(self) -> str:
        return (f"train loss {self.loss / max(1, self.batches):.4f}, train top-1 "
                f"{100.0 * self.correct / max(1, self.seen):.2f}%")


# ---- anchors ----------------------------------------------------------------------------------
def _check_batches(steps: int, images: int, batch_size: int, section: str) -> None:
    """Training drops the last incomplete batch, so fewer images than one batch train nothing:
    one line before any work, instead of an epoch of zero steps reported as done."""
    if steps == 0:
        raise StitchnasError(
            f"{images} training images make no full batch of {batch_size}, so training would take no "
            f"step: lower --batch-size (training.{section}.batch_size) or train on more images "
            "(--train-subset)")


def refuse_to_replace_weights(space: SearchSpace, force: str = "force=True",
                              only_missing: str = "only_missing=True") -> None:
    """Anchors' checkpoints are weights someone made (or that ship with stitchnas): training
    from scratch replaces them only when asked (``--force``, ``force=True``), so a user's
    pretrained files are never lost to a try. ``force``/``only_missing``: how the caller spells
    the two ways on (the command line's flags, or the keywords)."""
    from ..paths import pretrained_dir

    existing = [a for a in space.anchors if a.checkpoint and Path(a.checkpoint).is_file()]
    if not existing:
        return
    shipped = pretrained_dir().resolve()
    elsewhere = (" (they ship with stitchnas: train elsewhere with STITCHNAS_PRETRAINED=DIR)"
                 if any(shipped in Path(a.checkpoint).resolve().parents for a in existing) else "")
    names = ", ".join(f"{a.name} ({a.checkpoint})" for a in existing)
    again = "them again" if any(a.init for a in existing) else "from scratch"
    raise StitchnasError(
        f"anchors of {space.given_as} already have weights: {names}{elsewhere}; training {again} "
        f"would replace them: pass {force} to replace them, or {only_missing} to train only anchors "
        "without a checkpoint")


def train_anchors(space: SearchSpace | str | os.PathLike, data: DataSpec | None = None,
                  cfg: AnchorTrainConfig | None = None, device: str = "cpu", only_missing: bool = False,
                  log: Callable[[str], None] = _LOG.info, *, force: bool = False) -> list[AnchorResult]:
    """Train every anchor from scratch (or from its ``init`` weights) and save each to its
    ``checkpoint`` path (atomically).

    ``space``: a space or its name/path; ``data``: the space file's ``data`` when None
    (:func:`space_data`); ``cfg``: its ``training.anchors`` section when None. Anchors whose
    checkpoint exists are an error (someone's weights) unless ``only_missing`` (skip them) or
    ``force`` (replace them)."""
    from ..anchors import create_anchor_model, init_anchor
    from ..space import load_space

    space = load_space(space)
    data = space_data(space) if data is None else data
    cfg = config_from_space(AnchorTrainConfig, space, "anchors") if cfg is None else cfg
    if not (only_missing or force):
        refuse_to_replace_weights(space)
    if cfg.grow:
        check_growable(space)
    missing = [a.name for a in space.anchors if not a.checkpoint]
    if missing:
        raise StitchnasError(
            f"space {space.given_as}: anchors {missing} have no 'checkpoint' path to save to; add "
            f"one per anchor in the space file, e.g. `checkpoint: ${{results}}/anchors/{space.name}/"
            f"{missing[0]}.pt`"
        )
    train_set, val_set, num_classes = load_datasets(replace(
        data, input_size=tuple(space.input_size), train_subset=cfg.train_subset,
        val_subset=cfg.val_subset))
    from ..fileio import check_writable

    for spec in space.anchors:  # an unwritable checkpoint is one line before training, not after
        check_writable(spec.checkpoint, "anchor checkpoint")
    results = []
    calibration = None  # the measurements' BatchNorm calibration images, loaded for the first anchor needing them
    for a, spec in enumerate(space.anchors):
        path = Path(spec.checkpoint)
        if only_missing and path.is_file():
            continue
        _seed_all(cfg.seed + a)
        model = create_anchor_model(spec, weights=False)
        if spec.init:
            log(f"anchor {spec.name}: {init_anchor(model, spec, space.given_as)}")
        model = (grown_anchor(model, space, a) if cfg.grow and a else model).to(device)
        head = getattr(model, "num_classes", num_classes)
        if head != num_classes:
            raise StitchnasError(
                f"anchor {spec.name!r} has {head} classes but {data.name} has {num_classes}; "
                f"set num_classes: {num_classes} in its kwargs"
            )
        loader = make_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed + a, drop_last=True)
        _check_batches(len(loader), len(train_set), cfg.batch_size, "anchors")
        steps = cfg.epochs * len(loader)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, _lr_lambda(steps, int(cfg.warmup_epochs * len(loader))))
        state_path, recipe = anchor_state_path(path), asdict(cfg)
        saved, note = load_anchor_state(state_path, spec, recipe)
        if note:
            _LOG.warning(note)
        start_epoch, skip = 0, 0
        if saved is not None:
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            sched.load_state_dict(saved["scheduler"])
            loader.generator.set_state(saved["generator"])
            set_rng_state(saved["rng"], device)
            start_epoch, skip = saved["epoch"], saved["batch"]
            log(f"anchor {spec.name}: resuming {state_path} in epoch {start_epoch + 1} after {skip} batches")
        t0 = time.perf_counter()
        stop = Interrupts()
        try:
            for epoch in range(start_epoch, cfg.epochs):
                model.train()
                stats = _EpochStats()
                at_start = loader.generator.get_state()
                batches = batches_after(loader, train_set, skip) if skip else loader
                batch = skip
                for x, y in _progress(batches, f"anchor {spec.name} epoch {epoch + 1}/{cfg.epochs}"):
                    x, y = x.to(device), y.to(device)
                    logits = model(x)
                    loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    stats.add(loss, logits, y)
                    batch += 1
                    if stop.due():
                        save_anchor_state(state_path, spec, recipe, model=model.state_dict(), epoch=epoch,
                                          batch=batch, optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                                          generator=at_start, rng=rng_state(device))
                        if stop.requested:
                            log(f"anchor {spec.name}: interrupted in epoch {epoch + 1}/{cfg.epochs} after {batch} "
                                f"of {len(loader)} batches; saved {state_path}: train the anchors without a "
                                "checkpoint again (--only-missing) to resume")
                            raise KeyboardInterrupt
                skip = 0
                log(f"anchor {spec.name}: epoch {epoch + 1}/{cfg.epochs} done, {stats.line()} "
                    f"({time.perf_counter() - t0:.0f} s)")
        finally:
            stop.close()
        seconds = time.perf_counter() - t0
        with atomic_write(path, "wb", what="anchor checkpoint") as fh:  # saved before anything can fail
            torch.save({k: v.cpu() for k, v in model.state_dict().items()}, fh)
        state_path.unlink(missing_ok=True)
        val_loader = make_loader(val_set, 512, shuffle=False)
        acc = accuracy(model, val_loader, device)
        calibrated = None
        if has_batchnorm(model):
            if calibration is None:
                calibration = calibration_images(space, replace(data, input_size=tuple(space.input_size)))
            calibrated = _calibrated_accuracy(model, calibration, val_loader, device)
            shown = (f"top-1 {acc:.2f}% on {data.name} val with the BatchNorm statistics training left, "
                     f"{calibrated:.2f}% with them re-estimated as measurements do")
        else:
            shown = f"top-1 {acc:.2f}% on {data.name} val"
        log(f"anchor {spec.name}: {shown}, trained in {seconds:.0f} s -> {path}")
        _warn_anchor(spec.name, acc, calibrated, num_classes, len(val_set),
                     augmented=data.name == "imagefolder" and data.augment != "none")
        results.append(AnchorResult(spec.name, acc, seconds, str(path), calibrated))
    return results


def _calibrated_accuracy(model: nn.Module, calibration: CalibrationImages, loader, device: str) -> float:
    """Top-1 with the BatchNorm statistics re-estimated on ``calibration`` (the measurements'
    images), on a copy: the checkpoint keeps what training left (a shipped anchor's record reproduces)."""
    import copy

    twin = copy.deepcopy(model)
    calibrate_batchnorm(twin, calibration)
    return accuracy(twin, loader, device)


def _warn_anchor(name: str, acc: float, calibrated: float | None, classes: int, images: int,
                 augmented: bool = False) -> None:
    """A trained anchor no better than guessing as measurements see it (BatchNorm statistics
    re-estimated); or one that is only with the statistics its checkpoint holds: short training
    leaves them unsettled, which stitchnas's own measurements and exports do not use.
    ``augmented``: trained on images under timm's augmentation, which the hint then names."""
    measured = acc if calibrated is None else calibrated
    if no_better_than_chance(measured, classes, images):
        lighter = (", or augment less (`augment: none` in the space file's data section: timm's random "
                   "crops and flips suit long training on large sets)") if augmented else ""
        _LOG.warning(f"anchor {name}: top-1 {measured:.2f}% is no better than guessing ({100 / classes:.1f}% "
                     f"for {classes} classes, on {images} images): train it longer "
                     f"(--epochs) or at another learning rate (--lr), or give it more data{lighter}")
    elif no_better_than_chance(acc, classes, images):
        _LOG.warning(f"anchor {name}: its checkpoint's BatchNorm statistics have not settled (top-1 "
                     f"{acc:.2f}% with them, {measured:.2f}% re-estimated): stitchnas re-estimates them per "
                     "route wherever it measures or exports, but to use the anchor alone re-estimate them "
                     "(stitchnas.network.calibrate_batchnorm) or train it longer (--epochs)")


# ---- stitching layers -------------------------------------------------------------------------
def train_stitched(space: SearchSpace | str | os.PathLike, data: DataSpec | None = None,
                   cfg: StitchTrainConfig | None = None, out: str | os.PathLike | None = None,
                   device: str = "cpu", resume: bool = True,
                   log: Callable[[str], None] = _LOG.info) -> StitchTrainResult:
    """SN-Net training of a space's stitching layers; checkpoint to ``out`` after every epoch.

    ``space``: a space or its name/path; ``data``: the space file's ``data`` when None;
    ``cfg``: its ``training.stitching`` section when None; ``out``: results/SPACE/stitched.pt
    when None (as ``stitchnas train``)."""
    from ..space import load_space

    space = load_space(space)
    data = space_data(space) if data is None else data
    cfg = config_from_space(StitchTrainConfig, space, "stitching") if cfg is None else cfg
    if out is None:
        from ..paths import checkpoint_path

        out = checkpoint_path(space.name)
    space.check_rank(cfg.rank, "--rank")  # before the anchors are built
    rank, world = init_distributed(device)
    if rank != 0:
        log = lambda msg: None  # noqa: E731 - one rank reports
    if device.startswith("cuda") and world > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    out = Path(out)
    if rank == 0:  # an unwritable checkpoint is one line before training, not after an epoch
        from ..fileio import check_writable

        check_writable(out, "checkpoint")
    _seed_all(cfg.seed)
    net = StitchedNetwork(space, space.create_models(weights=True), rank=cfg.rank).to(device)
    train_set, _, _ = load_datasets(replace(data, input_size=tuple(space.input_size),
                                            train_subset=cfg.train_subset))

    state: dict[str, Any] = {}
    ls_errors: dict[str, float] = {}
    resumed_at = ""
    if resume and out.is_file():
        doc = read_checkpoint(out, space)
        changed = anchors_changed(doc, space)
        if changed:
            raise StitchnasError(f"{out} was trained on other weights of anchor(s) {', '.join(changed)} (their "
                                 "checkpoint files changed since): resuming would fit layers to two anchors' "
                                 "features; pass --no-resume to train it again on these")
        state = doc["state"]
        if state.get("config", {}).get("rank") != cfg.rank:
            raise StitchnasError(f"{out} was trained with rank {state.get('config', {}).get('rank')}; "
                                 "use the same --rank to resume, or --no-resume to start over")
        changes = recipe_changes(state.get("config"), cfg)
        if changes:
            raise StitchnasError(
                f"{out} was trained with other settings ({'; '.join(changes)}): resuming would mix two "
                "recipes; give the same settings to resume (only --epochs may grow), or --no-resume to "
                "start over with the new ones")
        apply_checkpoint(net, doc, out)
        resumed_at = (f"in epoch {state['epoch'] + 1} after {state['batch']} batches" if state.get("batch")
                      else f"after epoch {state['epoch']}")
        log(f"resuming {out} {resumed_at}")
    else:
        calib = calibration_batch(train_set, cfg.calib_size, seed=cfg.seed).to(device)
        ls_errors = net.init_least_squares(calib)

    for p in net.anchors.parameters():
        p.requires_grad_(not cfg.freeze_anchors)
    costs = {c.id: c.flops for c in Profiler(space).profile()}
    pool = [c for c in space.candidates if not (cfg.freeze_anchors and c.is_anchor)]
    if cfg.anchor_share is not None and cfg.freeze_anchors and rank == 0:
        _LOG.warning("anchor_share has no effect with frozen anchors (every step trains a stitch): "
                     "train the anchors too (--finetune-anchors, or freeze_anchors: false) or drop it")
    sampler = RouteSampler(pool, [costs[c.id] for c in pool], cfg.sampling, cfg.flops_bins, cfg.seed,
                           cfg.anchor_share)
    teacher_id = max(space.candidates, key=lambda c: (c.is_anchor, costs[c.id])).id

    groups = [{"params": [p for p in net.stitch_layers.parameters() if p.requires_grad], "lr": cfg.lr}]
    if not cfg.freeze_anchors:
        groups.append({"params": list(net.anchors.parameters()), "lr": cfg.anchor_lr})
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)

    sampler_data = None
    if world > 1:
        from torch.utils.data.distributed import DistributedSampler

        sampler_data = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True,
                                          seed=cfg.seed, drop_last=True)

    def epoch_loader(epoch: int):  # each epoch's order and workers' seeds, from the seed and epoch alone
        if sampler_data is not None:
            sampler_data.set_epoch(epoch)
        return make_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed + epoch, drop_last=True,
                           sampler=sampler_data)

    steps_per_epoch = len(epoch_loader(0))
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, _lr_lambda(total, int(cfg.warmup_epochs * steps_per_epoch)))
    start_epoch, step, skip = 0, 0, 0
    if state:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        sampler.set_state(state["sampler"])
        start_epoch, step, skip = state["epoch"], state["step"], state.get("batch", 0)
    if cfg.epochs > start_epoch:  # epochs left to train: each must take a step
        _check_batches(steps_per_epoch, len(train_set) // world, cfg.batch_size, "stitching")
        if rank == 0 and not state:
            few = few_steps_warning(sampler, total if cfg.max_steps is None else min(total, cfg.max_steps))
            if few:
                _LOG.warning(few)

    model: nn.Module = net
    if world > 1:
        model = nn.parallel.DistributedDataParallel(net, find_unused_parameters=True)

    def save(epochs_done: int, batch: int = 0) -> None:
        """Checkpoint after ``epochs_done`` epochs and ``batch`` batches of the next one."""
        if rank == 0:
            save_checkpoint(out, net, anchors_tuned=not cfg.freeze_anchors, state={
                "epoch": epochs_done, "batch": batch, "step": step, "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "sampler": sampler.state(),
                "config": asdict(cfg), "ls_errors": ls_errors or state.get("ls_errors", {}),
                "rng": rng_state(device),
            })

    if state.get("rng") is not None:
        set_rng_state(state["rng"], device)
    t0 = time.perf_counter()
    epochs_done = start_epoch
    stop = Interrupts()
    try:
        for epoch in range(start_epoch, cfg.epochs):
            net.train()
            if cfg.freeze_anchors:
                net.anchors.eval()  # frozen anchors keep eval-mode behaviour (no dropout)
            batches = epoch_loader(epoch)
            if skip:  # resuming inside this epoch: the same batches, from where it stopped
                batches = batches_after(batches, train_set, skip)
            stats = _EpochStats()
            batch = skip
            for x, y in _progress(batches, f"stitching epoch {epoch + 1}/{cfg.epochs}", steps_per_epoch - skip):
                if cfg.max_steps is not None and step >= cfg.max_steps:
                    break
                x, y = x.to(device), y.to(device)
                cand = sampler.sample()
                if cfg.distill:
                    with torch.no_grad():
                        net.reset_stitch_id(teacher_id)
                        teacher = net(x)
                net.reset_stitch_id(cand.id)
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                if cfg.distill:
                    t = cfg.distill_temperature
                    kd = F.kl_div(F.log_softmax(logits / t, -1), F.softmax(teacher / t, -1),
                                  reduction="batchmean") * t * t
                    loss = (1 - cfg.distill_weight) * loss + cfg.distill_weight * kd
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                stats.add(loss, logits, y)
                step, batch = step + 1, batch + 1
                if stop.due():
                    save(epoch, batch)
                    if stop.requested:
                        log(f"stitching layers: interrupted in epoch {epoch + 1}/{cfg.epochs} after {batch} of "
                            f"{steps_per_epoch} batches; saved {out}: run the same command again to resume")
                        raise KeyboardInterrupt
            skip = 0
            epochs_done = epoch + 1
            save(epochs_done)
            stop.saved()
            log(f"stitching layers: epoch {epochs_done}/{cfg.epochs} done, {stats.line()} over the "
                f"sampled stitches ({time.perf_counter() - t0:.0f} s)")
            if (dist := _dist()) is not None:
                dist.barrier()
            if cfg.max_steps is not None and step >= cfg.max_steps:
                break
    finally:
        stop.close()
    if cfg.epochs == 0:
        save(0)  # least-squares initialisation only
    seconds = time.perf_counter() - t0
    log(f"stitching layers: {epochs_done} epoch(s), {step} steps in {seconds:.0f} s -> {out}")
    return StitchTrainResult(str(out), epochs_done, step, seconds, ls_errors, net, resumed_at)
