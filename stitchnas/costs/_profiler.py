"""Exact FLOPs and parameter counts, by fvcore, composed from traced pieces.

Counts follow fvcore: one multiply-add is one flop, batch 1, the space's input size. timm's
fused ``scaled_dot_product_attention`` is invisible to fvcore by default, so it gets a handle
counting its two matmuls (QK^T and AV) exactly as fvcore counts them in the unfused form; so do
convolutions with string padding (ConvMixer) and recurrent layers (Sequencer2D's LSTMs), which
fvcore would also count as nothing, and einsums, which it counts from a rounded estimate
(``EXTRA_OP_HANDLES``).

A second path, :func:`count_flops_meta` (``Profiler(space, method="meta")``), runs
``torch.utils.flop_counter.FlopCounterMode`` on the meta device (no weights allocated, no
``torch.jit`` tracing) and adds what fvcore counts that it does not (norms, adaptive average
pooling, upsampling) by fvcore's own formulas, so that its ``fvcore_flops`` equal fvcore's
count exactly (tested on every bundled space); docs/latency.md gives the relation.

A whole space is profiled compositionally: each distinct stem, block, head and stitching-layer
shape is traced once, the results are cached on disk (keyed by the space's structure and the
library versions), and a route's cost is the sum of its pieces; this equals a whole-network
trace of the route's standalone module (tested), at a cost that grows with distinct pieces, not
with candidates.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..errors import StitchnasError
from ..paths import cache_dir  # profiles are cached under it (re-exported as costs.cache_dir)
from ..progress import show_bars
from ..space import Candidate, Route, SearchSpace

if TYPE_CHECKING:  # torch is imported where a piece is traced: reading costs needs none of it
    import torch
    from torch import nn

__all__ = ["Cost", "MetaFlops", "StitchCost", "Profiler", "count_flops", "count_flops_meta",
           "count_params", "cache_dir"]

METHODS = ("fvcore", "meta")

#: Every space's composed costs, per FLOPs method, by candidate id (with the candidate they were
#: composed for), shared by the Profilers of one space object: a search composes each candidate's
#: cost for the predictor's records and again for the target's costs.
_COMPOSED: "weakref.WeakKeyDictionary[SearchSpace, dict[str, dict[int, tuple[Candidate, Cost]]]]" = \
    weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Cost:
    """FLOPs (fvcore: one multiply-add = 1) and parameter count of a module or route."""

    flops: int
    params: int

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.flops + other.flops, self.params + other.params)


@dataclass(frozen=True)
class StitchCost:
    """A candidate with its cost."""

    id: int
    route: Route
    flops: int
    params: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "route": self.route.to_json(), "flops": self.flops, "params": self.params}


def _sdpa_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for aten::scaled_dot_product_attention: QK^T plus AV, as matmuls count."""
    q, k, v = (i.type().sizes() for i in inputs[:3])
    batch_heads_queries = prod(q[:-1])
    return batch_heads_queries * k[-2] * q[-1] + batch_heads_queries * k[-2] * v[-1]


