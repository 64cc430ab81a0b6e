"""timm's DPN (Dual Path Networks) family as anchors (NCHW between blocks).

timm's DPN keeps a block's residual and dense paths concatenated in one NCHW map (each block
splits it again), so its ``features`` are a plain chain: the first convolution and pooling are
the stem, the dual path blocks group into stages by name (``conv2_*`` .. ``conv5_*``), and the
final norm and activation join the head.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import StitchnasError
from ._base import Borrowed, register_adapter
from ._staged import StagedAdapter

__all__ = ["DpnAdapter"]


def _run(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    for name in self._names:
        x = getattr(self, name)(x)
    return x


def _head(self: Borrowed, x: torch.Tensor) -> torch.Tensor:
    return self.forward_head(_run(self, x))


@register_adapter
class DpnAdapter(StagedAdapter):
    """timm DPN: ``features`` cut into stem (before the first dual path block), stages of dual
    path blocks by their name's ``convN_`` prefix, and the final norm (with the head)."""

    model_class = "timm.models.dpn:DPN"

    def _split(self) -> tuple[list[str], dict[str, list[str]], list[str]]:
        from timm.models.dpn import DualPathBlock

        names = list(self.model.features._modules)
        kinds = [isinstance(self.model.features._modules[n], DualPathBlock) for n in names]
        if True not in kinds:
            raise StitchnasError(f"{type(self.model).__name__} has no dual path blocks to cut")
        first, last = kinds.index(True), len(kinds) - 1 - kinds[::-1].index(True)
        if not all(kinds[first:last + 1]):
            raise StitchnasError("this DPN variant has other modules between its dual path blocks, which "
                                 "DpnAdapter cannot cut; register an AnchorAdapter for it")
        stages: dict[str, list[str]] = {}
        for n in names[first:last + 1]:
            stages.setdefault(n.split("_")[0], []).append(n)
        return names[:first], stages, names[last + 1:]

    def stem(self) -> nn.Module:
        stem, _, _ = self._split()
        piece = Borrowed(self.model.features, stem, _run)
        object.__setattr__(piece, "_names", stem)
        return piece

    def stages(self):
        _, stages, _ = self._split()
        return [(None, [self.model.features._modules[n] for n in blocks]) for blocks in stages.values()]

    def head(self) -> nn.Module:
        _, _, final = self._split()
        piece = Borrowed(self.model, ["global_pool", "classifier", "flatten"], _head, methods=("forward_head",))
        for n in final:
            setattr(piece, n, self.model.features._modules[n])
        object.__setattr__(piece, "_names", final)
        return piece
