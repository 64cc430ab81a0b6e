"""Evaluating many candidates of a stitched network on one dataset, sharing their common prefixes.

Candidates of a space share prefixes: every route starting on anchor 0 runs anchor 0's stem, and
routes that cut later share the blocks before the cut. :func:`evaluate_candidates` puts the chosen
candidates into a prefix tree of pieces (stem, block, stitching layer, head) and, for each batch,
runs every tree node once, depth first, so a shared prefix is computed once per batch instead of
once per candidate. Results equal running each candidate alone (``net.reset_stitch_id(id);
net(x)``), which ``share_prefixes=False`` does.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import StitchnasError
from ..network import StitchedNetwork
from ..progress import show_bars
from ..space import Candidate, SearchSpace
from ._measurements import top1_stderr

__all__ = ["EvalResult", "PartialEvaluation", "EvaluationInterrupted", "evaluate_candidates", "measure",
           "select_ids", "parse_ids", "prefix_tree_size",
           "network_classes", "no_better_than_chance", "chance_warning", "anchors_warning",
           "anchor_order_warning"]


@dataclass(frozen=True)
class EvalResult:
    """One candidate's scores: ``acc1``/``acc5`` in percent (``acc5`` None under 5 classes),
    ``loss`` the mean cross-entropy in nats, over ``n_samples`` images; ``hits``: each image's
    top-1 outcome (True: right) in the loader's order (None for a resumed evaluation), what
    paired standard errors between candidates need. Not compared: the scores are the result."""

    id: int
    acc1: float
    acc5: float | None
    loss: float
    n_samples: int
    hits: tuple[bool, ...] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PartialEvaluation:
    """What an evaluation counted before it stopped: per candidate (in ``ids`` order) the top-1
    hits, top-5 hits and summed cross-entropy over the first ``n_samples`` images the loader
    gave, in its order. Passed back as ``resume=`` with a loader of the images after those."""

    ids: tuple[int, ...]
    sums: tuple[tuple[float, float, float], ...]
    n_samples: int
    num_classes: int | None


class EvaluationInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`evaluate_candidates`; ``partial`` holds every finished batch's counts."""

    def __init__(self, partial: PartialEvaluation):
        super().__init__(f"interrupted after {partial.n_samples} images")
        self.partial = partial


