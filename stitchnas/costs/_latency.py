"""Measured latency and peak memory of every stitch on a hardware target, from a lookup table.

FLOPs do not say how fast a stitch runs on a device, and timing every candidate is slow. A
*latency table* times each distinct piece of a space once on the target (every anchor's stem,
blocks and head, and every stitching-layer shape) and composes any candidate's latency from
its pieces, so the whole space is covered at the cost of a few anchor forwards:

    latency(candidate) = stem + blocks + stitching layers + head
                         + per_network_ms + per_stitch_ms * stitches

**Timing.** Under ``torch.inference_mode``, with the target's threads, dtype, batch size and
input size, each anchor runs whole (stem -> blocks -> head) ``warmup + repeats`` times with a
clock read between pieces (``time.perf_counter``; CUDA events on CUDA), so every piece is timed
on its real input and in the cache state of a real forward. Stitching layers are timed alone on
the front anchor's real features at the cut; identical stitching layers share one timing. Each
piece keeps its 10th percentile, median, 90th percentile and IQR over the repeats.

**Which statistic.** Latency here is the *10th percentile* of the repeats (``STATISTIC``): on a
shared host the machine's speed is bimodal and drifts by tens of percent within a minute, so a
median lands in whichever mode held the majority of one run and sums of medians do not match
medians of sums; the fast mode is what reproduces. Pieces and the validation networks are timed
in the same rounds (round robin) so both see the same drift. The median and p90 stay in the
table for users who want typical or tail latency.

**Overhead.** The sum of parts misses what a whole route adds: module-call overhead, and the
caches a stitched route disturbs by switching anchors. :func:`validate_latency` times K random
candidates end to end as standalone modules (``StitchedNetwork.route_module``) and fits the two
constants above by weighted least squares (relative error, so small and large candidates count
alike). Its reported error is honest: every candidate is predicted by constants fitted on the
others (leave-one-out); the error without the correction is reported too.

**Memory.** Peak memory of a candidate at the target's batch size is its parameters (and
buffers) plus the largest set of activation tensors alive at once, which, because a route runs
its pieces one after another, is the input image plus the largest per-piece peak. Per-piece
peaks are measured by tracking every tensor the dispatcher creates and when it dies (the same
count ``torch.cuda.max_memory_allocated`` makes, without the allocator's rounding, caching and
kernel workspaces); it works on any device, meta included, so flops/params targets get memory
figures without running anything. Validation checks the composed peak against a tracked run of
each validated candidate's whole module.

**Tables travel.** A table is keyed by the space's structure (what decides shapes; weights do
not change latency), the target's settings and the machine's identity (CPU model, GPU name,
torch build, threads), saved under ``results/latency/``. Profile on the device, search anywhere:
``load_latency_table(..., check_machine=False)`` (CLI ``--any-machine``) uses a table measured
elsewhere; with the default check, a table from another machine is an error saying what differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import statistics
import sys
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import StitchnasError
from ..fileio import results_dir, write_json
from ._machine import cpu_name as _cpu_name
from ..space import Candidate, Route
from ..space import SearchSpace, load_space
from ._targets import MB, Target, load_target

__all__ = [
    "FORMAT",
    "LatencyTable",
    "StitchLatency",
    "TargetCost",
    "bench_latency",
    "fit_overhead",
    "get_latency_table",
    "latency_table_path",
    "load_latency_table",
    "machine_identity",
    "profile_latency",
    "target_costs",
    "validate_latency",
]

FORMAT = "stitchnas-latency-table/1"


# ---- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StitchLatency:
    """A candidate's composed latency (ms per forward at the target's batch size) and peak memory
    (MB = 2**20 bytes)."""

    id: int
    route: Route
    latency_ms: float
    memory_mb: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "route": self.route.to_json(), "latency_ms": self.latency_ms,
                "memory_mb": self.memory_mb}


@dataclass(frozen=True)
class TargetCost:
    """A candidate's costs on a target: ``cost`` in the target's cost model (ms, flops or params),
    the figures behind it (``None`` where the target does not provide them) and the budgets it
    breaks (empty: feasible)."""

    id: int
    route: Route
    cost: float
    flops: int
    params: int
    latency_ms: float | None
    memory_mb: float | None
    violations: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "route": self.route.to_json(), "cost": self.cost, "flops": self.flops,
                "params": self.params, "latency_ms": self.latency_ms, "memory_mb": self.memory_mb,
                "violations": list(self.violations)}


# ---- machine and device --------------------------------------------------------------------


def machine_identity(target: Target | str | None = None) -> dict[str, Any]:
    """What makes timings from one machine valid on another: CPU model, architecture, GPU name
    and CUDA version (for CUDA targets), torch build and the threads used."""
    import torch

    target = load_target(target) if target is not None else None
    gpu = cuda = None
    if target is not None and target.device_type == "cuda" and torch.cuda.is_available():
        index = torch.device(target.device).index or 0
        if index < torch.cuda.device_count():
            gpu = torch.cuda.get_device_name(index)
        cuda = torch.version.cuda
    elif target is not None and target.device_type not in (None, "cpu"):
        gpu = target.device_type
    threads = target.threads if target is not None and target.threads else torch.get_num_threads()
    return {"cpu": _cpu_name(), "arch": platform.machine(), "gpu": gpu, "cuda": cuda,
            "torch": torch.__version__, "threads": threads}


def _torch_device(target: Target):
    import torch

    dev = torch.device(target.device)
    fix = ("profile on a machine that has it and copy results/latency/ to where you search, or "
           "pick a target for this machine (stitchnas targets)")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise StitchnasError(f"target {target.name!r} times on {target.device}, but this machine "
                                 f"has no CUDA device; {fix}")
        if (dev.index or 0) >= torch.cuda.device_count():
            raise StitchnasError(f"target {target.name!r} times on {target.device}, but this machine "
                                 f"has {torch.cuda.device_count()} CUDA device(s); {fix}")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise StitchnasError(f"target {target.name!r} times on mps, which this machine lacks; {fix}")
    elif dev.type == "xpu" and not (hasattr(torch, "xpu") and torch.xpu.is_available()):
        raise StitchnasError(f"target {target.name!r} times on {target.device}, which this machine "
                             f"lacks; {fix}")
    return dev


def _torch_dtype(target: Target):
    import torch

    return getattr(torch, target.dtype)


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Clock:
    """Marks between pieces: perf_counter on CPU, CUDA events on CUDA (read after one sync per
    pass), perf_counter with a sync per mark on other accelerators."""

    def __init__(self, device) -> None:
        import torch

        self.torch = torch
        self.device = device
        self.events = device.type == "cuda"

    def sync(self) -> None:
        t = self.torch
        if self.device.type == "cuda":
            t.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            t.mps.synchronize()
        elif self.device.type == "xpu":
            t.xpu.synchronize(self.device)

    def mark(self):
        if self.events:
            event = self.torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        if self.device.type != "cpu":
            self.sync()
        return time.perf_counter()

    def ms(self, a, b) -> float:
        return float(a.elapsed_time(b)) if self.events else (b - a) * 1e3


def _stats(samples: Sequence[float]) -> dict[str, float | int]:
    import numpy as np

    arr = np.asarray(samples, dtype=float)
    p10, p25, p50, p75, p90 = np.percentile(arr, [10, 25, 50, 75, 90])
    return {"median_ms": float(p50), "p10_ms": float(p10), "p90_ms": float(p90),
            "iqr_ms": float(p75 - p25), "repeats": int(arr.size)}


def _show(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


# ---- memory ----------------------------------------------------------------------------------
def _storage_key(t) -> tuple[int, int]:
    s = t.untyped_storage()
    return s._cdata, s.nbytes()


def _live_bytes_mode():
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class LiveBytes(TorchDispatchMode):
        """Peak bytes of activation storages alive at once, seen at every dispatched op."""

        def __init__(self, exclude: set[int]) -> None:
            super().__init__()
            self.exclude = exclude
            self.storages: dict[int, list] = {}
            self.peak = 0

        def track(self, t) -> None:
            key, nbytes = _storage_key(t)
            if key in self.exclude:
                return
            entry = self.storages.get(key)
            if entry is not None:
                entry[1] = [r for r in entry[1] if r() is not None]
            if not entry or not entry[1]:
                entry = self.storages[key] = [nbytes, []]
            entry[1].append(weakref.ref(t))
            self.peak = max(self.peak, self.live())

        def live(self) -> int:
            total = 0
            for key in list(self.storages):
                nbytes, refs = self.storages[key]
                refs[:] = [r for r in refs if r() is not None]
                if refs:
                    total += nbytes
                else:
                    del self.storages[key]
            return total

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            import torch

            out = func(*args, **(kwargs or {}))
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    self.track(t)
            self.peak = max(self.peak, self.live())
            return out

    return LiveBytes


def _module_bytes(module) -> int:
    seen, total = set(), 0
    for t in list(module.parameters()) + list(module.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def _tracked_peak(module, inp, exclude: set[int]):
    """(output, peak live activation bytes while ``module(inp)`` runs, ``inp`` included unless
    excluded)."""
    tracker = _live_bytes_mode()(exclude)
    tracker.track(inp)
    with tracker:
        out = module(inp)
    return out, tracker.peak


def _param_storages(modules) -> set[int]:
    keys = set()
    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            keys.add(_storage_key(t)[0])
    return keys


# ---- pieces ----------------------------------------------------------------------------------
def _anchor_pieces(space: SearchSpace, adapters) -> list[list[tuple[str, Any]]]:
    out = []
    for a, ad in enumerate(adapters):
        mods = [(f"stem:{a}", ad.stem_module)]
        mods += [(f"block:{a}:{i}", blk) for i, blk in enumerate(ad.block_modules)]
        mods.append((f"head:{a}", ad.head_module))
        out.append(mods)
    return out


def _stitch_layers(space: SearchSpace, device, dtype) -> dict[str, Any]:
    import torch

    with torch.device(device):
        return {key: s.build(space.rank).to(dtype=dtype).eval()
                for key, s in space.layer_shapes.items()}


def _image(space: SearchSpace, target: Target, device, dtype, random_values: bool = True):
    import torch

    shape = (target.batch_size, *target.resolved_input_size(space.input_size))
    if device.type == "meta" or not random_values:
        return torch.zeros(shape, device=device, dtype=dtype)
    gen = torch.Generator().manual_seed(0)
    return torch.randn(shape, generator=gen).to(device=device, dtype=dtype)


def _boundary_features(space: SearchSpace, target: Target, adapters, x) -> dict[tuple[int, int], Any]:
    """The front anchor's real features at every cut a stitching layer serves (every anchor
    runs once, which also checks that it takes the target's input)."""
    needed = {(j.src, j.src_end) for js in space.layer_junctions.values() for j in js}
    feats = {}
    for a, ad in enumerate(adapters):
        try:
            h = ad.stem_module(x)
        except Exception as err:
            raise StitchnasError(
                f"anchor {space.anchors[a].name!r} cannot run on target {target.name!r}'s input "
                f"{list(x.shape[1:])}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}; "
                "drop the target's input_size or build the anchors for that size (img_size kwarg)"
            ) from err
        if (a, 0) in needed:
            feats[(a, 0)] = h
        for i, blk in enumerate(ad.block_modules):
            h = blk(h)
            if (a, i + 1) in needed:
                feats[(a, i + 1)] = h
    return feats


