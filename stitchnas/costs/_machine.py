"""What machine a measurement was made on (for tables and benchmark reports)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from .._util import counted
from ._targets import Target, load_target

__all__ = ["cores_said", "cpu_name", "cpu_quota", "machine_identity", "timing_threads", "usable_cpus"]

CGROUP = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_quota(root: Path | None = None) -> float | None:
    """CPUs a cgroup's quota allows this process (v2's ``cpu.max``, else v1's CFS quota), as a
    container's ``--cpus`` sets it; None where there is no quota. ``root``: the cgroup mount."""
    root = CGROUP if root is None else Path(root)
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        return None if quota == "max" else int(quota) / int(period or 100000)
    quota, period = _read(root / "cpu" / "cpu.cfs_quota_us"), _read(root / "cpu" / "cpu.cfs_period_us")
    if quota is None or period is None or int(quota) <= 0:
        return None
    return int(quota) / int(period)


def usable_cpus(root: Path | None = None) -> int:
    """The CPUs this process may keep busy: its affinity, fewer where a cgroup quota says so.
    A container given 2 CPUs on a 16-core host sees 16 in its affinity and is throttled past 2,
    so threads beyond this count share cores and time another machine."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    quota = cpu_quota(root)
    return max(1, min(n, int(quota)) if quota is not None else n)


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


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
    return {"cpu": cpu_name(), "arch": platform.machine(), "gpu": gpu, "cuda": cuda,
            "torch": torch.__version__,
            "threads": timing_threads(target.threads if target is not None else None)}


def cores_said(root: Path | None = None) -> str:
    """The machine's cores for a report: "16 cores, 2 usable" where affinity or a quota leaves
    fewer, else "16 cores"."""
    total, usable = os.cpu_count() or 1, usable_cpus(root)
    return counted(total, "core") + (f", {usable} usable" if usable != total else "")


def timing_threads(threads: int | None = None) -> int:
    """The torch threads a target is timed with: its own ``threads:``, else torch's default
    capped at the CPUs this process may keep busy (:func:`usable_cpus`): torch counts the cores it
    sees, which in a container given fewer CPUs than the host has is more than it can run."""
    if threads:
        return int(threads)
    import torch

    return max(1, min(torch.get_num_threads(), usable_cpus()))
