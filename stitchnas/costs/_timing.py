"""Timing on the target's device: the device, dtype and threads, a clock between pieces, the
pieces of a space (anchors' stems, blocks and heads; stitching layers) and their timing.

Pieces are timed round robin with any whole modules to check them against, so that the drift of
a shared machine spreads over all of them alike (see :mod:`._latency`). torch is imported only
inside the functions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import StitchnasError
from ..progress import show_bars
from ..space import SearchSpace
from ._machine import timing_threads
from ._targets import Target

__all__: list[str] = []  # private helpers of the latency table; see costs/__init__.py


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
    """Run with a target's threads (:func:`timing_threads`: its own, else the default capped)."""
    import torch

    before, threads = torch.get_num_threads(), timing_threads(n)
    if threads != before:
        torch.set_num_threads(threads)
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


def _stats(samples: Sequence[float], keep: bool = False) -> dict[str, Any]:
    """Percentiles of one piece's (or network's) times; ``keep``: the times too, in round order
    (``samples_ms``), so that a route's latency can be composed round by round."""
    import numpy as np

    from ._table import STATISTIC, STATISTIC_PERCENTILE

    arr = np.asarray(samples, dtype=float)
    p10, p25, p50, p75, p90, stat = np.percentile(arr, [10, 25, 50, 75, 90, STATISTIC_PERCENTILE])
    out: dict[str, Any] = {"median_ms": float(p50), "p10_ms": float(p10), "p90_ms": float(p90),
                           "iqr_ms": float(p75 - p25), "repeats": int(arr.size)}
    out[STATISTIC] = float(stat)  # the statistic tables compose, whichever percentile it is
    if keep:
        out["samples_ms"] = [round(float(v), 6) for v in arr]
    return out


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
                   disable=not show_bars(progress))
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
    out = {key: _stats(s, keep=True) for key, s in samples.items()}
    for key, sig in stitch_sigs.items():
        timed = by_sig[sig]
        if timed != key:  # an identical layer was timed: share its timing
            out[f"stitch:{key}"] = dict(out[f"stitch:{timed}"], shared_with=f"stitch:{timed}")
    distinct = sum(len(m) for m in anchors) + len(stitch_work)
    return out, distinct


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
