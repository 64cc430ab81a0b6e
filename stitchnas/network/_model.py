"""Stitched networks: one switchable network over a whole space, and standalone route modules.

:class:`StitchedNetwork` holds the anchors and every stitching layer of a space, runs the
candidate chosen with :meth:`StitchedNetwork.reset_stitch_id` (SN-Net's switch), and cuts out a
:class:`RouteModule` for any one candidate, sharing weights with it.
"""

from __future__ import annotations

import types
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
    consecutive segments, head. Holds only the parameters the route uses.

    It speaks timm's model interface, so timm's data, training and validation helpers accept
    it: ``pretrained_cfg`` / ``default_cfg`` (the stem anchor's data config at the space's
    input size, the head anchor's classes), ``num_classes``, ``num_features``,
    ``forward_features``, ``forward_head(x, pre_logits=False)``, ``get_classifier()`` and
    ``reset_classifier(num_classes)``.
    """

    def __init__(
        self,
        stem: nn.Module,
        segments: Sequence[Sequence[nn.Module]],
        stitches: Sequence[nn.Module],
        head: nn.Module,
        pretrained_cfg: dict | None = None,
        head_model: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if len(stitches) != len(segments) - 1:
            raise ValueError("a route needs one stitching layer between every two segments")
        self.stem = stem
        self.segments = nn.ModuleList(nn.Sequential(*blocks) for blocks in segments)
        self.stitches = nn.ModuleList(stitches)
        self.head = head
        self.pretrained_cfg = dict(pretrained_cfg or {})
        # the head anchor's timm class: its get_classifier/reset_classifier run on our head
        self._head_class = type(head_model) if head_model is not None else None
        self.num_classes = int(getattr(head_model, "num_classes", self.pretrained_cfg.get("num_classes", 0)))
        self.num_features = int(getattr(head_model, "num_features", 0))
        self.head_hidden_size = int(getattr(head_model, "head_hidden_size", self.num_features))

    @property
    def default_cfg(self) -> dict:
        """timm's older name for :attr:`pretrained_cfg`."""
        return self.pretrained_cfg

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Image -> features leaving the last block (before the head's norm and pooling)."""
        x = self.stem(x)
        for i, seg in enumerate(self.segments):
            x = seg(x)
            if i < len(self.stitches):
                x = self.stitches[i](x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Features -> logits; ``pre_logits=True``: the pooled features the classifier takes."""
        if not pre_logits:
            return self.head(x)
        fn = getattr(self.head, "_fn", None)
        if fn is None or not hasattr(self.head, "forward_head"):
            raise StitchnasError(f"the head of this stitch ({type(self.head).__name__}) has no timm "
                                 "forward_head: pre_logits needs a timm anchor's head")
        return fn(_PreLogits(self.head), x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The head anchor's classifier (timm's ``get_classifier`` on this stitch's head)."""
        return self._timm_method("get_classifier")()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier for ``num_classes`` (0: none, features out), as timm's
        ``reset_classifier``; the modules it replaces are copied first, so the anchor the
        stitch was cut from keeps its own classifier."""
        import copy

        self.head = _own_copy(self.head)  # the head piece is shared by every route module
        old = self.get_classifier()
        olds = [m for m in (old if isinstance(old, (tuple, list)) else (old,)) if isinstance(m, nn.Module)]
        for name, child in list(self.head.named_children()):
            if any(m is child or any(m is c for c in child.modules()) for m in olds):
                setattr(self.head, name, copy.deepcopy(child))
        reset = self._timm_method("reset_classifier")
        if global_pool is None:
            reset(num_classes)
        else:
            reset(num_classes, global_pool)
        self.num_classes = int(num_classes)
        self.pretrained_cfg["num_classes"] = int(num_classes)

    def _timm_method(self, name: str):
        method = getattr(self._head_class, name, None)
        if method is None:
            raise StitchnasError(f"this stitch's head is not a timm model's head: no {name}(); build "
                                 "it with StitchedNetwork.route_module or stitchnas.build_model")
        return types.MethodType(method, self.head)


def _own_copy(head: nn.Module) -> nn.Module:
    """A shallow copy of a head piece with its own module table (children still shared), its
    bound timm methods re-bound to the copy."""
    import copy

    new = copy.copy(head)
    for table in ("_modules", "_parameters", "_buffers"):
        object.__setattr__(new, table, dict(getattr(head, table)))
    for key, value in list(vars(new).items()):
        if isinstance(value, types.MethodType) and value.__self__ is head:
            object.__setattr__(new, key, types.MethodType(value.__func__, new))
    return new


class _PreLogits:
    """The head seen through timm's ``forward_head(x, pre_logits=True)``."""

    def __init__(self, head: nn.Module) -> None:
        self._head = head

    def __getattr__(self, name: str):
        return getattr(self._head, name)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self._head.forward_head(x, pre_logits=True)


def route_cfg(space: SearchSpace, stem_model: nn.Module, head_model: nn.Module,
              cand: Candidate | None = None) -> dict:
    """timm's ``pretrained_cfg`` for a stitch: the data config of the stem's anchor (which sees
    the pixels) at the space's input size (a Fashion-MNIST space: that pipeline's statistics),
    and the head anchor's classes and classifier."""
    from ..measure import anchor_data_config

    data = anchor_data_config(stem_model, space.input_size)
    if ((space.extra or {}).get("data") or {}).get("name") == "fashion_mnist":
        # trained on stitchnas's Fashion-MNIST pipeline: its statistics, no crop
        from ..measure import FASHION_MNIST_MEAN, FASHION_MNIST_STD

        channels = int(space.input_size[0])
        data.update(mean=(FASHION_MNIST_MEAN,) * channels, std=(FASHION_MNIST_STD,) * channels,
                    interpolation="bilinear", crop_pct=1.0, crop_mode="center")
    cfg = {"architecture": f"stitchnas_{space.name}" + (f"_id{cand.id}" if cand is not None else ""),
           **data, "num_classes": int(getattr(head_model, "num_classes", 0)),
           "fixed_input_size": True}
    head_cfg = getattr(head_model, "pretrained_cfg", None) or {}
    if head_cfg.get("classifier") is not None:
        cfg["classifier"] = head_cfg["classifier"]
    if cand is not None:
        cfg["stitchnas"] = {"space": space.name, "id": cand.id, "route": str(cand.route)}
    return cfg


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
        space.check_rank(rank)
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

    # ---- timm's model interface, for the current candidate ------------------------------
    @property
    def pretrained_cfg(self) -> dict:
        """timm's data config of the current candidate (see :class:`RouteModule`)."""
        route = self.candidate.route
        return route_cfg(self.space, self.anchors[route.first_anchor], self.anchors[route.last_anchor],
                         self.candidate)

    @property
    def default_cfg(self) -> dict:
        return self.pretrained_cfg

    @property
    def num_classes(self) -> int:
        return int(getattr(self.anchors[self.candidate.route.last_anchor], "num_classes", 0))

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
        stem_model, head_model = first.model, last.model
        return RouteModule(first.stem_module, segments, stitches, last.head_module,
                           route_cfg(self.space, stem_model, head_model, cand), head_model)

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