def _conv_mode_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for aten::_convolution_mode (a convolution with ``padding="same"`` or
    ``"valid"``, as ConvMixer's): fvcore's count of the same convolution with numeric padding."""
    from fvcore.nn.jit_handles import conv_flop_count

    x, w, out = inputs[0].type().sizes(), inputs[1].type().sizes(), outputs[0].type().sizes()
    return int(conv_flop_count(x, w, out, transposed=False))


def _recurrent_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for aten::lstm, gru, rnn_tanh and rnn_relu (Sequencer2D's BiLSTMs): every
    weight matrix of every layer and direction (input-hidden, hidden-hidden, projection) is one
    matrix-vector product per time step and sequence, as fvcore counts a linear layer."""
    x = inputs[0].type().sizes()
    # (input, hx, params, ...) or, packed, (data, batch_sizes, hx, params, ...); an LSTM's hx is a list
    at = max(i for i in (2, 3) if inputs[i].type().kind() == "ListType")
    steps = x[0] if at == 3 or len(x) == 2 else x[0] * x[1]  # packed rows, one sequence, or T x B
    weights = [v.type().sizes() for v in inputs[at].node().inputs()]
    return steps * sum(prod(s) for s in weights if len(s) == 2)


def _einsum_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for aten::einsum, exact: fvcore's own reads numpy's FLOP estimate as numpy
    prints it, to four significant digits (MViTv2's and SAM's relative-position einsums came out
    a few flops short). A contraction of one or two operands (an index summed) is the product of
    every index's size, as fvcore counts a matmul; anything else is left to fvcore's handle."""
    from fvcore.nn.jit_handles import einsum_flop_jit

    equation = inputs[0].toIValue().replace(" ", "")
    terms, arrow, out = equation.partition("->")
    terms = terms.split(",")
    sizes: dict[str, int] = {}
    for term, value in zip(terms, inputs[1].node().inputs()):
        for index, size in zip(term, value.type().sizes()):
            sizes[index] = max(sizes.get(index, 1), size)
    if not arrow or "." in equation or len(terms) > 2 or not set(sizes) - set(out):
        return einsum_flop_jit(inputs, outputs)
    return prod(sizes.values())


EXTRA_OP_HANDLES = {
    "aten::scaled_dot_product_attention": _sdpa_flop_jit,
    "aten::einsum": _einsum_flop_jit,
    "aten::_convolution_mode": _conv_mode_flop_jit,
    **{f"aten::{op}": _recurrent_flop_jit for op in ("lstm", "gru", "rnn_tanh", "rnn_relu")},
}


def count_flops(module: nn.Module, inputs: torch.Tensor | tuple) -> int:
    """fvcore's total for one forward of ``module`` on ``inputs`` (a tensor, or a tuple of the
    forward's arguments), fused attention included."""
    import torch

    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    if inputs and all(isinstance(v, int) for v in inputs):
        shape = ", ".join(map(str, inputs))
        raise StitchnasError(f"count_flops takes input tensors, not the shape {tuple(inputs)}: pass "
                             f"torch.randn(1, {shape}) (or count the shape with "
                             f"stitchnas.costs.count_flops_meta(module, {tuple(inputs)}))")
    from ..progress import quiet_fvcore

    with torch.no_grad(), warnings.catch_warnings(), quiet_fvcore():  # fvcore's level restored after
        warnings.simplefilter("ignore", FutureWarning)  # fvcore calls the deprecated jit.script
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(module.eval(), inputs)
        analysis.set_op_handle(**EXTRA_OP_HANDLES)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        return int(analysis.total())


@dataclass(frozen=True)
class MetaFlops:
    """One forward counted on the meta device.

    ``torch_flops``: FlopCounterMode's total, two flops per multiply-add of matmuls,
    convolutions and attention (no norms, no elementwise ops); ``fvcore_extra``: what fvcore
    also counts, per op, by fvcore's formulas (LayerNorm/GroupNorm 5 per element with affine,
    4 without; BatchNorm in eval 2 (affine) or 1 per element; adaptive average pooling 1 per
    input element; nearest/bilinear upsampling 1/4 per output element).
    """

    torch_flops: int
    fvcore_extra: dict = field(default_factory=dict, hash=False)

    @property
    def macs(self) -> int:
        """Multiply-adds of matmuls, convolutions and attention: ``torch_flops // 2``."""
        return self.torch_flops // 2

    @property
    def fvcore_flops(self) -> int:
        """fvcore's count (with stitchnas's attention handle): ``macs + sum(fvcore_extra)``."""
        return self.macs + sum(self.fvcore_extra.values())


def _numel(t) -> int:
    return int(prod(t.shape))


def _fvcore_norm(x, weight) -> int:
    return _numel(x) * (5 if weight is not None else 4)


def _arg(args: tuple, kwargs: dict, index: int, name: str, default=None):
    return args[index] if len(args) > index else kwargs.get(name, default)


def _fvcore_extra_flops(name: str, args: tuple, kwargs: dict, out) -> int | None:
    """fvcore's count for an op FlopCounterMode does not count (None: neither counts it)."""
    import torch

    x = args[0] if args else None
    if not isinstance(x, torch.Tensor):
        return None
    if name in ("layer_norm", "group_norm"):
        return _fvcore_norm(x, _arg(args, kwargs, 2, "weight"))
    if name == "instance_norm":
        return _fvcore_norm(x, _arg(args, kwargs, 3, "weight"))
    if name == "batch_norm":
        training = bool(_arg(args, kwargs, 5, "training", False))
        weight = _arg(args, kwargs, 3, "weight")
        return _fvcore_norm(x, 1) if training else _numel(x) * (2 if weight is not None else 1)
    if name == "adaptive_avg_pool2d":
        return _numel(x)
    if name == "interpolate" and isinstance(out, torch.Tensor) and out.dim() == 4:
        mode = _arg(args, kwargs, 3, "mode", "nearest")
        return {"nearest": 1, "bilinear": 4}.get(mode, 0) * _numel(out) or None
    return None


def count_flops_meta(module: nn.Module, input_size: Sequence[int], batch_size: int = 1) -> MetaFlops:
    """FLOPs of one forward of ``module`` on a ``[batch_size, *input_size]`` input, counted by
    ``torch.utils.flop_counter.FlopCounterMode`` on the meta device: no weights are allocated
    (a module with real parameters runs on meta copies of them; it is not changed) and nothing
    is traced by ``torch.jit``. On meta, ``scaled_dot_product_attention`` runs its math form
    (two batched matmuls), which FlopCounterMode counts; on a real CPU it would pick a fused
    kernel FlopCounterMode has no formula for, and miss it."""
    import torch
    from torch.overrides import TorchFunctionMode
    from torch.utils.flop_counter import FlopCounterMode

    extra: dict[str, int] = {}

    class _FvcoreExtras(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)  # nested torch calls are not seen again
            flops = _fvcore_extra_flops(getattr(func, "__name__", ""), args, kwargs, out)
            if flops:
                key = "upsample" if func.__name__ == "interpolate" else func.__name__
                extra[key] = extra.get(key, 0) + int(flops)
            return out

    x = torch.empty((batch_size, *(int(v) for v in input_size)), device="meta")
    tensors = {**dict(module.named_parameters(remove_duplicate=False)),
               **dict(module.named_buffers(remove_duplicate=False))}
    on_meta = all(t.is_meta for t in tensors.values())
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter, _FvcoreExtras():
            if on_meta:
                module(x)
            else:
                from torch.func import functional_call

                metas = {k: torch.empty_like(t, device="meta") for k, t in tensors.items()}
                functional_call(module, metas, (x,), tie_weights=True, strict=False)
    finally:
        module.train(was_training)
    return MetaFlops(int(counter.get_total_flops()), extra)


def count_params(module: nn.Module) -> int:
    """Parameters of a module, each shared tensor once."""
    return sum(p.numel() for p in module.parameters())


def _versions() -> dict[str, str]:
    """The packages a profile depends on, read without importing them (importing timm and
    fvcore only to ask would cost seconds of every command's start-up)."""
    from .._util import package_version

    return {"torch": package_version("torch").split("+")[0], "timm": package_version("timm"),
            "fvcore": package_version("fvcore")}


def _handles_digest() -> str:
    """A digest of the op handles' names and code: profiles cached before a handle was added or
    changed (an op then counted as 0) are traced again. Where the source cannot be read (an
    install without .py files), stitchnas's version stands in for it."""
    import hashlib
    import inspect

    try:
        text = repr(sorted((op, inspect.getsource(fn)) for op, fn in EXTRA_OP_HANDLES.items()))
    except (OSError, TypeError):
        from .. import __version__

        return f"stitchnas-{__version__}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


_PLAIN = (bool, int, float, str, type(None))


def _settings(module: nn.Module) -> list[tuple[str, list[tuple[str, object]]]]:
    """Every submodule's plain attributes (window sizes, flags...), which its repr may not show
    but its cost may follow: HieraDet's windowed and global blocks have the same parameters."""
    out = []
    for name, sub in module.named_modules():
        attrs = [(k, v) for k, v in sorted(vars(sub).items())
                 if not k.startswith("_") and k != "training"
                 and (isinstance(v, _PLAIN) or isinstance(v, (tuple, list)) and all(isinstance(e, _PLAIN) for e in v))]
        out.append((name, attrs))
    return out


def _signature(module: nn.Module, in_shape: Sequence[int]) -> str:
    """Modules with equal signatures have equal costs: same structure, settings, shapes and input."""
    shapes = [tuple(p.shape) for p in module.parameters()]
    return f"{type(module).__name__}|{module!r}|{_settings(module)}|{shapes}|{tuple(in_shape)}"


class Profiler:
    """Costs of every candidate of a space, composed from pieces traced once.

    ``profile()`` returns one :class:`StitchCost` per valid candidate; ``cost(route)`` one
    route's. Pieces are read from the disk cache when present; ``use_cache=False`` re-traces.
    ``method="meta"`` counts pieces with :func:`count_flops_meta` on the meta device (anchors
    built without weights, no ``torch.jit`` trace; ``fvcore_flops``: the same numbers).
    """

    def __init__(self, space: SearchSpace, use_cache: bool = True, progress: bool | None = None,
                 method: str = "fvcore") -> None:
        if method not in METHODS:
            raise StitchnasError(f"unknown FLOPs method {method!r}: use one of {', '.join(METHODS)}")
        self.method = method
        self.space = space
        self.use_cache = use_cache
        self.progress = progress
        self._pieces: dict[str, list[int]] | None = None
        self._segments: dict[tuple[int, int, int], tuple[int, int]] = {}
        self._composed: dict[int, tuple[Candidate, Cost]] = (
            _COMPOSED.setdefault(space, {}).setdefault(method, {}) if use_cache else {})
        self.traced = 0

    @property
    def cache_path(self) -> Path:
        from .._cache import cache_file

        suffix = [] if self.method == "fvcore" else [self.method]
        return cache_file("profiles", self.space.name, self.space.structure_hash, *suffix)

    # ---- pieces -------------------------------------------------------------------------
    def _piece_keys(self) -> list[str]:
        keys = []
        for a, d in enumerate(self.space.depths):
            keys += [f"stem:{a}"] + [f"block:{a}:{i}" for i in range(d)] + [f"head:{a}"]
        keys += [f"stitch:{key}" for key in self.space.layer_shapes]
        return keys

    def pieces(self, models: Sequence[nn.Module] | None = None) -> dict[str, list[int]]:
        """Piece key -> [flops, params]; traced (each distinct piece once) or read from cache."""
        from .._cache import check_cache_writable, load_cached, save_cached

        if self._pieces is not None:
            return self._pieces
        versions = dict(_versions(), handles=_handles_digest())
        if self.use_cache:  # an unusable cache folder is one line before the tracing, not after
            check_cache_writable(self.cache_path, "profile cache")
        doc = load_cached(self.cache_path, versions) if self.use_cache and models is None else None
        if doc is not None and isinstance(doc.get("pieces"), dict) \
                and set(doc["pieces"]) >= set(self._piece_keys()):
            self._pieces = doc["pieces"]
            return self._pieces
        self._pieces = self._trace_pieces(models)
        if self.use_cache:
            save_cached(self.cache_path, {"space": self.space.name, "pieces": self._pieces}, versions,
                        what="profile cache", strict=True)
        return self._pieces

    def _trace_pieces(self, models: Sequence[nn.Module] | None) -> dict[str, list[int]]:
        import torch
        from tqdm.auto import tqdm

        from ..anchors import adapter_for

        space = self.space
        feats = space.feature_specs
        device = "meta" if self.method == "meta" else "uninitialized"
        models = list(models) if models is not None else space.create_models(weights=False, device=device)
        adapters = [adapter_for(m) for m in models]
        work: list[tuple[str, nn.Module, tuple[int, ...]]] = []
        for a, ad in enumerate(adapters):
            work.append((f"stem:{a}", ad.stem_module, tuple(space.input_size)))
            for i, blk in enumerate(ad.block_modules):
                work.append((f"block:{a}:{i}", blk, feats[a][i].shape))
            work.append((f"head:{a}", ad.head_module, feats[a][-1].shape))
        for key, shape in space.layer_shapes.items():
            j = space.layer_junctions[key][0]
            layer = shape.build(space.rank)
            work.append((f"stitch:{key}", layer, feats[j.src][j.src_end].shape))
        by_signature: dict[str, list[int]] = {}
        out: dict[str, list[int]] = {}
        bar = tqdm(work, desc=f"profiling {space.name}", unit="piece", disable=not show_bars(self.progress))
        for key, module, shape in bar:
            sig = _signature(module, shape)
            if sig not in by_signature:
                flops = (count_flops_meta(module, shape).fvcore_flops if self.method == "meta"
                         else count_flops(module, torch.zeros((1, *shape))))
                by_signature[sig] = [flops, count_params(module)]
                self.traced += 1
            out[key] = by_signature[sig]
        return out

    # ---- composition --------------------------------------------------------------------
    def cost(self, which: Candidate | Route) -> Cost:
        cand = which if isinstance(which, Candidate) else self.space.find(which)
        hit = self._composed.get(cand.id)
        if hit is not None and hit[0] is cand:
            return hit[1]
        p = self.pieces()
        route = cand.route
        keys = [f"stem:{route.first_anchor}", f"head:{route.last_anchor}"]
        keys += [f"stitch:{k}" for k in cand.layer_keys]
        segments = [self._segment(p, s.anchor, s.start, s.end) for s in route]
        cost = Cost(sum(p[k][0] for k in keys) + sum(f for f, _ in segments),
                    sum(p[k][1] for k in keys) + sum(n for _, n in segments))
        self._composed[cand.id] = (cand, cost)
        return cost

    def _segment(self, p: dict[str, list[int]], anchor: int, start: int, end: int) -> tuple[int, int]:
        """(flops, params) of blocks ``start .. end-1`` of ``anchor``, summed once per segment: a
        space of 10^5 routes has a few thousand distinct segments."""
        key = (anchor, start, end)
        if key not in self._segments:
            blocks = [p[f"block:{anchor}:{i}"] for i in range(start, end)]
            self._segments[key] = (sum(b[0] for b in blocks), sum(b[1] for b in blocks))
        return self._segments[key]

    def profile(self, candidates: Iterable[Candidate] | None = None) -> list[StitchCost]:
        """Costs of the given candidates (every valid candidate by default)."""
        cands = list(self.space.candidates if candidates is None else candidates)
        self.pieces()
        out = []
        for c in cands:
            cost = self.cost(c)
            out.append(StitchCost(c.id, c.route, cost.flops, cost.params))
        return out
