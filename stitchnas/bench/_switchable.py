"""``stitchnas bench switchable``: a whole front as one model, against its members one by one.

For each front: the size of the switchable artifact (the bundle, and the TorchScript module for
fronts benchmarked in full) against the sum of the members exported one by one and against the
largest anchor alone, each written the same way (``torch.save`` of a state dict; TorchScript
traced); and for fronts benchmarked in full, the switch time (median of many switches, and of
``select`` calls with random budgets), whether any weight moved on a switch, every member's
latency through the artifact (batch 1, median of ``repeats``) and its largest difference from
:func:`~stitchnas.network.build_model` at two batch sizes.
"""

from __future__ import annotations

import io
import os
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch

from .. import paths
from ..anchors import create_anchor_model
from ..fileio import write_json
from ..fronts import NothingFits, load_front, space_of_front
from ..network import build_model, export_front, export_model, load_front_model
from ..objectives import LIMIT_KEYS, objective_of
from ..space import load_space

__all__ = ["bench_switchable"]

_MIB = 2**20


def _saved_size(obj: Any) -> int:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.tell()


def _tensor_bytes(state: dict) -> int:
    seen, total = set(), 0
    for t in state.values():
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def _switch_times(model, ids: list[int], switches: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    before = {n: (id(t), t.data_ptr()) for n, t in model.state_dict(keep_vars=True).items()}
    order = [rng.choice(ids) for _ in range(switches)]
    switch_ns = []
    for i in order:
        t0 = time.perf_counter_ns()
        model.switch(i)
        switch_ns.append(time.perf_counter_ns() - t0)
    limits = [k for k in LIMIT_KEYS if k.startswith("max_") and model.front.has(objective_of(k))]
    key = limits[0]
    values = [m.value(objective_of(key)) for m in model.front.members]
    low, high = min(values), max(values)
    select_ns, nothing = [], 0
    for _ in range(switches):
        budget = {key: rng.uniform(low * 0.9, high * 1.1)}
        t0 = time.perf_counter_ns()
        try:
            model.select(**budget)
        except NothingFits:
            nothing += 1
        select_ns.append(time.perf_counter_ns() - t0)
    after = {n: (id(t), t.data_ptr()) for n, t in model.state_dict(keep_vars=True).items()}
    return {"switches": switches, "switch_us_median": round(statistics.median(switch_ns) / 1e3, 3),
            "switch_us_p99": round(sorted(switch_ns)[int(0.99 * len(switch_ns))] / 1e3, 3),
            "select_budget": key, "select_us_median": round(statistics.median(select_ns) / 1e3, 3),
            "select_nothing_fits": nothing, "weights_unmoved": before == after}


def _latencies(model, repeats: int, input_size) -> dict[int, float]:
    x = torch.randn((1, *input_size), generator=torch.Generator().manual_seed(0))
    out = {}
    with torch.inference_mode():
        for i in model.ids:
            model.switch(i)
            for _ in range(3):
                model(x)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
            out[i] = round(statistics.median(times) * 1e3, 4)
    return out


def _equality(model, space, checkpoint) -> float:
    worst = 0.0
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        for i in model.ids:
            ref = build_model(space, i, checkpoint)
            for batch in (1, 4):
                x = torch.randn((batch, *space.input_size), generator=torch.Generator().manual_seed(batch))
                model.switch(i)
                worst = max(worst, float((model(x) - ref(x)).abs().max()))
    return worst


def _one_front(front_file: str | os.PathLike, full: bool, allow_random_weights: bool, repeats: int,
               switches: int, seed: int, space: Any = None) -> dict[str, Any]:
    if space is not None:
        space = load_space(space)
        front = load_front(space, path=front_file)  # checked against it
    else:
        front = load_front(path=front_file)
        space = space_of_front(front, "`stitchnas bench switchable --space SPACE.yaml --front FILE`")
    default = paths.checkpoint_path(space.name)
    checkpoint = str(default) if default.is_file() else None
    row: dict[str, Any] = {"front": str(front_file), "space": space.name, "target": front.target,
                           "members": len(front.members), "checkpoint": checkpoint}
    with tempfile.TemporaryDirectory() as tmp:
        formats = ("bundle", "torchscript") if full else ("bundle",)
        t0 = time.perf_counter()
        written = export_front(front, Path(tmp) / "front", space=space, checkpoint=checkpoint, formats=formats,
                               allow_random_weights=allow_random_weights)
        row["export_s"] = round(time.perf_counter() - t0, 2)
        sizes = {p.suffix: p.stat().st_size for p in written}
        t0 = time.perf_counter()
        model = load_front_model(written[0])
        row["load_s"] = round(time.perf_counter() - t0, 2)
        row["weights"] = model.info["weights"]
        used = model.used_anchors()
        row["anchors_used"] = [space.anchors[a].name for a in used]
        row["spans_all_anchors"] = len(used) == len(space.anchors)
        # the largest anchor alone, saved the same way (state dict; TorchScript when in full)
        largest = max(range(len(space.anchors)),
                      key=lambda a: sum(p.numel() for p in create_anchor_model(
                          space.anchors[a], weights=False, device="meta").parameters()))
        anchor = create_anchor_model(space.anchors[largest], weights=False,  # traced when in full
                                     device=None if full else "uninitialized")
        anchor_state = anchor.state_dict()
        members_state = [model.member_module(i).state_dict() for i in model.ids]
        size = {
            "bundle_mib": round(sizes[".pt"] / _MIB, 3),
            "bundle_tensor_mib": round(_tensor_bytes(model.state_dict()) / _MIB, 3),
            "members_one_by_one_state_dict_mib": round(sum(_saved_size(s) for s in members_state) / _MIB, 3),
            "largest_anchor": space.anchors[largest].name,
            "largest_anchor_state_dict_mib": round(_saved_size(anchor_state) / _MIB, 3),
            "largest_anchor_tensor_mib": round(_tensor_bytes(anchor_state) / _MIB, 3),
        }
        size["bundle_vs_largest_anchor"] = round(size["bundle_mib"] / size["largest_anchor_state_dict_mib"], 3)
        size["bundle_vs_members_one_by_one"] = round(
            size["bundle_mib"] / size["members_one_by_one_state_dict_mib"], 3)
        anchors_sum = sum(_tensor_bytes(create_anchor_model(space.anchors[a], weights=False,
                                                            device="uninitialized").state_dict())
                          for a in used)
        size["floor_used_anchors_vs_largest"] = round(anchors_sum / _tensor_bytes(anchor_state), 3)
        if full:
            ts_sum = 0
            with warnings.catch_warnings():  # TorchScript is deprecated; the bench compares its sizes on purpose
                warnings.simplefilter("ignore", FutureWarning)
                for i in model.ids:
                    ts_sum += sum(p.stat().st_size for p in export_model(
                        model.member_module(i), Path(tmp) / f"m{i}", space.input_size, formats=("torchscript",)))
                anchor_ts = export_model(anchor, Path(tmp) / "anchor", space.input_size,
                                         formats=("torchscript",))[0].stat().st_size
            size.update({"torchscript_mib": round(sizes[".ts"] / _MIB, 3),
                         "members_one_by_one_torchscript_mib": round(ts_sum / _MIB, 3),
                         "largest_anchor_torchscript_mib": round(anchor_ts / _MIB, 3),
                         "torchscript_vs_largest_anchor": round(sizes[".ts"] / anchor_ts, 3),
                         "torchscript_vs_members_one_by_one": round(sizes[".ts"] / ts_sum, 3)})
        row["size"] = size
        if full:
            row["switch"] = _switch_times(model, model.ids, switches, seed)
            lat = _latencies(model, repeats, space.input_size)
            row["members_table"] = [
                {"id": m.id, "route": str(m.route), "acc1": m.acc1, "flops": m.flops,
                 "front_latency_ms": m.latency_ms, "artifact_latency_ms": lat[m.id]}
                for m in front.members]
            row["max_abs_diff_vs_build_model"] = _equality(model, space, checkpoint)
    return row


def bench_switchable(fronts: Sequence[str | os.PathLike] = (), size_only: Sequence[str | os.PathLike] = (),
                     allow_random_weights: bool = False, repeats: int = 30, switches: int = 10000,
                     threads: int = 1, seed: int = 0, out_dir: str | os.PathLike | None = None,
                     space: Any = None) -> dict[str, Any]:
    """Benchmark each front file in ``fronts`` in full and each in ``size_only`` for size only;
    writes ``switchable.json`` into ``out_dir``. ``space``: the space every front was searched
    on (a name or YAML path; None: each front's bundled space)."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows = [_one_front(f, True, allow_random_weights, repeats, switches, seed, space) for f in fronts]
        rows += [_one_front(f, False, allow_random_weights, repeats, switches, seed, space) for f in size_only]
    finally:
        torch.set_num_threads(old)
    report = {"threads": threads, "repeats": repeats, "seed": seed, "torch": str(torch.__version__),
              "allow_random_weights": allow_random_weights, "fronts": rows}
    if out_dir is not None:
        write_json(Path(out_dir) / "switchable.json", report)
    return report