# ---- choosing ids ---------------------------------------------------------------------------
def parse_ids(text: str) -> list[int]:
    """Parse ``"3,7,12"`` or ranges ``"0-4,9"`` into a list of ints."""
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i:
                    raise ValueError
                out.extend(range(lo_i, hi_i + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise StitchnasError(
                f"cannot read ids {text!r}: write comma-separated ids or ranges, e.g. 3,7,10-12"
            ) from None
    return out


def select_ids(space: SearchSpace, ids: Iterable[int] | None = None, sample: int | None = None,
               seed: int = 0, all: bool = False) -> list[int]:  # noqa: A002 - mirrors --all
    """Sorted candidate ids: the given ``ids`` (checked), ``sample`` distinct valid ids drawn with
    ``seed``, or ``all`` of them; exactly one of the three."""
    chosen = sum((ids is not None, sample is not None, bool(all)))
    if chosen != 1:
        raise StitchnasError(
            "choose the candidates one way: ids, a sample size, or all (--ids, --sample or --all)"
        )
    valid = [c.id for c in space.candidates]
    if all:
        return valid
    if ids is not None:
        ids = list(ids)
        if not ids:
            raise StitchnasError("no ids given: pass at least one id, e.g. --ids 0,3")
        for cid in ids:
            space.candidate(cid)  # one-line error for an unknown or invalid id
        return sorted(set(ids))
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 1:
        raise StitchnasError(f"sample size must be a positive integer, got {sample!r}")
    if sample > len(valid):
        raise StitchnasError(
            f"cannot sample {sample} of the {len(valid)} candidates of space {space.name!r}: "
            "use a smaller --sample or --all"
        )
    return sorted(random.Random(seed).sample(valid, sample))


# ---- the prefix tree ------------------------------------------------------------------------
@dataclass(eq=False)
class _Node:
    op: tuple
    children: dict[tuple, "_Node"] = field(default_factory=dict)
    ends: list[int] = field(default_factory=list)  # indices of candidates whose head this is
    batchnorm: list | None = None  # this prefix's own BatchNorm statistics (calibrated runs)


def _ops(cand: Candidate) -> list[tuple]:
    """The pieces a candidate runs, in order."""
    route = cand.route
    ops: list[tuple] = [("stem", route.first_anchor)]
    for i, seg in enumerate(route):
        ops += [("block", seg.anchor, b) for b in range(seg.start, seg.end)]
        if i < len(cand.layer_keys):
            ops.append(("stitch", cand.layer_keys[i]))
    ops.append(("head", route.last_anchor))
    return ops


def _build_tree(cands: Sequence[Candidate]) -> _Node:
    root = _Node(("root",))
    for k, cand in enumerate(cands):
        node = root
        for op in _ops(cand):
            node = node.children.setdefault(op, _Node(op))
        node.ends.append(k)
    return root


def prefix_tree_size(space: SearchSpace, ids: Sequence[int]) -> tuple[int, int]:
    """(pieces run per batch with shared prefixes, pieces run one candidate at a time)."""
    cands = [space.candidate(i) for i in ids]
    naive = sum(len(_ops(c)) for c in cands)

    def count(node: _Node) -> int:
        return sum(1 + count(ch) for ch in node.children.values())

    return count(_build_tree(cands)), naive


def _module(net: StitchedNetwork, op: tuple) -> nn.Module:
    kind = op[0]
    if kind == "stem":
        return net.adapters[op[1]].stem_module
    if kind == "block":
        return net.adapters[op[1]].block_modules[op[2]]
    if kind == "stitch":
        return net.stitch_layer(op[1])
    return net.adapters[op[1]].head_module


# ---- evaluation -----------------------------------------------------------------------------
def evaluate_candidates(net: StitchedNetwork, loader: Iterable, ids: Sequence[int], device: str = "cpu",
                        progress: bool | None = None, share_prefixes: bool = True,
                        resume: PartialEvaluation | None = None,
                        on_checkpoint: Callable[[PartialEvaluation], None] | None = None,
                        checkpoint_every_s: float = 60.0,
                        calibration: Iterable[torch.Tensor] | None = None) -> list[EvalResult]:
    """Top-1/top-5 accuracy and mean cross-entropy of each candidate in ``ids`` on ``loader``.

    ``loader`` yields ``(images, labels)`` batches; ``net`` is moved to ``device`` and run in eval
    mode without gradients. Results come in the order of ``ids`` (duplicates dropped).
    ``progress``: a tqdm bar over batches (None: when stderr is a terminal).

    ``calibration``: image batches (iterable again for each pass, e.g.
    :class:`CalibrationImages`) on which every candidate's BatchNorm statistics are re-estimated
    for its own route before it is scored (:func:`~stitchnas.network.calibrate_batchnorm`); a
    BatchNorm layer's statistics depend only on the route before it, so each shared prefix is
    estimated once. The network's own statistics are left as they were. Ignored without
    BatchNorm layers.

    Every candidate sees every batch, so none is finished before the last one; a long evaluation
    keeps its counts instead: Ctrl-C raises :class:`EvaluationInterrupted` carrying the finished
    batches' :class:`PartialEvaluation` (a batch counts whole or not at all), ``on_checkpoint``
    gets one after a batch every ``checkpoint_every_s`` seconds (to save it), and ``resume=``
    continues one with a ``loader`` of the images it had not seen; the results equal one
    uninterrupted pass.
    """
    from tqdm.auto import tqdm

    ids = list(dict.fromkeys(ids))
    if not ids:
        raise StitchnasError("no candidates to evaluate: pass at least one id")
    cands = [net.space.candidate(i) for i in ids]
    tree = _build_tree(cands)
    modules = {}
    dev = torch.device(device)
    # (top-1 hits, top-5 hits, loss sum) per candidate, and the images they count: one tuple,
    # rebound in one step after each batch, so an interrupt never sees one without the other
    counted = (torch.zeros(len(cands), 3, dtype=torch.float64, device=dev), 0)
    num_classes = None
    if resume is not None:
        if tuple(resume.ids) != tuple(c.id for c in cands) or len(resume.sums) != len(cands):
            raise StitchnasError("the partial evaluation to resume counted other candidates: evaluate "
                                 "the same ids or start afresh")
        counted = (torch.tensor(resume.sums, dtype=torch.float64, device=dev), int(resume.n_samples))
        num_classes = resume.num_classes
    batch_stats = torch.zeros_like(counted[0])
    hits: list[list[torch.Tensor]] | None = [[] for _ in cands] if resume is None else None

    def partial() -> PartialEvaluation:
        sums, n = counted
        return PartialEvaluation(ids=tuple(c.id for c in cands), sums=tuple(map(tuple, sums.cpu().tolist())),
                                 n_samples=n, num_classes=num_classes)
    was_training, was_id = net.training, net.stitch_id
    net.to(dev).eval()
    from ..network import batchnorm_state, has_batchnorm, load_batchnorm_state

    own_stats = calibration is not None and has_batchnorm(net)
    kept_stats = batchnorm_state(net) if own_stats else None
    per_candidate: list = []  # one-at-a-time runs: each candidate's whole-network statistics

    def score(k_list: list[int], logits: torch.Tensor, y: torch.Tensor) -> None:
        logits = logits.float()
        right = logits.argmax(dim=1) == y
        top1 = right.sum()
        if hits is not None:
            right = right.cpu()
            for k in k_list:
                hits[k].append(right)
        top5 = ((logits.topk(5, dim=1).indices == y[:, None]).any(dim=1).sum()
                if logits.shape[1] >= 5 else torch.zeros((), device=dev))
        loss = F.cross_entropy(logits, y, reduction="sum")
        row = torch.stack([top1.double(), top5.double(), loss.double()])
        for k in k_list:
            batch_stats[k] += row

    normed: set[tuple] = set()  # the pieces holding BatchNorm layers

    def piece(op: tuple) -> nn.Module:
        mod = modules.get(op)
        if mod is None:
            mod = modules[op] = _module(net, op)
            if own_stats and has_batchnorm(mod):
                normed.add(op)
        return mod

    def walk(node: _Node, box: list[torch.Tensor], y: torch.Tensor) -> None:
        # ``box`` holds the node's output; it is emptied before the last child's subtree runs,
        # so only outputs that feed pending siblings stay in memory (not the whole path).
        last = len(node.children) - 1
        for i, (op, child) in enumerate(node.children.items()):
            mod = piece(op)
            if child.batchnorm is not None:
                load_batchnorm_state(mod, child.batchnorm)
            child_box = [mod(box[0])]
            if i == last:
                box.clear()
            if child.ends:
                score(child.ends, child_box[0], y)
            walk(child, child_box, y)

    def estimate(node: _Node, box: list[torch.Tensor]) -> None:
        # ``walk``'s order with the BatchNorm layers averaging: each prefix keeps its own statistics
        from ..network import estimating_batchnorm

        last = len(node.children) - 1
        for i, (op, child) in enumerate(node.children.items()):
            mod = piece(op)
            if op in normed:
                if child.batchnorm is not None:
                    load_batchnorm_state(mod, child.batchnorm)
                with estimating_batchnorm(mod, reset=child.batchnorm is None):
                    child_box = [mod(box[0])]
                child.batchnorm = batchnorm_state(mod)
            else:
                child_box = [mod(box[0])]
            if i == last:
                box.clear()
            if child.children:
                estimate(child, child_box)

    def calibrate() -> None:
        from ..network import calibrate_batchnorm

        with torch.no_grad():
            if share_prefixes:
                for images in calibration:
                    estimate(tree, [images.to(dev)])
            else:
                for cand in cands:
                    net.reset_stitch_id(cand.id)
                    calibrate_batchnorm(net, calibration)
                    per_candidate.append(batchnorm_state(net))

    saved = time.monotonic()
    try:
        total = len(loader) if hasattr(loader, "__len__") else None
        if own_stats:
            calibrate()
        bar = tqdm(loader, total=total, desc=f"evaluating {len(cands)} candidates", unit="batch",
                   disable=not show_bars(progress))
        with torch.no_grad():
            for batch in bar:
                x, y = batch[0].to(dev, non_blocking=True), batch[1].to(dev, non_blocking=True).long()
                if y.numel() == 0:
                    continue
                if num_classes is None:
                    num_classes = network_classes(net)
                lo, hi = int(y.min()), int(y.max())
                if lo < 0 or hi >= num_classes:
                    raise StitchnasError(
                        f"labels run {lo}..{hi} but the network has {num_classes} classes: evaluate "
                        "on the dataset the network was trained for"
                    )
                batch_stats.zero_()
                if share_prefixes:
                    walk(tree, [x], y)
                else:
                    for k, cand in enumerate(cands):
                        net.reset_stitch_id(cand.id)
                        if own_stats:
                            load_batchnorm_state(net, per_candidate[k])
                        score([k], net(x), y)
                counted = (counted[0] + batch_stats, counted[1] + int(y.shape[0]))
                if on_checkpoint is not None and time.monotonic() - saved >= checkpoint_every_s:
                    on_checkpoint(partial())
                    saved = time.monotonic()
    except EvaluationInterrupted:
        raise
    except KeyboardInterrupt as err:
        raise EvaluationInterrupted(partial()) from err
    finally:
        if kept_stats is not None:
            load_batchnorm_state(net, kept_stats)
        net.train(was_training)
        net.stitch_id = was_id
    sums, n_samples = counted
    if n_samples == 0:
        raise StitchnasError("the data loader yielded no samples: check the dataset and its subset size")
    s = sums.cpu().tolist()
    has_top5 = num_classes >= 5
    return [
        EvalResult(id=c.id, acc1=100.0 * s[k][0] / n_samples,
                   acc5=100.0 * s[k][1] / n_samples if has_top5 else None,
                   loss=s[k][2] / n_samples, n_samples=n_samples,
                   hits=tuple(torch.cat(hits[k]).tolist()) if hits is not None else None)
        for k, c in enumerate(cands)
    ]


def measure(space: SearchSpace, net: StitchedNetwork, loader: Iterable, ids: Sequence[int], *,
            dataset: str, checkpoint: str, device: str = "cpu", progress: bool | None = None,
            resume: PartialEvaluation | None = None,
            on_checkpoint: Callable[[PartialEvaluation], None] | None = None,
            calibration=None):
    """Evaluate ``ids`` and return measurement rows (with exact flops/params) for a measurements
    file; each carries its checkpoint file's digest (``checkpoint_sha256``) and, unless resumed,
    its per-image top-1 outcomes (``top1_hits``: :func:`top1_outcomes`). ``resume`` and
    ``on_checkpoint``: as :func:`evaluate_candidates`'s. ``calibration``: the
    :class:`CalibrationImages` of per-route BatchNorm statistics; the rows then carry its recipe
    under ``batchnorm`` (a network without BatchNorm layers: nothing)."""
    import math

    from ._calibrate import BATCHNORM_KEY
    from ._measurements import CHECKPOINT_DIGEST, TOP1_HITS, Measurement, checkpoint_digest, encode_outcomes
    from ..costs import Profiler
    from ..network import has_batchnorm

    costs = {c.id: c for c in Profiler(space, progress=False).profile([space.candidate(i) for i in ids])}
    digest = checkpoint_digest(checkpoint)
    extra = ((CHECKPOINT_DIGEST, digest),) if digest else ()
    if calibration is not None and has_batchnorm(net):
        extra += ((BATCHNORM_KEY, calibration.recipe.label()),)
    rows = []
    for r in evaluate_candidates(net, loader, ids, device=device, progress=progress, resume=resume,
                                 on_checkpoint=on_checkpoint, calibration=calibration):
        loss = r.loss if math.isfinite(r.loss) else None
        if loss is None:
            from ..progress import get_logger

            get_logger("evaluate").warning(f"id {r.id}: the loss is not finite; written as null")
        rows.append(Measurement(
            id=r.id, route=costs[r.id].route, acc1=r.acc1, acc5=r.acc5, loss=loss,
            flops=costs[r.id].flops, params=costs[r.id].params, dataset=dataset,
            checkpoint=str(checkpoint), space=space.name, space_hash=space.content_hash,
            extra=extra + (((TOP1_HITS, encode_outcomes(r.hits)),) if r.hits is not None else ()),
        ))
    return rows


def network_classes(net: StitchedNetwork) -> int:
    """How many classes the network's heads predict (the first candidate on one blank image)."""
    param = next(net.parameters())
    x = torch.zeros((1, *net.space.input_size), device=param.device, dtype=param.dtype)
    with torch.no_grad():
        return int(net.route_module(net.space.candidates[0])(x).shape[-1])


# ---- how much a measurement says ------------------------------------------------------------
def no_better_than_chance(acc1: float, classes: int, images: int) -> bool:
    """Whether a top-1 (percent) on ``images`` images is within three standard errors of guessing
    among ``classes`` classes: what untrained weights, or weights made for other data, measure."""
    chance = 100.0 / classes
    return acc1 < chance + 3 * top1_stderr(chance, images)


def chance_warning(space: SearchSpace, rows: Iterable, classes: int, images: int) -> str | None:
    """One line when anchors among ``rows`` (measurements) score no better than guessing
    (:func:`no_better_than_chance`); None when every anchor is clear."""
    chance = 100.0 / classes
    low = [m for m in rows if m.route.num_stitches == 0 and no_better_than_chance(m.acc1, classes, images)]
    if not low:
        return None
    names = ", ".join(f"{_anchor_name(space, m)} ({m.acc1:.2f}%)" for m in low)
    return (f"anchor(s) {names} of {space.given_as} score no better than guessing ({chance:.1f}% top-1 "
            f"for {classes} classes, on {images} images): their weights are untrained or made for "
            "other data, so every stitch measured from them is noise; check each anchor's checkpoint "
            f"and the space's data, or train them (stitchnas train-anchors {space.given_as} --force)")


def anchor_order_warning(space: SearchSpace, rows: Iterable, images: int) -> str | None:
    """One line when a measured anchor scores below a cheaper one (fewer FLOPs) by more than two
    standard errors on ``images`` images: such an anchor is off the front and stitches toward it
    trade accuracy for nothing, which in a family of one design means undertrained anchors or a
    wrong checkpoint; None when costlier anchors score no worse."""
    anchors = sorted((m for m in rows if m.route.num_stitches == 0), key=lambda m: (m.flops, m.id))
    worse = []
    for j, big in enumerate(anchors):
        beaten = [m for m in anchors[:j] if m.flops < big.flops and m.acc1 - big.acc1 > 2 * math.sqrt(
            top1_stderr(m.acc1, images) ** 2 + top1_stderr(big.acc1, images) ** 2)]
        if beaten:
            best = max(beaten, key=lambda m: m.acc1)
            worse.append(f"{_anchor_name(space, big)} ({big.flops / 1e6:.2f} MFLOPs, {big.acc1:.2f}%) below "
                         f"{_anchor_name(space, best)} ({best.flops / 1e6:.2f} MFLOPs, {best.acc1:.2f}%)")
    if not worse:
        return None
    return (f"costlier anchor(s) of {space.given_as} score below cheaper ones, by more than two standard "
            f"errors on {images} images: {'; '.join(worse)}; they cannot be on a front and stitches "
            "toward them trade accuracy for nothing; if the family should be ordered, train its anchors "
            f"longer (training.anchors.epochs, then stitchnas train-anchors {space.given_as} --force) "
            "or check their checkpoints")


def anchors_warning(space: SearchSpace, rows: Iterable, classes: int, images: int) -> str | None:
    """The one warning line measured anchors call for, or None: :func:`chance_warning` first
    (weights no better than guessing make any order meaningless), else
    :func:`anchor_order_warning`. What `evaluate`, `run` and `study` each print."""
    rows = list(rows)
    return chance_warning(space, rows, classes, images) or anchor_order_warning(space, rows, images)


def _anchor_name(space: SearchSpace, m) -> str:
    return space.anchors[m.route.first_anchor].name
