"""Stitched networks: one switchable network over a whole space, and standalone route modules.

:class:`StitchedNetwork` holds the anchors and every stitching layer of a space, runs the
candidate chosen with :meth:`StitchedNetwork.reset_stitch_id` (SN-Net's switch), and cuts out a
:class:`RouteModule` for any one candidate, sharing weights with it.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..anchors import AnchorAdapter, adapter_for
from ..errors import StitchnasError
from ..space import Candidate, Route, SearchSpace
from ._stitching import StitchingLayer, flatten_positions, least_squares_fit

__all__ = ["StitchedNetwork", "RouteModule", "layer_module_name"]


def layer_module_name(key: str) -> str:
    """A ModuleDict-safe name for a stitching-layer key."""
    return key.replace(".", "_")


class RouteModule(nn.Module):
    """One route as a plain module: stem, segments of blocks with a stitching layer between
    consecutive segments, head. Holds only the parameters the route uses."""

    def __init__(
        self,
        stem: nn.Module,
        segments: Sequence[Sequence[nn.Module]],
        stitches: Sequence[nn.Module],
        head: nn.Module,
    ) -> None:
        super().__init__()
        if len(stitches) != len(segments) - 1:
            raise ValueError("a route needs one stitching layer between every two segments")
        self.stem = stem
        self.segments = nn.ModuleList(nn.Sequential(*blocks) for blocks in segments)
        self.stitches = nn.ModuleList(stitches)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for i, seg in enumerate(self.segments):
            x = seg(x)
            if i < len(self.stitches):
                x = self.stitches[i](x)
        return self.head(x)


class StitchedNetwork(nn.Module):
    """All anchors of a space plus all its stitching layers; runs one candidate at a time.

    ``models`` are the anchors' timm models (built from the space, with weights, if omitted).
    """

    def __init__(
        self,
        space: SearchSpace,
        models: Sequence[nn.Module] | None = None,
        rank: int | None = None,
    ) -> None:
        super().__init__()
        self.space = space
        models = list(models) if models is not None else space.create_models()
        if len(models) != len(space.anchors):
            raise StitchnasError(
                f"space {space.name!r} has {len(space.anchors)} anchors but {len(models)} models were given"
            )
        self.anchors = nn.ModuleList(models)
        self.adapters: list[AnchorAdapter] = [adapter_for(m) for m in models]
        for spec, ad, depth in zip(space.anchors, self.adapters, space.depths):
            if ad.depth != depth:
                raise StitchnasError(f"anchor {spec.name!r}: model has {ad.depth} blocks, space expects {depth}")
        rank = space.rank if rank is None else rank
        self.stitch_layers = nn.ModuleDict({
            layer_module_name(key): s.build(rank)
            for key, s in space.layer_shapes.items()
        })
        self._by_id = {c.id: c for c in space.candidates}
        self.stitch_id = space.candidates[0].id

    # ---- switching ----------------------------------------------------------------------
    @property
    def candidate(self) -> Candidate:
        return self._by_id[self.stitch_id]

    def reset_stitch_id(self, stitch_id: int) -> None:
        """Make ``forward`` run candidate ``stitch_id`` (SN-Net's switch)."""
        self.space.candidate(stitch_id)
        self.stitch_id = stitch_id

    def _resolve(self, which: int | Route | Candidate | None) -> Candidate:
        if which is None:
            return self.candidate
        if isinstance(which, Candidate):
            return which
        if isinstance(which, int):
            return self.space.candidate(which)
        return self.space.find(which)

    # ---- pieces -------------------------------------------------------------------------
    def stitch_layer(self, key: str) -> StitchingLayer:
        return self.stitch_layers[layer_module_name(key)]

    def route_module(self, which: int | Route | Candidate | None = None) -> RouteModule:
        """A standalone module for one candidate, sharing this network's weights."""
        cand = self._resolve(which)
        route = cand.route
        first, last = self.adapters[route.first_anchor], self.adapters[route.last_anchor]
        segments = [self.adapters[s.anchor].block_modules[s.start:s.end] for s in route]
        stitches = [self.stitch_layer(k) for k in cand.layer_keys]
        return RouteModule(first.stem_module, segments, stitches, last.head_module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cand = self.candidate
        route = cand.route
        x = self.adapters[route.first_anchor].stem_module(x)
        for i, seg in enumerate(route):
            blocks = self.adapters[seg.anchor].block_modules
            for b in range(seg.start, seg.end):
                x = blocks[b](x)
            if i < len(cand.layer_keys):
                x = self.stitch_layer(cand.layer_keys[i])(x)
        return self.adapters[route.last_anchor].head_module(x)

    def train(self, mode: bool = True) -> "StitchedNetwork":
        super().train(mode)
        for ad in self.adapters:
            ad.stem_module.train(mode)
            ad.head_module.train(mode)
        return self

    # ---- least-squares initialisation --------------------------------------------------
    @torch.no_grad()
    def boundary_features(self, images: torch.Tensor) -> list[list[torch.Tensor]]:
        """``feats[a][i]``: anchor a's features entering block i (i = depth: output), as rows."""
        feats = []
        for ad in self.adapters:
            layout = ad.layout
            x = ad.stem_module(images)
            rows = [flatten_positions(x, layout)]
            for blk in ad.block_modules:
                x = blk(x)
                rows.append(flatten_positions(x, layout))
            feats.append(rows)
        return feats

    @torch.no_grad()
    def init_least_squares(self, images: torch.Tensor, keys: Sequence[str] | None = None) -> dict[str, float]:
        """Initialise stitching layers by least squares on a calibration batch.

        Returns each layer's relative reconstruction error ||XW + b - Y|| / ||Y|| (mean over
        the junctions it serves): a cheap signal of how well the two anchors line up there.
        """
        was_training = self.training
        self.eval()
        feats = self.boundary_features(images)
        errors = {}
        for key, junctions in self.space.layer_junctions.items():
            if keys is not None and key not in keys:
                continue
            pairs = [(feats[j.src][j.src_end], feats[j.dst][j.dst_start]) for j in junctions]
            w, b = least_squares_fit(pairs)
            layer = self.stitch_layer(key)
            layer.set_weights(w.to(layer.linear.weight), b.to(layer.linear.bias))
            errors[key] = float(sum(reconstruction_error(layer, x, y) for x, y in pairs) / len(pairs))
        self.train(was_training)
        return errors


@torch.no_grad()
def reconstruction_error(layer: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Relative error ||layer(x) - y|| / ||y|| over rows of features."""
    return float(torch.linalg.norm(layer(x) - y) / torch.linalg.norm(y).clamp_min(1e-12))
