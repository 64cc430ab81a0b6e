"""A whole front as one deployable model: the anchors' weights once, every member switchable.

:class:`FrontModel` holds only the pieces the front's members use (each anchor's stem, blocks and
head where some member runs them, and the members' stitching layers), one :class:`RouteModule`
per member sharing them, and the front's table. ``select(max_latency_ms=...)`` picks the most
accurate member within the limits (:meth:`Front.best`'s rule) and ``switch(id)`` makes it the one
``forward`` runs: a pointer change, no weight is copied or loaded. In a family with BatchNorm
layers each member keeps its own statistics (``batchnorm``, re-estimated on its own route as
``evaluate`` measured it); ``switch`` copies them into the shared layers, a few kilobytes.

:func:`export_front` writes it as a plain bundle (``<out>.pt``: tensors and JSON-able metadata,
``torch.load(weights_only=True)``-safe) and as a TorchScript module (``<out>.ts``:
``forward(x, stitch_id)`` and ``select(...) -> id``). :func:`load_front_model` rebuilds the bundle
without the space file or any download: the bundle carries each used anchor's timm model name and
kwargs (timm builds the architecture offline, on the meta device, then the bundle's tensors are
assigned), each stitching layer's shape, each member's route and layer keys, the front, and where
the weights came from.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

import torch
from torch import nn

from ..errors import StitchnasError, nonfinite_tensor
from ..fileio import atomic_write
from ..fronts import Front
from ..objectives import OBJECTIVES
from ..space import Route, SearchSpace, load_space
from ._batchnorm import batchnorm_state, calibrate_batchnorm, load_batchnorm_state
from ._export import export_base, resolve_candidate
from ._model import RouteModule, StitchedNetwork, layer_module_name
from ._stitching import StitchingLayer
from ._weights import check_weights, weights_sources

__all__ = ["FRONT_MODEL_FORMAT", "FrontModel", "export_front", "load_front_model", "front_version",
           "read_front_model"]

FRONT_MODEL_FORMAT = "stitchnas-front-model/1"
_SWITCHABLE_HINT = "re-export it with `stitchnas export SPACE --target TARGET --switchable`"


def front_version(front: Front) -> str:
    """A short hash naming one version of a front: its space, target, objectives, creation time
    and every member's id, route and values (a re-run search is another version)."""
    doc = {"space": front.space, "space_hash": front.space_hash, "target": front.target,
           "objectives": list(front.objectives), "created": front.created,
           "members": [[m.id, str(m.route), m.acc1, m.flops, m.params, m.latency_ms, m.memory_mb]
                       for m in front.members]}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


