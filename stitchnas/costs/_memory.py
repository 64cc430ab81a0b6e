"""Peak memory of pieces: every tensor the dispatcher creates is tracked until it dies.

This counts what ``torch.cuda.max_memory_allocated`` counts, without the allocator's rounding,
caching and kernel workspaces, on any device, the meta device included (so flops/params targets
get memory figures without running anything). torch is imported only inside the functions.
"""

from __future__ import annotations

import weakref
from typing import Any

from ..space import SearchSpace
from ._targets import Target
from ._timing import _anchor_pieces, _boundary_features, _image, _stitch_layers

__all__: list[str] = []  # private helpers of the latency table; see costs/__init__.py


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