def _time_pieces(space: SearchSpace, target: Target, adapters, device, dtype, *, repeats: int,
                 warmup: int, progress: bool | None, e2e: Sequence = (),
                 e2e_times: list | None = None) -> tuple[dict[str, dict], int]:
    """Per-piece timing stats, and how many distinct pieces were timed.

    ``e2e``: whole modules (validation candidates) timed in the same rounds as the pieces, their
    samples appended to ``e2e_times`` (one list per module). Machine speed on shared hosts drifts
    by tens of percent within a minute, so pieces and the networks they are checked against
    must be sampled over the same stretch of time to be comparable.
    """
    import torch
    from tqdm.auto import tqdm

    from ._profiler import _signature

    clock = _Clock(device)
    anchors = _anchor_pieces(space, adapters)
    layers = _stitch_layers(space, device, dtype)
    x = _image(space, target, device, dtype)
    samples: dict[str, list[float]] = {}
    with torch.inference_mode():
        feats = _boundary_features(space, target, adapters, x)
        by_sig: dict[str, str] = {}
        stitch_sigs: dict[str, str] = {}
        stitch_work = []
        for key, layer in layers.items():
            j = space.layer_junctions[key][0]
            sig = stitch_sigs[key] = _signature(layer, tuple(feats[(j.src, j.src_end)].shape))
            if sig in by_sig:
                continue
            by_sig[sig] = key
            stitch_work.append((key, layer, feats[(j.src, j.src_end)]))
        e2e = list(e2e)
        if e2e_times is not None:
            e2e_times[:] = [[] for _ in e2e]
        bar = tqdm(total=(warmup + repeats) * (len(anchors) + len(stitch_work) + len(e2e)),
                   unit="pass", desc=f"timing {space.name} on {target.name}",
                   disable=not _show(progress))
        # Round robin (one pass of every anchor, stitching layer and validation network per
        # repeat) so that drift or a burst of load spreads over all of them alike.
        for r in range(warmup + repeats):
            for mods in anchors:
                marks = [clock.mark()]
                h = x
                for _, mod in mods:
                    h = mod(h)
                    marks.append(clock.mark())
                clock.sync()
                del h
                if r >= warmup:
                    for k, (key, _) in enumerate(mods):
                        samples.setdefault(key, []).append(clock.ms(marks[k], marks[k + 1]))
                bar.update()
            for key, layer, inp in stitch_work:
                a = clock.mark()
                layer(inp)
                b = clock.mark()
                clock.sync()
                if r >= warmup:
                    samples.setdefault(f"stitch:{key}", []).append(clock.ms(a, b))
                bar.update()
            for i, module in enumerate(e2e):
                a = clock.mark()
                module(x)
                b = clock.mark()
                clock.sync()
                if r >= warmup and e2e_times is not None:
                    e2e_times[i].append(clock.ms(a, b))
                bar.update()
        bar.close()
    out = {key: _stats(s) for key, s in samples.items()}
    for key, sig in stitch_sigs.items():
        timed = by_sig[sig]
        if timed != key:  # an identical layer was timed: share its timing
            out[f"stitch:{key}"] = dict(out[f"stitch:{timed}"], shared_with=f"stitch:{timed}")
    distinct = sum(len(m) for m in anchors) + len(stitch_work)
    return out, distinct