class FrontModel(nn.Module):
    """The members of a front in one module, switched by id or by budget.

    Registered pieces: ``stems[a]``, ``blocks["a_b"]``, ``heads[a]``, ``stitch_layers[key]``;
    the members' route modules share them (they are not registered again). ``front`` is the
    :class:`~stitchnas.fronts.Front` the members came from, ``info`` the bundle's metadata
    (weights sources, space, versions). ``batchnorm``: each member's own BatchNorm statistics
    (:func:`~stitchnas.network.batchnorm_state` of its route module), registered as buffers
    ``batchnorm[id].mean_k`` / ``var_k`` / ``count_k``; None: the pieces' statistics, shared.
    """

    def __init__(self, front: Front, routes: Mapping[int, tuple[Route, Sequence[str]]],
                 stems: Mapping[int, nn.Module], blocks: Mapping[tuple[int, int], nn.Module],
                 heads: Mapping[int, nn.Module], stitch_layers: Mapping[str, nn.Module],
                 info: Mapping[str, Any] | None = None,
                 batchnorm: Mapping[int, Sequence[tuple[torch.Tensor, ...]]] | None = None) -> None:
        super().__init__()
        if not front.members:
            raise StitchnasError(f"the front of {front.space} for target {front.target!r} has no "
                                 "members to deploy")
        self.stems = nn.ModuleDict({str(a): m for a, m in sorted(stems.items())})
        self.blocks = nn.ModuleDict({f"{a}_{b}": m for (a, b), m in sorted(blocks.items())})
        self.heads = nn.ModuleDict({str(a): m for a, m in sorted(heads.items())})
        self.stitch_layers = nn.ModuleDict({layer_module_name(k): m
                                            for k, m in sorted(stitch_layers.items())})
        self.front = front
        self.info = dict(info or {})
        members = {}
        for point in front.members:
            route, keys = routes[point.id]
            segments = [[self.blocks[f"{s.anchor}_{b}"] for b in range(s.start, s.end)] for s in route]
            members[point.id] = RouteModule(
                self.stems[str(route.first_anchor)], segments,
                [self.stitch_layers[layer_module_name(k)] for k in keys], self.heads[str(route.last_anchor)])
        self.routes = {i: routes[i][0] for i in members}
        self.layer_keys = {i: tuple(routes[i][1]) for i in members}
        object.__setattr__(self, "_members", members)  # not submodules: they share the pieces
        self.batchnorm = (nn.ModuleDict({str(i): _MemberStats(batchnorm[i]) for i in members})
                          if batchnorm is not None else None)
        best = front.best()
        self.switch(best.id)

    # ---- switching ----------------------------------------------------------------------
    @property
    def ids(self) -> list[int]:
        """The members' ids, in the front's order (cheapest first)."""
        return [m.id for m in self.front.members]

    @property
    def current(self):
        """The :class:`~stitchnas.fronts.FrontPoint` that ``forward`` runs."""
        return self.front.member(self.stitch_id)

    def member_module(self, stitch_id: int) -> RouteModule:
        """Member ``stitch_id`` as a standalone module (sharing this model's weights). With
        per-member BatchNorm statistics these are loaded into the shared layers too: run it
        before asking for another member."""
        if stitch_id not in self._members:
            self.front.member(stitch_id)  # raises: not on the front, members listed
        module = self._members[stitch_id]
        if self.batchnorm is not None:
            load_batchnorm_state(module, self.batchnorm[str(stitch_id)].state())
        return module

    def switch(self, stitch_id: int):
        """Make ``forward`` run member ``stitch_id`` (a pointer change, plus its BatchNorm
        statistics when it has its own); returns its FrontPoint."""
        module = self.member_module(stitch_id)
        object.__setattr__(self, "_active", module)
        self.stitch_id = stitch_id
        return self.front.member(stitch_id)

    def select(self, max_latency_ms: float | None = None, max_flops: float | None = None,
               max_params: float | None = None, max_memory_mb: float | None = None,
               min_acc1: float | None = None):
        """Switch to the most accurate member within every given limit (an accuracy floor alone:
        the cheapest member reaching it; :meth:`Front.best`) and return it; raises
        :class:`~stitchnas.fronts.NothingFits` naming the cheapest member."""
        point = self.front.best(max_latency_ms=max_latency_ms, max_flops=max_flops,
                                max_params=max_params, max_memory_mb=max_memory_mb, min_acc1=min_acc1)
        return self.switch(point.id)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._active(x)

    def train(self, mode: bool = True) -> "FrontModel":
        super().train(mode)
        for m in self._members.values():
            m.training = mode
            m.segments.train(mode)
            m.stitches.train(mode)
        return self

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_network(cls, net: StitchedNetwork, front: Front,
                     info: Mapping[str, Any] | None = None, calibration=None) -> "FrontModel":
        """The front's members cut out of a stitched network (sharing its weights);
        ``calibration``: image batches on which each member's BatchNorm statistics are
        re-estimated for its own route (:func:`calibrate_batchnorm`; ignored without BatchNorm)."""
        from ._batchnorm import has_batchnorm

        routes, stems, blocks, heads, layers = {}, {}, {}, {}, {}
        for point in front.members:
            cand = resolve_candidate(net.space, point)
            route = cand.route
            routes[point.id] = (route, cand.layer_keys)
            stems[route.first_anchor] = net.adapters[route.first_anchor].stem_module
            heads[route.last_anchor] = net.adapters[route.last_anchor].head_module
            for s in route:
                for b in range(s.start, s.end):
                    blocks[(s.anchor, b)] = net.adapters[s.anchor].block_modules[b]
            for key in cand.layer_keys:
                layers[key] = net.stitch_layer(key)
        stats = None
        if calibration is not None and has_batchnorm(net):
            stats = {}
            for point in front.members:
                module = net.route_module(resolve_candidate(net.space, point))
                calibrate_batchnorm(module, calibration)
                stats[point.id] = batchnorm_state(module)
        return cls(front, routes, stems, blocks, heads, layers, info, stats)

    def used_anchors(self) -> list[int]:
        return sorted({a for r in self.routes.values() for a in r.anchors})

    # ---- the bundle ---------------------------------------------------------------------
    def bundle(self, space: SearchSpace) -> dict[str, Any]:
        """The plain bundle: tensors plus JSON-able metadata (see the module docstring)."""
        used = self.used_anchors()
        anchors = {str(a): {"name": space.anchors[a].name, "model": space.anchors[a].model,
                            "kwargs": space.anchors[a].to_json()["kwargs"]} for a in used}
        layers = {}
        for key in sorted({k for keys in self.layer_keys.values() for k in keys}):
            layer = self.stitch_layers[layer_module_name(key)]
            layers[key] = {"in_channels": layer.in_channels, "out_channels": layer.out_channels,
                           "rank": layer.rank, "in_layout": layer.in_layout,
                           "out_layout": layer.out_layout,
                           "grid": list(layer.grid) if layer.grid is not None else None}
        return {
            "format": FRONT_MODEL_FORMAT,
            "front": self.front.to_json(),
            "front_version": front_version(self.front),
            "space": {"name": space.name, "content_hash": space.content_hash,
                      "input_size": list(space.input_size), "anchors": anchors},
            "members": [{"id": i, "route": self.routes[i].to_json(), "layer_keys": list(self.layer_keys[i])}
                        for i in self.ids],
            "pieces": {"stems": sorted(int(a) for a in self.stems), "heads": sorted(int(a) for a in self.heads),
                       "blocks": [[int(a), int(b)] for a, b in (k.split("_") for k in self.blocks)]},
            "stitch_layers": layers,
            "weights": self.info.get("weights"),
            "batchnorm": self.info.get("batchnorm"),  # per-member statistics' recipe, or None
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "stitchnas_version": _version(),
            "torch_version": str(torch.__version__),
            "state": {k: v.detach().cpu() for k, v in self.state_dict().items()},
        }


