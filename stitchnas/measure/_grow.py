"""Anchors grown by depth: a deeper anchor starts as the trained anchor before it.

``training.anchors.grow: true`` trains the first anchor from scratch and starts every later one
from the one before it: in each run of blocks (a ViT's ``blocks``, a ResNet's ``layer1`` ..
``layer4``, a ConvNeXt stage's ``blocks``) its blocks spread over the deeper model's in order, the
blocks between them start as identities (each residual branch's last layer zero: a ViT's
``attn.proj`` and ``mlp.fc2``, a ResNet block's last BatchNorm, a ConvNeXt block's ``mlp.fc2``),
everything else copied. Training so starts from the smaller anchor's very function (checked on a
batch when growing), and the grown anchor keeps features that line up with it block for block:
stitches between such anchors lose far less than between anchors trained apart (docs/run.md,
docs/training.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import StitchnasError

if TYPE_CHECKING:
    from ..space import SearchSpace

__all__ = ["check_growable", "check_same_function", "grow_by_depth", "grown_anchor"]

#: Per kind of model: the last layers of each block's residual branches (paths in the block: the
#: first alternative whose first path the block has) and their types; zeroed, all of them make the
#: block an identity.
_LAST_LAYERS = {
    "ViT": ((("attn.proj", "mlp.fc2"),), (nn.Linear,)),
    "ResNet": ((("bn3",), ("bn2",)), (nn.BatchNorm2d,)),   # a Bottleneck, else a BasicBlock
    "ConvNeXt": ((("mlp.fc2",),), (nn.Linear, nn.Conv2d)),
}
_GROWABLE = ("ViT-style models (a `blocks` list whose blocks end their attention and MLP in linear "
             "attn.proj and mlp.fc2), ResNets (layer1..layer4 of Basic or Bottleneck blocks) and "
             "ConvNeXts (stages of blocks)")


def _runs(model: nn.Module) -> tuple[str, list[tuple[str, nn.Module]]] | None:
    """``(kind, [(prefix, run of blocks), ...])`` for a model grow knows, else None."""
    blocks = getattr(model, "blocks", None)
    if isinstance(blocks, (nn.Sequential, nn.ModuleList)) and len(blocks):
        return "ViT", [("blocks", blocks)]
    if all(isinstance(getattr(model, f"layer{i}", None), nn.Sequential) for i in range(1, 5)):
        return "ResNet", [(f"layer{i}", getattr(model, f"layer{i}")) for i in range(1, 5)]
    stages = getattr(model, "stages", None)
    if isinstance(stages, nn.Sequential) and len(stages) and all(
            isinstance(getattr(s, "blocks", None), nn.Sequential) for s in stages):
        return "ConvNeXt", [(f"stages.{i}.blocks", s.blocks) for i, s in enumerate(stages)]
    return None


def _last_layers(block: nn.Module, kind: str) -> dict[str, nn.Module] | None:
    """``{path: layer}`` of the layers of ``block`` that zeroed make it an identity, or None where
    it lacks one."""
    alternatives, types = _LAST_LAYERS[kind]
    paths = next((p for p in alternatives if _sub(block, p[0]) is not None), alternatives[0])
    out = {path: _sub(block, path) for path in paths}
    return out if all(isinstance(layer, types) for layer in out.values()) else None


def _sub(block: nn.Module, path: str) -> nn.Module | None:
    """The submodule of ``block`` at ``path``, or None where it has none."""
    try:
        return block.get_submodule(path)
    except AttributeError:
        return None


def _blocks(model: nn.Module, name: str) -> tuple[str, list[tuple[str, list[dict[str, nn.Module]]]]]:
    """``(kind, [(prefix, [each block's last layers, ...]), ...])``: ``model``'s runs of blocks, or
    one line naming what grow knows."""
    found = _runs(model)
    lasts = [] if found is None else [(prefix, [_last_layers(b, found[0]) for b in run])
                                      for prefix, run in found[1]]
    if found is None or any(last is None for _, run in lasts for last in run):
        raise StitchnasError(
            f"training.anchors.grow: anchor {name!r} is not a model grow knows; grow only {_GROWABLE}, "
            "or drop grow to train each anchor from scratch")
    return found[0], lasts


def _placement(d: int, D: int) -> list[int]:
    """Where block k of a d-block run goes in a D-block one."""
    return [k * D // d for k in range(d)]


def _placed(small: nn.Module, deep: nn.Module, small_name: str, deep_name: str
            ) -> tuple[dict[str, str], dict[str, list[int]], list[tuple[str, list[dict[str, nn.Module]]]]]:
    """``small``'s state-dict keys -> where they go in ``deep`` (in each run of blocks, block k of
    d to block ``k * D // d`` of D), per run of ``deep`` the blocks that receive one, and ``deep``'s
    runs with each block's last layers (:func:`_blocks`); checked:
    one kind, ``deep`` as deep or deeper in every run, equal shapes, nothing of ``deep`` left at
    its random start but the identity blocks."""
    (kind, runs), (deep_kind, deep_runs) = _blocks(small, small_name), _blocks(deep, deep_name)
    if kind != deep_kind or len(runs) != len(deep_runs):
        raise StitchnasError(
            f"training.anchors.grow: anchor {deep_name!r} cannot start from {small_name!r}: one is a "
            f"{deep_kind} with {len(deep_runs)} runs of blocks, the other a {kind} with {len(runs)}; "
            "grow needs anchors of one width and kind that differ only in depth, or drop grow")
    where: dict[str, list[int]] = {}
    for (prefix, run), (_, deep_run) in zip(runs, deep_runs):
        d, D = len(run), len(deep_run)
        if D < d:
            raise StitchnasError(
                f"training.anchors.grow: anchor {deep_name!r} has {D} blocks"
                f"{'' if prefix == 'blocks' else ' in ' + prefix}, fewer than "
                f"the {d} of {small_name!r} before it; list the anchors shallow to deep, or drop grow")
        where[prefix] = _placement(d, D)
    dst = deep.state_dict()
    placed = {}
    for key, value in small.state_dict().items():
        to = key
        for prefix, slots in where.items():
            if key.startswith(prefix + "."):
                k, rest = key[len(prefix) + 1:].split(".", 1)
                to = f"{prefix}.{slots[int(k)]}.{rest}"
                break
        if to not in dst or dst[to].shape != value.shape:
            shape = "missing" if to not in dst else f"shaped {list(dst[to].shape)}"
            raise StitchnasError(
                f"training.anchors.grow: anchor {deep_name!r} cannot start from {small_name!r}: its "
                f"{to} is {shape} where {small_name!r} has {list(value.shape)}; grow needs anchors of "
                "one width and kind that differ only in depth, or drop grow")
        placed[key] = to
    inside = tuple(f"{prefix}." for prefix in where)
    kept = tuple(f"{prefix}.{i}." for prefix, slots in where.items() for i in slots)
    targets = set(placed.values())
    left = [key for key in dst if key not in targets
            and (not key.startswith(inside) or key.startswith(kept))]
    if left:  # would keep its random start: the grown model would not compute the smaller one's function
        raise StitchnasError(
            f"training.anchors.grow: anchor {deep_name!r} cannot start from {small_name!r}: it has "
            f"{left[0]}, which {small_name!r} lacks; grow needs anchors of one width and kind that "
            "differ only in depth, or drop grow")
    return placed, where, deep_runs


def grow_by_depth(small: nn.Module, deep: nn.Module, small_name: str = "small",
                  deep_name: str = "deep") -> nn.Module:
    """Load ``small``'s weights into ``deep`` (in place; returned): in each run of blocks, block k
    of d goes to block ``k * D // d`` of D and every other block of ``deep`` becomes an identity;
    everything outside the blocks is copied. Both of one kind and width (:data:`_GROWABLE`),
    ``deep`` at least as deep in every run."""
    placed, where, runs = _placed(small, deep, small_name, deep_name)
    src = small.state_dict()
    new = {to: src[key] for key, to in placed.items()}
    for prefix, lasts in runs:
        for i, last in enumerate(lasts):
            if i in where[prefix]:
                continue
            for path, layer in last.items():
                for pname, param in layer.named_parameters(recurse=False):
                    new[f"{prefix}.{i}.{path}.{pname}"] = torch.zeros_like(param)
    deep.load_state_dict({**deep.state_dict(), **new})
    return deep


def check_growable(space: SearchSpace) -> None:
    """One line before any training when some anchor cannot start from the one before it
    (the models built on the meta device: shapes only, no memory, no weights)."""
    specs = space.anchors
    started = [s.name for s in specs[1:] if s.init]
    if started:
        raise StitchnasError(f"anchor(s) {started} of {space.given_as} start from their `init:` weights, "
                             "which growing would replace: drop `grow` or those anchors' `init:`")
    models = space.create_models(weights=False, device="meta")
    for i in range(1, len(specs)):
        _placed(models[i - 1], models[i], specs[i - 1].name, specs[i].name)


def grown_anchor(model: nn.Module, space: SearchSpace, a: int) -> nn.Module:
    """``model`` (anchor ``a`` of ``space``, freshly built) started from anchor ``a - 1``'s
    trained checkpoint, grown by depth."""
    from ..anchors import create_anchor_model

    prev, spec = space.anchors[a - 1], space.anchors[a]
    small = create_anchor_model(prev, space=space.given_as)
    grow_by_depth(small, model, prev.name, spec.name)
    check_same_function(small, model, tuple(space.input_size), prev.name, spec.name)
    return model


def check_same_function(small: nn.Module, deep: nn.Module, input_size: tuple[int, ...],
                        small_name: str = "small", deep_name: str = "deep") -> None:
    """One line when ``deep`` does not compute ``small``'s function on a seeded batch (eval mode;
    neither the global random stream nor either model's mode is changed)."""
    x = torch.randn(4, *input_size, generator=torch.Generator().manual_seed(0))
    modes = small.training, deep.training
    small.eval(), deep.eval()
    try:
        with torch.no_grad():
            a, b = small(x), deep(x)
    finally:
        small.train(modes[0]), deep.train(modes[1])
    if not torch.allclose(a, b, rtol=1e-4, atol=1e-4 * float(a.abs().max()) + 1e-6):
        raise StitchnasError(
            f"training.anchors.grow: anchor {deep_name!r} grown from {small_name!r} does not compute "
            f"its function (outputs differ by up to {float((a - b).abs().max()):.3g}): its blocks are "
            "not identities when their last layers are zero; drop grow to train it from scratch")
