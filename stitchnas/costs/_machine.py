"""What machine a measurement was made on (for tables and benchmark reports)."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from ._targets import Target, load_target

__all__ = ["cpu_name", "machine_identity"]


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
    threads = target.threads if target is not None and target.threads else torch.get_num_threads()
    return {"cpu": cpu_name(), "arch": platform.machine(), "gpu": gpu, "cuda": cuda,
            "torch": torch.__version__, "threads": threads}
