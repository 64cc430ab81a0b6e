"""Measured latency and peak memory of every stitch on a hardware target, from a lookup table.

FLOPs do not say how fast a stitch runs on a device, and timing every candidate is slow. A
*latency table* times each distinct piece of a space once on the target (every anchor's stem,
blocks and head, and every stitching-layer shape) and composes any candidate's latency from
its pieces, so the whole space is covered at the cost of a few anchor forwards:

    latency(candidate) = p10 over rounds r of (stem + blocks + stitching layers + head)[r]
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
in the same rounds (round robin) so both see the same drift. The table keeps each piece's time
in every round, and a candidate's pieces are summed round by round before the percentile is
taken: a sum of per-piece percentiles pairs each piece's luckiest rounds, which no run of the
whole route has, and ran 3-8% low against end-to-end runs of small networks (docs/latency.md).
The median and p90 stay in the table for users who want typical or tail latency.

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
elsewhere (of several, the nearest machine's); with the default check, a table from another
machine is an error saying what differs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..errors import StitchnasError
from ..space import SearchSpace, load_space
from ._machine import machine_identity, usable_cpus
from ._memory import _piece_memory
from ._table import (LatencyTable, TargetCost, _measurable, _settings, latency_table_path,
                     load_latency_table)
from ._targets import Target, load_target
from ._timing import _prepare_models, _threads, _time_pieces, _torch_device, _torch_dtype
from ._validate import _check_counts, _validate_k, choose_validation, validate_latency

__all__ = ["get_latency_table", "profile_latency", "target_costs"]


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
              **({"cpu_cores": usable_cpus()} if device.type == "cpu" else {}),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "stitchnas": __version__,
              "timer": "cuda events" if device.type == "cuda" else "time.perf_counter"},
    ).bind(space)
    if validate:
        table = validate_latency(table, space, target, len(cands), seed=seed, repeats=repeats,
                                 warmup=warmup, models=models, progress=progress,
                                 times=(e2e_times, e2e_s))
    return table


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
    if save:  # an unwritable path is one line before the timing, not after
        from ..fileio import check_writable

        check_writable(path, "latency table")
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
    """A timing-free table holding only memory, traced on the meta device (nothing runs) and
    cached beside the FLOPs profiles: building a large family's anchors only to trace them costs
    seconds of every search."""
    from .. import __version__
    from .._cache import cache_file, load_cached, save_cached
    from ._profiler import _versions

    shape = [target.batch_size, *target.resolved_input_size(space.input_size)]
    path = cache_file("memory", space.name, space.structure_hash,
                      f"b{'x'.join(map(str, shape))}", target.dtype)
    versions = dict(_versions(), stitchnas=__version__)
    doc = load_cached(path, versions, input=shape)
    memory = doc.get("memory") if doc is not None else None
    if not isinstance(memory, dict):
        import torch

        from ..anchors import adapter_for

        device, dtype = torch.device("meta"), _torch_dtype(target)
        models = _prepare_models(space, target, device, dtype)
        memory = _piece_memory(space, target, [adapter_for(m) for m in models], device, dtype)
        save_cached(path, {"space": space.name, "input": shape, "dtype": target.dtype,
                           "memory": memory}, versions, what="memory cache")
    return LatencyTable(space={"name": space.name, "structure_hash": space.structure_hash},
                        target={"name": target.name}, machine={}, pieces={}, memory=memory,
                        overhead={}).bind(space)