class _MemberStats(nn.Module):
    """One member's BatchNorm statistics as buffers ``mean_k``, ``var_k``, ``count_k``."""

    def __init__(self, state: Sequence[tuple[torch.Tensor, ...]]) -> None:
        super().__init__()
        self.layers = len(state)
        for k, (mean, var, count) in enumerate(state):
            self.register_buffer(f"mean_{k}", mean.detach().clone())
            self.register_buffer(f"var_{k}", var.detach().clone())
            self.register_buffer(f"count_{k}", count.detach().clone())

    def state(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        return [(getattr(self, f"mean_{k}"), getattr(self, f"var_{k}"), getattr(self, f"count_{k}"))
                for k in range(self.layers)]


def _version() -> str:
    from .. import __version__

    return __version__


def _frozen(value: Any) -> Any:
    """JSON lists back to the tuples a space's anchor kwargs hold."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _load_front(front: Front | str | os.PathLike) -> Front:
    if isinstance(front, Front):
        return front
    from ..fronts import load_front

    return load_front(path=front)


def export_front(front: Front | str | os.PathLike, out: str | os.PathLike,
                 space: SearchSpace | str | os.PathLike | None = None,
                 checkpoint: str | os.PathLike | None = None,
                 formats: Sequence[str] = ("bundle", "torchscript"), batch_size: int = 1,
                 allow_random_weights: bool = False, device: str = "cpu",
                 calibration=None) -> list[Path]:
    """Write a front as one switchable model: ``<out>.pt`` (the bundle) and ``<out>.ts``
    (TorchScript); returns the paths written. ``calibration``: the
    :class:`~stitchnas.measure.CalibrationImages` on which each member's BatchNorm statistics
    are re-estimated, as ``evaluate`` measured it (ignored without BatchNorm layers).

    ``space`` defaults to the bundled space of the front's name (its content hash must match
    the front's); ``checkpoint`` is the stitched checkpoint (needed when a member has a stitch).
    Anchors without weights and untrained stitching layers are refused unless
    ``allow_random_weights`` (size and speed checks only). Each file is checked against the
    members' modules before it replaces anything, and written atomically.
    """
    from ._checkpoints import load_network, read_checkpoint

    front = _load_front(front)
    formats = [f.strip().lower() for f in formats if f.strip()]
    bad = [f for f in formats if f not in ("bundle", "torchscript")]
    if bad or not formats:
        raise StitchnasError(f"unknown switchable export format(s) {bad or formats}: use bundle "
                             "and/or torchscript")
    if space is None:
        from ..fronts import space_of_front

        space = space_of_front(front, "export_front(front, out, space='SPACE.yaml')")
    space = load_space(space)
    if space.content_hash != front.space_hash:
        raise StitchnasError(
            f"the front of {front.space} for target {front.target!r} was searched on another version "
            f"of the space (hash {front.space_hash}, not {space.content_hash}): re-run `stitchnas "
            f"search {space.name} --target {front.target}` or pass the space it was searched on")
    doc = read_checkpoint(checkpoint, space) if checkpoint is not None else None
    sources = weights_sources(space, checkpoint, doc)
    from ._export import resolve_candidate

    cands = [resolve_candidate(space, m) for m in front.members]
    check_weights(space, sources, {a for c in cands for a in c.route.anchors},
                  any(c.layer_keys for c in cands), allow_random_weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # untrained stitching layers: refused above unless allowed
        net = load_network(space, checkpoint).to(device).eval()
    info = {"weights": sources}
    recipe = getattr(calibration, "recipe", None)
    if recipe is not None:
        info["batchnorm"] = recipe.label()
    model = FrontModel.from_network(net, front, info, calibration=calibration).eval()
    base = export_base(out)
    written = []
    if "bundle" in formats:
        buf = io.BytesIO()
        torch.save(model.bundle(space), buf)
        loaded = load_front_model(io.BytesIO(buf.getvalue()), device=device)
        _check_members(model, lambda i, x: _run(loaded, i, x), space.input_size, batch_size,
                       device, "the bundle")
        path = base.with_name(base.name + ".pt")
        with atomic_write(path, "wb") as fh:
            fh.write(buf.getvalue())
        written.append(path)
    if "torchscript" in formats:
        written.append(_export_torchscript(model, base.with_name(base.name + ".ts"), space,
                                           batch_size, device))
    return written


def _run(model: FrontModel, stitch_id: int, x: torch.Tensor) -> torch.Tensor:
    model.switch(stitch_id)
    return model(x)


def _check_members(model: FrontModel, run, input_size, batch_size: int, device: str, what: str) -> None:
    """Each member run through ``run(id, x)`` must equal its route module (atol 1e-6)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch_size, *input_size), generator=gen).to(device)
    with torch.no_grad():
        for i in model.ids:
            expected = model.member_module(i)(x)
            got = run(i, x)
            if got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-6, rtol=0):
                diff = (got - expected).abs().max().item() if got.shape == expected.shape else "shape"
                raise StitchnasError(f"{what} differs from member {i} (max abs difference {diff}); "
                                     "nothing written")