def _piece_memory(space: SearchSpace, target: Target, adapters, device, dtype) -> dict[str, Any]:
    """Per piece: parameter bytes and peak live activation bytes (its input included, the
    network's input image not); plus the image's bytes."""
    import torch

    layers = _stitch_layers(space, device, dtype)
    x = _image(space, target, device, dtype)
    exclude = _param_storages([ad.model for ad in adapters] + list(layers.values()))
    exclude.add(_storage_key(x)[0])
    pieces: dict[str, dict[str, int]] = {}
    with torch.inference_mode():
        for mods in _anchor_pieces(space, adapters):
            h = x
            for key, mod in mods:
                in_bytes = int(h.numel() * h.element_size())
                h, peak = _tracked_peak(mod, h, exclude)
                pieces[key] = {"params_bytes": _module_bytes(mod), "peak_bytes": int(peak),
                               "input_bytes": in_bytes}
            del h
        feats = _boundary_features(space, target, adapters, x)
        for key, layer in layers.items():
            j = space.layer_junctions[key][0]
            inp = feats[(j.src, j.src_end)]
            _, peak = _tracked_peak(layer, inp, exclude)
            pieces[f"stitch:{key}"] = {"params_bytes": _module_bytes(layer), "peak_bytes": int(peak),
                                       "input_bytes": int(inp.numel() * inp.element_size())}
    return {"input_bytes": int(x.numel() * x.element_size()), "pieces": pieces,
            "method": "parameters and buffers + input image + the largest per-piece peak of live "
                      "activation tensors (tracked at every dispatched op), a segment's input "
                      "counted through the segment as RouteModule holds it"}


def _prepare_models(space: SearchSpace, target: Target, device, dtype, models=None):
    import torch

    if models is None:
        if device.type == "meta":
            models = space.create_models(weights=False, device="meta")
        else:
            with torch.random.fork_rng(devices=[]):  # seeded weights, caller's RNG untouched
                torch.manual_seed(0)
                models = space.create_models(weights=False)
    return [m.to(device=device, dtype=dtype).eval() for m in models]


def _piece_keys(cand: Candidate) -> list[str]:
    route = cand.route
    keys = [f"stem:{route.first_anchor}"]
    keys += [f"block:{s.anchor}:{i}" for s in route for i in range(s.start, s.end)]
    keys += [f"stitch:{k}" for k in cand.layer_keys]
    keys.append(f"head:{route.last_anchor}")
    return keys


def _required_keys(space: SearchSpace) -> set[str]:
    keys = set()
    for a, d in enumerate(space.depths):
        keys |= {f"stem:{a}", f"head:{a}"} | {f"block:{a}:{i}" for i in range(d)}
    keys |= {f"stitch:{k}" for k in space.layer_shapes}
    return keys


