"""timm's DenseNet family as anchors (NCHW between blocks)."""

from __future__ import annotations

from functools import cached_property

from torch import nn

from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter, forward_head

__all__ = ["DenseNetAdapter"]


@register_adapter
class DenseNetAdapter(StagedAdapter):
    """timm DenseNet: a dense block is one block (its layers concatenate, they are not a chain);
    the transition before it is its stage's downsample; the modules of ``features`` before the
    first dense block are the stem, ``norm5`` joins the head."""

    model_class = "timm.models.densenet:DenseNet"

    @cached_property
    def _split(self) -> tuple[list[nn.Module], list[tuple[str, nn.Module]], list[nn.Module]]:
        """``features`` cut into (stem modules, (name, module) of blocks and transitions, the rest)."""
        names = list(self.model.features._modules)
        first = next(i for i, n in enumerate(names) if n.startswith("denseblock"))
        last = max(i for i, n in enumerate(names) if n.startswith("denseblock"))
        mods = list(self.model.features)
        return mods[:first], list(zip(names[first:last + 1], mods[first:last + 1])), mods[last + 1:]

    def stem(self) -> nn.Module:
        return nn.Sequential(*self._split[0])

    def stages(self):
        out, down = [], None
        for name, mod in self._split[1]:
            if name.startswith("transition"):
                down = mod
            else:
                out.append((down, [mod]))
                down = None
        return out

    def head(self) -> nn.Module:
        rest = [n for n in self.model._modules if n != "features"]
        return nn.Sequential(*self._split[2], Borrowed(self.model, rest, forward_head, methods=("forward_head",)))