# ---- TorchScript ----------------------------------------------------------------------------
class _ScriptedFront(nn.Module):
    """TorchScript form: ``forward(x, stitch_id)`` and ``select(...) -> id`` (-1: nothing fits)."""

    def __init__(self, members: List[nn.Module], ids: List[int], order: List[int],
                 table: Mapping[str, List[float]], cheap: List[int]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.ids: List[int] = ids
        self.order: List[int] = order  # member indices, the most accurate (Front.best's rule) first
        self.cheap: List[int] = cheap  # the cheapest first: an accuracy floor alone asks for it
        self.acc1: List[float] = table["acc1"]
        self.flops: List[float] = table["flops"]
        self.params: List[float] = table["params"]
        self.latency_ms: List[float] = table["latency_ms"]  # nan: not measured (never fits a limit)
        self.memory_mb: List[float] = table["memory_mb"]

    def forward(self, x: torch.Tensor, stitch_id: int) -> torch.Tensor:
        for i, member in enumerate(self.members):
            if self.ids[i] == stitch_id:
                return member(x)
        raise RuntimeError("stitch_id is not a member of this front; see ids")

    @torch.jit.export
    def select(self, max_latency_ms: Optional[float] = None, max_flops: Optional[float] = None,
               max_params: Optional[float] = None, max_memory_mb: Optional[float] = None,
               min_acc1: Optional[float] = None) -> int:
        floor_only = (min_acc1 is not None and max_latency_ms is None and max_flops is None
                      and max_params is None and max_memory_mb is None)
        for i in (self.cheap if floor_only else self.order):
            if max_latency_ms is not None and not self.latency_ms[i] <= max_latency_ms:
                continue
            if max_flops is not None and not self.flops[i] <= max_flops:
                continue
            if max_params is not None and not self.params[i] <= max_params:
                continue
            if max_memory_mb is not None and not self.memory_mb[i] <= max_memory_mb:
                continue
            if min_acc1 is not None and not self.acc1[i] >= min_acc1:
                continue
            return self.ids[i]
        return -1


def _export_torchscript(model: FrontModel, path: Path, space: SearchSpace, batch_size: int,
                        device: str) -> Path:
    members = model.front.members
    ids = [m.id for m in members]
    order, cheap = model.front.preference(), model.front.preference(cheapest=True)  # as best() walks
    nan = float("nan")
    table = {key: [nan if m.value(key) is None else float(m.value(key)) for m in members]
             for key in OBJECTIVES}
    example = torch.randn((batch_size, *space.input_size),
                          generator=torch.Generator().manual_seed(1)).to(device)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter
        traced = [torch.jit.trace(_own_statistics(model, i), (example,), check_trace=False) for i in ids]
        scripted = torch.jit.script(_ScriptedFront(traced, ids, order, table, cheap))
        buf = io.BytesIO()
        torch.jit.save(scripted, buf, _extra_files={"stitchnas_export.json": json.dumps(_meta(model, space))})
        reloaded = torch.jit.load(io.BytesIO(buf.getvalue()), map_location=device)
    _check_members(model, lambda i, x: reloaded(x, i), space.input_size, batch_size, device,
                   "the TorchScript module")
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return path


def _own_statistics(model: FrontModel, stitch_id: int) -> nn.Module:
    """Member ``stitch_id`` for tracing: the module itself, or with per-member BatchNorm
    statistics a copy sharing its parameters and owning its buffers (the statistics)."""
    module = model.member_module(stitch_id)
    if model.batchnorm is None:
        return module
    import copy

    return copy.deepcopy(module, memo={id(p): p for p in module.parameters()})


def _meta(model: FrontModel, space: SearchSpace) -> dict[str, Any]:
    return {"format": FRONT_MODEL_FORMAT, "front": model.front.to_json(),
            "front_version": front_version(model.front), "space": space.name,
            "space_hash": space.content_hash, "weights": model.info.get("weights"),
            "batchnorm": model.info.get("batchnorm"), "stitchnas_version": _version(), "torch_version": str(torch.__version__)}


# ---- loading --------------------------------------------------------------------------------
def _is_torchscript(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip holding ``code/`` and ``constants.pkl``),
    which torch.load would hand to torch.jit.load with a warning."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.endswith("/constants.pkl") for n in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def read_front_model(path: str | os.PathLike | io.BytesIO,
                     front: Front | str | os.PathLike | None = None) -> dict[str, Any]:
    """Read and check a bundle (no model is built); with ``front``, refuse a bundle exported
    from another version of that front."""
    where = "front model" if isinstance(path, io.BytesIO) else f"front model {path}"
    if not isinstance(path, io.BytesIO) and not Path(path).is_file():
        raise StitchnasError(f"{where} does not exist; write one with `stitchnas export SPACE "
                             "--target TARGET --switchable`")
    if not isinstance(path, io.BytesIO) and _is_torchscript(path):
        bundle = Path(path).with_suffix(".pt")
        beside = Path(path).suffix == ".ts" and bundle.is_file()
        raise StitchnasError(
            f"{where} is TorchScript, not a front model bundle: give the bundle `export --switchable` "
            f"writes beside its .ts{f' ({bundle})' if beside else ''}; a TorchScript front answers "
            "its own select(...) after torch.jit.load")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise StitchnasError(f"cannot read {where} ({type(err).__name__}); it is truncated or not a "
                             f"stitchnas front model: {_SWITCHABLE_HINT}") from err
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if fmt != FRONT_MODEL_FORMAT:
        if isinstance(fmt, str) and fmt.startswith("stitchnas-front-model/"):
            raise StitchnasError(f"{where} is in format {fmt!r} but this stitchnas reads "
                                 f"{FRONT_MODEL_FORMAT!r}: {_SWITCHABLE_HINT}")
        raise StitchnasError(f"{where} is not a stitchnas front model ({FRONT_MODEL_FORMAT}); "
                             "a single exported stitch loads with torch.jit.load instead")
    missing = [k for k in ("front", "front_version", "space", "members", "pieces", "stitch_layers",
                           "state") if k not in doc]
    if missing:
        raise StitchnasError(f"{where} is damaged (lacks {missing}): {_SWITCHABLE_HINT}")
    bad = nonfinite_tensor(doc["state"], "state.")
    if bad:
        raise StitchnasError(f"{where} has weights that are not finite ({bad}): every output would "
                             f"be NaN; {_SWITCHABLE_HINT}")
    if front is not None:
        expected = _load_front(front)
        version = front_version(expected)
        if version != doc["front_version"]:
            made = doc["front"].get("created", "?")
            raise StitchnasError(
                f"{where} holds version {doc['front_version']} of the front of {doc['space']['name']} "
                f"for target {doc['front'].get('target')!r} (created {made}), not version {version} "
                f"(created {expected.created}){' at ' + expected.path if expected.path else ''}: "
                f"{_SWITCHABLE_HINT}")
    return doc


