"""Anchors grown by depth: a deeper anchor starts as the trained anchor before it.

``training.anchors.grow: true`` trains the first anchor from scratch and starts every later one
from the one before it: its blocks spread over the deeper model in order, the blocks between
them start as identities (their attention and MLP output projections zero), stem, norm and head
copied. Training so starts from the smaller anchor's very function, and the grown anchor keeps
features that line up with it block for block: stitches between such anchors lose far less
than between anchors trained apart (docs/run.md, docs/training.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import StitchnasError

if TYPE_CHECKING:
    from ..space import SearchSpace

__all__ = ["check_growable", "grow_by_depth", "grown_anchor"]

_ZEROED = ("attn.proj", "mlp.fc2")  # each residual branch's last layer: zero makes the block an identity


def _linear(block: nn.Module, path: str) -> nn.Linear | None:
    try:
        layer = block.get_submodule(path)
    except AttributeError:
        return None
    return layer if isinstance(layer, nn.Linear) else None


def _blocks(model: nn.Module, name: str) -> nn.Module:
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, (nn.Sequential, nn.ModuleList)) or not len(blocks) or not all(
            _linear(b, p) is not None for b in blocks for p in _ZEROED):
        raise StitchnasError(
            f"training.anchors.grow: anchor {name!r} is not a ViT-style model (a `blocks` list whose "
            "blocks end their attention and MLP in linear attn.proj and mlp.fc2); grow only ViT-style "
            "anchors, or drop grow to train each anchor from scratch")
    return blocks


def _placement(d: int, D: int) -> list[int]:
    """Where block k of a d-block anchor goes in a D-block one."""
    return [k * D // d for k in range(d)]


def _placed(small: nn.Module, deep: nn.Module, small_name: str, deep_name: str) -> dict[str, str]:
    """``small``'s state-dict keys -> where they go in ``deep`` (block k of d to block
    ``k * D // d`` of D), checked: both ViT-style, ``deep`` as deep or deeper, equal shapes."""
    d, D = len(_blocks(small, small_name)), len(_blocks(deep, deep_name))
    if D < d:
        raise StitchnasError(
            f"training.anchors.grow: anchor {deep_name!r} has {D} blocks, fewer than the {d} of "
            f"{small_name!r} before it; list the anchors shallow to deep, or drop grow")
    dst = deep.state_dict()
    where = _placement(d, D)
    placed = {}
    for key, value in small.state_dict().items():
        to = key
        if key.startswith("blocks."):
            _, k, rest = key.split(".", 2)
            to = f"blocks.{where[int(k)]}.{rest}"
        if to not in dst or dst[to].shape != value.shape:
            shape = "missing" if to not in dst else f"shaped {list(dst[to].shape)}"
            raise StitchnasError(
                f"training.anchors.grow: anchor {deep_name!r} cannot start from {small_name!r}: its "
                f"{to} is {shape} where {small_name!r} has {list(value.shape)}; grow needs anchors of "
                "one width and kind that differ only in depth, or drop grow")
        placed[key] = to
    kept = {f"blocks.{i}." for i in where}
    left = [key for key in dst if key not in placed.values()
            and (not key.startswith("blocks.") or any(key.startswith(b) for b in kept))]
    if left:  # would keep its random start: the grown model would not compute the smaller one's function
        raise StitchnasError(
            f"training.anchors.grow: anchor {deep_name!r} cannot start from {small_name!r}: it has "
            f"{left[0]}, which {small_name!r} lacks; grow needs anchors of one width and kind that "
            "differ only in depth, or drop grow")
    return placed


def grow_by_depth(small: nn.Module, deep: nn.Module, small_name: str = "small",
                  deep_name: str = "deep") -> nn.Module:
    """Load ``small``'s weights into ``deep`` (in place; returned): block k of d goes to block
    ``k * D // d`` of D, every other block of ``deep`` becomes an identity, everything outside
    the blocks is copied. Both must be ViT-style and equally wide, ``deep`` at least as deep."""
    placed = _placed(small, deep, small_name, deep_name)
    src = small.state_dict()
    new = {to: src[key] for key, to in placed.items()}
    blocks = deep.blocks
    kept = set(_placement(len(small.blocks), len(blocks)))
    for i, block in enumerate(blocks):
        if i not in kept:
            for path in _ZEROED:
                layer = _linear(block, path)
                new[f"blocks.{i}.{path}.weight"] = torch.zeros_like(layer.weight)
                if layer.bias is not None:
                    new[f"blocks.{i}.{path}.bias"] = torch.zeros_like(layer.bias)
    deep.load_state_dict({**deep.state_dict(), **new})
    return deep


def check_growable(space: SearchSpace) -> None:
    """One line before any training when some anchor cannot start from the one before it
    (the models built on the meta device: shapes only, no memory, no weights)."""
    specs = space.anchors
    models = space.create_models(weights=False, device="meta")
    for i in range(1, len(specs)):
        _placed(models[i - 1], models[i], specs[i - 1].name, specs[i].name)


def grown_anchor(model: nn.Module, space: SearchSpace, a: int) -> nn.Module:
    """``model`` (anchor ``a`` of ``space``, freshly built) started from anchor ``a - 1``'s
    trained checkpoint, grown by depth."""
    from ..anchors import create_anchor_model

    prev, spec = space.anchors[a - 1], space.anchors[a]
    small = create_anchor_model(prev, space=space.given_as)
    return grow_by_depth(small, model, prev.name, spec.name)