def _hash(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


STATISTIC = "p10_ms"  # the per-piece and end-to-end statistic that latencies are composed of


# ---- the table -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LatencyTable:
    """Per-piece latency and memory of one space on one target, measured on one machine.

    ``space``: name, structure and content hashes, input size. ``target``: the target as it was
    (name, settings, budgets). ``machine``: :func:`machine_identity`. ``pieces``: piece key
    (``stem:A``, ``block:A:I``, ``head:A``, ``stitch:KEY``, as the Profiler's) -> ``median_ms``,
    ``p10_ms``, ``p90_ms``, ``iqr_ms``, ``repeats``. ``memory``: ``input_bytes`` and per piece
    ``params_bytes``/``peak_bytes``. ``overhead``: ``per_network_ms``, ``per_stitch_ms`` (zero
    until validated). ``validation``: the last validation report. ``meta``: how it was made.
    """

    space: dict[str, Any]
    target: dict[str, Any]
    machine: dict[str, Any]
    pieces: dict[str, dict[str, Any]]
    memory: dict[str, Any]
    overhead: dict[str, Any]
    validation: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    reused: bool = field(default=False, compare=False)
    bound_space: SearchSpace | None = field(default=None, compare=False, repr=False)

    # ---- composition ------------------------------------------------------------------------
    def bind(self, space: SearchSpace) -> LatencyTable:
        """This table, knowing its space (needed to look candidates up by id or route)."""
        return replace(self, bound_space=space)

    def candidate(self, which: Candidate | Route | str | int | Sequence) -> Candidate:
        if isinstance(which, Candidate):
            return which
        if self.bound_space is None:
            raise StitchnasError("this latency table is not bound to a space: pass a Candidate, or "
                                 "get the table from load_latency_table(space, target)")
        if isinstance(which, int) and not isinstance(which, bool):
            return self.bound_space.candidate(which)
        return self.bound_space.find(which)

    def composed_ms(self, which) -> float:
        """The plain sum of the candidate's piece latencies (``STATISTIC``; no overhead constants)."""
        cand = self.candidate(which)
        try:
            return float(sum(self.pieces[k][STATISTIC] for k in _piece_keys(cand)))
        except KeyError as err:
            raise StitchnasError(f"latency table has no timing for piece {err.args[0]!r} of route "
                                 f"{cand.route}: the table is of another space; re-profile") from None

    def latency_ms(self, which) -> float:
        """Composed latency in ms per forward at the target's batch size, overhead included."""
        cand = self.candidate(which)
        return (self.composed_ms(cand) + float(self.overhead.get("per_network_ms", 0.0))
                + float(self.overhead.get("per_stitch_ms", 0.0)) * cand.route.num_stitches)

    def memory_bytes(self, which) -> int:
        """Peak bytes: parameters and buffers + input image + the largest piece's live
        activations (within a segment, plus the segment's input, which the standalone module
        holds until the segment ends)."""
        cand = self.candidate(which)
        pieces = self.memory["pieces"]
        keys = _piece_keys(cand)
        peaks = [pieces[k]["peak_bytes"] for k in keys]
        for seg in cand.route:
            held = pieces[f"block:{seg.anchor}:{seg.start}"]["input_bytes"]
            peaks += [pieces[f"block:{seg.anchor}:{i}"]["peak_bytes"] + held
                      for i in range(seg.start + 1, seg.end)]
        return int(sum(pieces[k]["params_bytes"] for k in keys) + self.memory["input_bytes"]
                   + max(peaks))

    def memory_mb(self, which) -> float:
        """Peak memory in MB (2**20 bytes) at the target's batch size."""
        return self.memory_bytes(which) / MB

    def profile(self, candidates: Iterable[Candidate] | None = None) -> list[StitchLatency]:
        """Composed latency and memory of the given candidates (every candidate by default)."""
        if candidates is None:
            if self.bound_space is None:
                raise StitchnasError("pass the candidates, or bind the table to its space")
            candidates = self.bound_space.candidates
        return [StitchLatency(c.id, c.route, self.latency_ms(c), self.memory_mb(c))
                for c in (self.candidate(c) for c in candidates)]

    def summary(self) -> list[str]:
        """A few lines for people: what was timed, validation errors, ranges, where it lives."""
        m, meta = self.machine, self.meta
        gpu = f", {m['gpu']}" if m.get("gpu") else ""
        st = self.target.get("settings", {})
        lines = [f"{self.space['name']} on target {self.target['name']} ({st.get('device')}, batch "
                 f"{st.get('batch_size')}, {st.get('dtype')}; {m.get('cpu')}{gpu}, torch "
                 f"{m.get('torch')}, {m.get('threads')} threads): {meta.get('pieces')} pieces, "
                 f"{meta.get('distinct_pieces_timed')} distinct timed, {meta.get('repeats')} repeats "
                 f"after {meta.get('warmup')} warm-up, in {meta.get('timing_s', 0):.2f} s "
                 f"(+ {meta.get('memory_s', 0):.2f} s tracing memory)"
                 + (f"; reused the table made {meta.get('created')}" if self.reused else "")]
        v = self.validation
        if v:
            def fmt(e):
                return f"median {e['median_ape_pct']:.2f}% / worst {e['worst_ape_pct']:.2f}%"
            loo = v.get("corrected_loo")
            lines.append(
                f"validation on {v['k']} candidates timed end to end (seed {v['seed']}, "
                f"{v['e2e_timing_s']:.1f} s): composed vs measured abs. error {fmt(v['raw'])} as a "
                f"plain sum of pieces; "
                + (f"{fmt(loo)} with the overhead constants (leave-one-out)" if loo else
                   f"{fmt(v['corrected_fit'])} with the overhead constants (in-sample)")
                + f"; memory within {v['memory_worst_error_pct']:.2f}% of a traced run")
            lines.append(f"overhead: {self.overhead['per_network_ms']:+.4f} ms per network, "
                         f"{self.overhead['per_stitch_ms']:+.4f} ms per stitch (fitted on "
                         f"{self.overhead['fitted_on']})")
        else:
            lines.append("not validated: add --validate K to time K candidates end to end, "
                         "measure the error and fit the overhead constants")
        if self.bound_space is not None:
            cands = self.bound_space.candidates
            lat = [self.latency_ms(c) for c in cands]
            mem = [self.memory_mb(c) for c in cands]
            lines.append(f"{len(cands)} candidates: latency {min(lat):.3f} .. {max(lat):.3f} ms, "
                         f"peak memory {min(mem):.2f} .. {max(mem):.2f} MB")
        if self.path is not None:
            lines.append(f"table: {self.path}")
        return lines

    # ---- identity ---------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"latency table {self.path}" if self.path else "latency table"

    def check(self, space: SearchSpace, target: Target, check_machine: bool = True) -> None:
        """Raise a StitchnasError unless this table fits the space, the target and (with
        ``check_machine``) this machine."""
        redo = f"`stitchnas profile-latency {_arg(space)} --target {_arg(target)}`"
        if self.space.get("structure_hash") != space.structure_hash:
            raise StitchnasError(
                f"{self.where} belongs to space {self.space.get('name')!r} (structure "
                f"{self.space.get('structure_hash')}), not to {space.name!r} (structure "
                f"{space.structure_hash}): its pieces are other models; profile this space with {redo}")
        mine = dict(self.target.get("settings", {}))
        wanted = _settings(target, space)
        diffs = [f"{k} {mine.get(k)!r} vs {wanted[k]!r}" for k in wanted if mine.get(k) != wanted[k]]
        if diffs:
            raise StitchnasError(
                f"{self.where} was measured for target {self.target.get('name')!r}, which differs "
                f"from target {target.name!r} in {'; '.join(diffs)} (table vs target): "
                f"re-profile with {redo}")
        missing = _required_keys(space) - set(self.pieces)
        if missing or not set(self.memory.get("pieces", {})) >= _required_keys(space):
            raise StitchnasError(f"{self.where} lacks pieces {sorted(missing)[:3]}: it is incomplete; "
                                 f"re-profile with {redo} --force")
        if check_machine:
            here = machine_identity(target)
            diffs = [f"{k}: table {self.machine.get(k)!r}, here {here[k]!r}"
                     for k in here if self.machine.get(k) != here[k]]
            if diffs:
                raise StitchnasError(
                    f"{self.where} was measured on another machine ({'; '.join(diffs)}), so its "
                    f"timings do not hold here: re-profile here with {redo}, or, to search with it "
                    "anyway (tables travel: profile on the device, search anywhere), load it with "
                    "check_machine=False (CLI: --any-machine)")

    # ---- files ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The file's content (a deep copy: editing it leaves the table alone)."""
        import copy

        return copy.deepcopy({
            "format": FORMAT, "space": self.space, "target": self.target, "machine": self.machine,
            "overhead": self.overhead, "validation": self.validation, "meta": self.meta,
            "memory": self.memory, "pieces": self.pieces})

    @classmethod
    def from_json(cls, doc: Any, path: Path | None = None) -> LatencyTable:
        where = f"latency table {path}" if path else "latency table"
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise StitchnasError(f"{where} is not a {FORMAT} file (format {found!r}); re-profile "
                                 "with `stitchnas profile-latency SPACE --target T --force`")
        try:
            table = cls(space=dict(doc["space"]), target=dict(doc["target"]),
                        machine=dict(doc["machine"]), pieces=dict(doc["pieces"]),
                        memory=dict(doc["memory"]), overhead=dict(doc["overhead"]),
                        validation=doc.get("validation"), meta=dict(doc.get("meta") or {}),
                        path=path)
            for st in table.pieces.values():
                float(st["median_ms"])
        except (KeyError, TypeError, ValueError) as err:
            raise StitchnasError(f"{where} is damaged ({type(err).__name__}: {err}); delete it or "
                                 "re-profile with `stitchnas profile-latency SPACE --target T --force`"
                                 ) from None
        return table

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the table (atomically) to ``path``, its own path, or the default path."""
        path = Path(path) if path is not None else self.path
        if path is None:
            raise StitchnasError("no path to save the latency table to")
        write_json(path, self.to_json())
        object.__setattr__(self, "path", path)
        return path


def _arg(obj) -> str:
    path = getattr(obj, "path", None)
    from ..space import bundled_spaces_dir
    from ._targets import bundled_targets_dir

    if path is not None and Path(path).parent.resolve() not in (bundled_spaces_dir().resolve(),
                                                                bundled_targets_dir().resolve()):
        return str(path)
    return obj.name


def _settings(target: Target, space: SearchSpace) -> dict[str, Any]:
    s = target.settings()
    s["input_size"] = list(target.resolved_input_size(space.input_size))
    return s


def latency_table_path(space: SearchSpace | str, target: Target | str,
                       machine: dict[str, Any] | None = None) -> Path:
    """Where the table of this space, target and machine goes: ``results/latency/
    SPACE__TARGET__KEY.json``, KEY hashing the space's structure, the target's settings and the
    machine's identity."""
    space, target = load_space(space), load_target(target)
    machine = machine if machine is not None else machine_identity(target)
    key = _hash({"structure": space.structure_hash, "settings": _settings(target, space),
                 "machine": machine})[:12]
    return results_dir() / "latency" / f"{space.name}__{target.name}__{key}.json"


def _read_table(path: Path) -> LatencyTable:
    try:
        doc = json.loads(path.read_text())
    except OSError as err:
        raise StitchnasError(f"cannot read latency table {path}: {err.strerror}") from err
    except ValueError as err:
        raise StitchnasError(f"latency table {path} is not valid JSON ({err}); delete it or "
                             "re-profile with `stitchnas profile-latency SPACE --target T --force`") from None
    return LatencyTable.from_json(doc, path)


def _measurable(target: Target, what: str) -> None:
    if not target.measurable:
        raise StitchnasError(
            f"target {target.name!r} counts {target.cost_model} (fvcore), so it has no {what}: its "
            "costs need no device (stitchnas enumerate, or latency.target_costs); use a latency "
            "target (stitchnas targets) to time on a device")


def load_latency_table(space: SearchSpace | str, target: Target | str,
                       path: str | os.PathLike | None = None,
                       check_machine: bool = True) -> LatencyTable:
    """The saved table of this space and target, checked against both (and, by default, this
    machine), bound to the space.

    Without ``path``: this machine's table; with ``check_machine=False``, the one table of this
    space and target from any machine (this machine's if present). Errors say what differs and
    the command that makes a fitting table.
    """
    space, target = load_space(space), load_target(target)
    _measurable(target, "latency table")
    redo = f"`stitchnas profile-latency {_arg(space)} --target {_arg(target)}`"
    if path is None:
        own = latency_table_path(space, target)
        if own.is_file():
            path = own
        else:
            others = []
            for p in sorted(own.parent.glob(f"{space.name}__{target.name}__*.json")):
                try:
                    t = _read_table(p)
                    if (t.space.get("structure_hash") == space.structure_hash
                            and t.target.get("settings") == _settings(target, space)):
                        others.append(t)
                except StitchnasError:
                    continue
            if not others:
                raise StitchnasError(f"no latency table for space {space.name!r} on target "
                                     f"{target.name!r} (looked for {own}); make one on the device "
                                     f"with {redo}")
            if check_machine:
                t = others[0]
                here = machine_identity(target)
                diffs = "; ".join(f"{k}: table {t.machine.get(k)!r}, here {here[k]!r}"
                                  for k in here if t.machine.get(k) != here[k])
                raise StitchnasError(
                    f"the latency table(s) of space {space.name!r} on target {target.name!r} "
                    f"({', '.join(str(o.path) for o in others)}) were measured on another machine "
                    f"({diffs}): re-profile here with {redo}, or, to search with one anyway, load "
                    "it with check_machine=False (CLI: --any-machine)")
            if len(others) > 1:
                raise StitchnasError(
                    f"{len(others)} latency tables of space {space.name!r} on target "
                    f"{target.name!r} from other machines ({', '.join(str(o.path) for o in others)}); "
                    "choose one with path= (CLI: --table PATH)")
            table = others[0]
            table.check(space, target, check_machine=False)
            return table.bind(space)
    path = Path(path)
    if not path.is_file():
        raise StitchnasError(f"latency table {path} does not exist; make one on the device with "
                             f"{redo} --out {path}")
    table = _read_table(path)
    table.check(space, target, check_machine=check_machine)
    return table.bind(space)


# ---- profiling and validation ----------------------------------------------------------------
def _check_counts(repeats: int, warmup: int) -> None:
    if not isinstance(repeats, int) or repeats < 1:
        raise StitchnasError(f"repeats must be a positive integer, got {repeats!r}")
    if not isinstance(warmup, int) or warmup < 0:
        raise StitchnasError(f"warmup must be a non-negative integer, got {warmup!r}")


def profile_latency(space: SearchSpace | str, target: Target | str, *, repeats: int = 30,
                    warmup: int = 5, validate: int = 0, seed: int = 0,
                    progress: bool | None = None, models: Sequence | None = None) -> LatencyTable:
    """Time every distinct piece of ``space`` on ``target`` on this machine (not saved; see
    :func:`get_latency_table`). ``validate=K`` then times K random candidates end to end and fits
    the overhead constants (:func:`validate_latency`). ``models``: the anchors' models (random
    weights are built if omitted; weights do not change latency); they are moved to the
    target's device and dtype in place."""
    space, target = load_space(space), load_target(target)
    _measurable(target, "latency to time")
    _check_counts(repeats, warmup)
    device, dtype = _torch_device(target), _torch_dtype(target)
    from ..anchors import adapter_for

    with _threads(target.threads):
        machine = machine_identity(target)
        t0 = time.perf_counter()
        models = _prepare_models(space, target, device, dtype, models)
        adapters = [adapter_for(m) for m in models]
        build_s = time.perf_counter() - t0
        e2e, e2e_times, cands = [], None, []
        if validate:
            from ..network import StitchedNetwork

            cands = choose_validation(space, _validate_k(validate), seed)
            net = StitchedNetwork(space, models).to(device=device, dtype=dtype).eval()
            e2e, e2e_times = [net.route_module(c) for c in cands], []
        t0 = time.perf_counter()
        pieces, distinct = _time_pieces(space, target, adapters, device, dtype, repeats=repeats,
                                        warmup=warmup, progress=progress, e2e=e2e,
                                        e2e_times=e2e_times)
        timing_s = time.perf_counter() - t0
        if e2e_times:  # the share of the rounds spent on the validation networks
            e2e_s = sum(map(sum, e2e_times)) / 1e3 * (warmup + repeats) / repeats
            timing_s -= e2e_s
        t0 = time.perf_counter()
        memory = _piece_memory(space, target, adapters, device, dtype)
        memory_s = time.perf_counter() - t0
    from .. import __version__

    table = LatencyTable(
        space={"name": space.name, "structure_hash": space.structure_hash,
               "content_hash": space.content_hash, "input_size": list(space.input_size),
               "candidates": len(space)},
        target={"name": target.name, "settings": _settings(target, space),
                "budgets": target.budgets.to_json()},
        machine=machine, pieces=pieces, memory=memory,
        overhead={"per_network_ms": 0.0, "per_stitch_ms": 0.0, "fitted_on": 0,
                  "method": "not fitted yet: validate to fit"},
        meta={"repeats": repeats, "warmup": warmup, "pieces": len(pieces),
              "distinct_pieces_timed": distinct, "timing_s": round(timing_s, 3),
              "memory_s": round(memory_s, 3), "build_models_s": round(build_s, 3),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "stitchnas": __version__,
              "timer": "cuda events" if device.type == "cuda" else "time.perf_counter"},
    ).bind(space)
    if validate:
        table = validate_latency(table, space, target, len(cands), seed=seed, repeats=repeats,
                                 warmup=warmup, models=models, progress=progress,
                                 times=(e2e_times, e2e_s))
    return table


def _validate_k(k) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise StitchnasError(f"validate needs a positive number of candidates, got {k!r}")
    return k


def fit_overhead(composed: Sequence[float], measured: Sequence[float],
                 stitches: Sequence[int]) -> tuple[float, float]:
    """Constants ``(per_network_ms, per_stitch_ms)`` minimising the squared *relative* error of
    ``composed + per_network + per_stitch * stitches`` against ``measured``. With fewer than two
    distinct stitch counts only the per-network constant is fitted."""
    import numpy as np

    c, m, s = (np.asarray(v, dtype=float) for v in (composed, measured, stitches))
    if c.size == 0:
        return 0.0, 0.0
    w = 1.0 / m
    r = (m - c) * w
    if len(set(s.tolist())) >= 2:
        a = np.stack([w, s * w], axis=1)
        sol, *_ = np.linalg.lstsq(a, r, rcond=None)
        return float(sol[0]), float(sol[1])
    return float((r * w).sum() / (w * w).sum()), 0.0


def _ape_stats(pred: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    errs = [100.0 * (p - m) / m for p, m in zip(pred, measured)]
    ape = [abs(e) for e in errs]
    return {"median_ape_pct": round(statistics.median(ape), 3), "worst_ape_pct": round(max(ape), 3),
            "mean_ape_pct": round(statistics.fmean(ape), 3),
            "mean_signed_pct": round(statistics.fmean(errs), 3)}


def _time_modules(modules: Sequence, x, clock: _Clock, *, repeats: int, warmup: int,
                  bar=None) -> list[list[float]]:
    """End-to-end forward times (ms) of each module, timed round robin (one forward of every
    module per repeat, as the pieces are)."""
    times: list[list[float]] = [[] for _ in modules]
    for r in range(warmup + repeats):
        for i, module in enumerate(modules):
            a = clock.mark()
            module(x)
            b = clock.mark()
            clock.sync()
            if r >= warmup:
                times[i].append(clock.ms(a, b))
        if bar is not None:
            bar.update()
    return times


def choose_validation(space: SearchSpace, k: int, seed: int = 0) -> list[Candidate]:
    """K distinct random candidates (all of them when K >= the space's size), in id order."""
    cands = space.candidates
    if k >= len(cands):
        return list(cands)
    return sorted(random.Random(seed).sample(cands, k), key=lambda c: c.id)


def validate_latency(table: LatencyTable, space: SearchSpace | str, target: Target | str, k: int, *,
                     seed: int = 0, repeats: int | None = None, warmup: int | None = None,
                     models: Sequence | None = None, progress: bool | None = None,
                     times: tuple[list[list[float]], float] | None = None) -> LatencyTable:
    """Time K random candidates end to end as standalone modules on this machine, fit the
    overhead constants and return the table with them and the report (not saved).

    The report gives the absolute percentage error of the plain sum of parts (``raw``), of the
    corrected composition with each candidate predicted from constants fitted on the others
    (``corrected_loo``: the honest figure), and in-sample (``corrected_fit``); and the composed
    peak memory against a tracked run of each whole module.
    """
    import torch
    from tqdm.auto import tqdm

    from ..network import StitchedNetwork

    space, target = load_space(space), load_target(target)
    table.check(space, target, check_machine=True)
    table = table.bind(space)
    if not isinstance(k, int) or k < 1:
        raise StitchnasError(f"validate needs a positive number of candidates, got {k!r}")
    repeats = table.meta.get("repeats", 30) if repeats is None else repeats
    warmup = table.meta.get("warmup", 5) if warmup is None else warmup
    _check_counts(repeats, warmup)
    device, dtype = _torch_device(target), _torch_dtype(target)
    cands = choose_validation(space, k, seed)
    rows = []
    with _threads(target.threads):
        models = _prepare_models(space, target, device, dtype, models)
        net = StitchedNetwork(space, models).to(device=device, dtype=dtype).eval()
        clock = _Clock(device)
        x = _image(space, target, device, dtype)
        exclude = _param_storages([net])
        exclude.add(_storage_key(x)[0])
        t0 = time.perf_counter()
        if times is None:
            bar = tqdm(total=warmup + repeats, desc=f"timing {len(cands)} candidates end to end",
                       unit="round", disable=not _show(progress))
            with torch.inference_mode():
                modules = [net.route_module(cand) for cand in cands]
                times = _time_modules(modules, x, clock, repeats=repeats, warmup=warmup, bar=bar)
                bar.close()
            e2e_s = time.perf_counter() - t0
        else:  # timed by profile_latency in the same rounds as the pieces
            times, e2e_s = times
        with torch.inference_mode():
            for cand, samples in zip(cands, times):
                st = _stats(samples)
                rows.append({"id": cand.id, "route": cand.route.to_json(),
                             "stitches": cand.route.num_stitches, "measured_ms": st[STATISTIC],
                             "measured_median_ms": st["median_ms"],
                             "measured_p10_ms": st["p10_ms"], "measured_p90_ms": st["p90_ms"],
                             "composed_raw_ms": table.composed_ms(cand)})
        t0 = time.perf_counter()
        with torch.inference_mode():
            for row, cand in zip(rows, cands):
                module = net.route_module(cand)
                _, peak = _tracked_peak(module, x, exclude)
                row["memory_traced_mb"] = (_module_bytes(module) + table.memory["input_bytes"]
                                           + peak) / MB
                row["memory_composed_mb"] = table.memory_mb(cand)
        memory_s = time.perf_counter() - t0
    raw = [r["composed_raw_ms"] for r in rows]
    meas = [r["measured_ms"] for r in rows]
    nst = [r["stitches"] for r in rows]
    c0, c1 = fit_overhead(raw, meas, nst)
    loo = []
    for i in range(len(rows)):
        rest = [j for j in range(len(rows)) if j != i]
        a, b = fit_overhead([raw[j] for j in rest], [meas[j] for j in rest], [nst[j] for j in rest])
        loo.append(raw[i] + a + b * nst[i])
    for row, p in zip(rows, loo):
        row["composed_ms"] = row["composed_raw_ms"] + c0 + c1 * row["stitches"]
        row["composed_loo_ms"] = p
    mem_err = [abs(r["memory_composed_mb"] - r["memory_traced_mb"]) / r["memory_traced_mb"] * 100
               for r in rows]
    report = {
        "k": len(rows), "seed": seed, "repeats": repeats, "warmup": warmup,
        "raw": _ape_stats(raw, meas),
        "corrected_loo": _ape_stats(loo, meas) if len(rows) >= 2 else None,
        "corrected_fit": _ape_stats([r["composed_ms"] for r in rows], meas),
        "e2e_timing_s": round(e2e_s, 3),
        "e2e_per_candidate_s": round(e2e_s / len(rows), 4),
        "memory_check_s": round(memory_s, 3),
        "memory_worst_error_pct": round(max(mem_err), 4),
        "machine": machine_identity(target),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "candidates": rows,
    }
    overhead = {"per_network_ms": c0, "per_stitch_ms": c1, "fitted_on": len(rows),
                "method": "weighted least squares of measured - composed against [1, stitches], "
                          "weights 1/measured (relative error)"}
    return replace(table, overhead=overhead, validation=report)


def get_latency_table(space: SearchSpace | str, target: Target | str, *,
                      path: str | os.PathLike | None = None, rebuild: bool = False,
                      save: bool = True, repeats: int = 30, warmup: int = 5, validate: int = 0,
                      seed: int = 0, progress: bool | None = None,
                      models: Sequence | None = None) -> LatencyTable:
    """This machine's table of ``space`` on ``target``: loaded when it exists (``reused`` is
    then True and nothing is timed), else profiled (with ``validate``) and saved. A table at
    the path that does not fit is an error, not overwritten, unless ``rebuild``."""
    space, target = load_space(space), load_target(target)
    _measurable(target, "latency table")
    path = Path(path) if path is not None else latency_table_path(space, target)
    if path.exists() and not rebuild:
        try:
            table = load_latency_table(space, target, path=path, check_machine=True)
        except StitchnasError as err:
            raise StitchnasError(f"{err}; or overwrite it with a new table: --force "
                                 "(rebuild=True)") from None
        return replace(table, reused=True)
    table = profile_latency(space, target, repeats=repeats, warmup=warmup, validate=validate,
                            seed=seed, progress=progress, models=models)
    if save:
        table.save(path)
    return table


# ---- costs on a target -----------------------------------------------------------------------
def target_costs(space: SearchSpace | str, target: Target | str, *,
                 table: LatencyTable | None = None, check_machine: bool = False,
                 memory: bool = True) -> list[TargetCost]:
    """Every candidate's cost on ``target`` with its budget violations.

    Latency targets read the saved table (from any machine unless ``check_machine``: tables
    travel); flops/params targets need no device: FLOPs and params from the fvcore Profiler and,
    with ``memory``, peak memory at the target's batch size traced on the meta device.
    """
    from ._profiler import Profiler

    space, target = load_space(space), load_target(target)
    counts = {c.id: c for c in Profiler(space).profile()}
    out = []
    if target.measurable:
        table = table if table is not None else load_latency_table(space, target,
                                                                   check_machine=check_machine)
        table = table.bind(space)
        for cand in space.candidates:
            lat, mem = table.latency_ms(cand), table.memory_mb(cand)
            c = counts[cand.id]
            out.append(TargetCost(cand.id, cand.route, lat, c.flops, c.params, lat, mem, tuple(
                target.budgets.violations(latency_ms=lat, memory_mb=mem, flops=c.flops,
                                          params=c.params))))
        return out
    if target.input_size is not None and tuple(target.input_size) != tuple(space.input_size):
        raise StitchnasError(
            f"target {target.name!r} overrides the input size to {list(target.input_size)}, but "
            f"{target.cost_model} targets count at the space's input size {list(space.input_size)}: "
            "drop the target's input_size or set the space's")
    mem_table = _meta_memory(space, target) if memory else None
    for cand in space.candidates:
        c = counts[cand.id]
        mem = mem_table.memory_mb(cand) if mem_table is not None else None
        cost = c.flops if target.cost_model == "flops" else c.params
        out.append(TargetCost(cand.id, cand.route, cost, c.flops, c.params, None, mem, tuple(
            target.budgets.violations(memory_mb=mem, flops=c.flops, params=c.params))))
    return out


def _meta_memory(space: SearchSpace, target: Target) -> LatencyTable:
    """A timing-free table holding only memory, traced on the meta device (nothing runs)."""
    import torch

    from ..anchors import adapter_for

    device, dtype = torch.device("meta"), _torch_dtype(target)
    models = _prepare_models(space, target, device, dtype)
    memory = _piece_memory(space, target, [adapter_for(m) for m in models], device, dtype)
    return LatencyTable(space={"name": space.name, "structure_hash": space.structure_hash},
                        target={"name": target.name}, machine={}, pieces={}, memory=memory,
                        overhead={}).bind(space)


# ---- benchmark -------------------------------------------------------------------------------
def bench_latency(space: SearchSpace | str, target: Target | str, *, repeats: int = 30,
                  warmup: int = 5, validate: int = 24, seed: int = 0,
                  out_dir: str | os.PathLike | None = None,
                  progress: bool | None = None) -> dict[str, Any]:
    """Build a fresh table (pieces timed, K candidates validated end to end), save it, and report
    its cost against timing every candidate end to end (extrapolated from the validation runs
    unless K covers the whole space, then measured)."""
    space, target = load_space(space), load_target(target)
    t0 = time.perf_counter()
    table = profile_latency(space, target, repeats=repeats, warmup=warmup, validate=validate,
                            seed=seed, progress=progress)
    total_s = time.perf_counter() - t0
    table_path = table.save(latency_table_path(space, target))
    v = table.validation
    n = len(space)
    all_measured = v["k"] >= n
    every_s = v["e2e_timing_s"] if all_measured else v["e2e_per_candidate_s"] * n
    table_s = table.meta["timing_s"] + table.meta["memory_s"]
    lat = [table.latency_ms(c) for c in space.candidates]
    mem = [table.memory_mb(c) for c in space.candidates]
    report = {
        "space": space.name, "target": target.name, "target_settings": table.target["settings"],
        "machine": table.machine, "candidates": n,
        "pieces": table.meta["pieces"], "distinct_pieces_timed": table.meta["distinct_pieces_timed"],
        "repeats": repeats, "warmup": warmup,
        "build_models_s": table.meta["build_models_s"],
        "table_timing_s": table.meta["timing_s"], "table_memory_s": table.meta["memory_s"],
        "table_build_s": round(table_s, 3),
        "validation_k": v["k"], "validation_seed": seed,
        "validation_e2e_s": v["e2e_timing_s"],
        "e2e_per_candidate_s": v["e2e_per_candidate_s"],
        "every_candidate_e2e_s": round(every_s, 2),
        "every_candidate_e2e_is": ("measured" if all_measured else
                                   f"extrapolated: {v['k']} validation candidates' mean x {n}"),
        "speedup_vs_every_candidate": round(every_s / table_s, 1),
        "error_raw": v["raw"], "error_corrected_loo": v["corrected_loo"],
        "error_corrected_fit": v["corrected_fit"],
        "overhead": table.overhead, "memory_worst_error_pct": v["memory_worst_error_pct"],
        "latency_ms_range": [round(min(lat), 3), round(max(lat), 3)],
        "memory_mb_range": [round(min(mem), 2), round(max(mem), 2)],
        "wall_s": round(total_s, 2), "table": str(table_path),
        "validation": v["candidates"],
    }
    if out_dir is not None:
        write_json(Path(out_dir) / f"latency_{space.name}_{target.name}.json", report)
    return report