def load_front_model(path: str | os.PathLike | io.BytesIO, front: Front | str | os.PathLike | None = None,
                     device: str = "cpu") -> FrontModel:
    """Rebuild a :class:`FrontModel` from a bundle written by :func:`export_front`, without the
    space file or weight downloads (timm builds each anchor's architecture offline); with
    ``front``, refuse a bundle of another version of that front."""
    from ..anchors import AnchorSpec, adapter_for, create_anchor_model

    doc = read_front_model(path, front)
    fr = Front.from_json(doc["front"])
    adapters = {}
    for key, a in doc["space"]["anchors"].items():
        spec = AnchorSpec(name=a["name"], model=a["model"],
                          kwargs=tuple((k, _frozen(v)) for k, v in a["kwargs"].items()))
        model = create_anchor_model(spec, weights=False, device="meta")
        if any(True for _ in model.buffers()):
            model = create_anchor_model(spec, weights=False)  # index tables are built by timm
        adapters[int(key)] = adapter_for(model)
    pieces = doc["pieces"]
    stems = {a: adapters[a].stem_module for a in pieces["stems"]}
    heads = {a: adapters[a].head_module for a in pieces["heads"]}
    blocks = {(a, b): adapters[a].block_modules[b] for a, b in pieces["blocks"]}
    layers = {k: StitchingLayer(**v) for k, v in doc["stitch_layers"].items()}
    routes = {m["id"]: (Route.of(m["route"]), tuple(m["layer_keys"])) for m in doc["members"]}
    info = {k: v for k, v in doc.items() if k != "state"}
    try:
        model = FrontModel(fr, routes, stems, blocks, heads, layers, info, _member_stats(doc["state"]))
        model.load_state_dict(doc["state"], strict=True, assign=True)
    except (RuntimeError, KeyError, ValueError) as err:
        first = (str(err).strip().splitlines() or [""])[0][:300]
        raise StitchnasError(f"front model does not fit the architecture it names ({first}): "
                             f"{_SWITCHABLE_HINT}") from err
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise StitchnasError(f"front model lacks tensors {left[:3]}: {_SWITCHABLE_HINT}")
    model = model.to(device).eval()
    model.switch(model.stitch_id)  # the statistics on the device
    return model


def _member_stats(state: Mapping[str, torch.Tensor]) -> dict[int, list] | None:
    """Each member's BatchNorm statistics in a bundle's state (``batchnorm.ID.mean_K``, ...),
    or None when it holds none."""
    layers: dict[int, int] = {}
    for key in state:
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "batchnorm" and parts[2].startswith("mean_"):
            i, k = int(parts[1]), int(parts[2][5:])
            layers[i] = max(layers.get(i, 0), k + 1)
    if not layers:
        return None
    return {i: [tuple(state[f"batchnorm.{i}.{name}_{k}"] for name in ("mean", "var", "count"))
                for k in range(n)] for i, n in layers.items()}
