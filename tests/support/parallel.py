"""How many processes ``pytest -n auto`` starts, and how many torch threads each one runs.

pytest-xdist's own ``auto`` counts the machine's CPUs (psutil's physical cores where psutil is
installed), not those a container lets this process use, and ignores memory. Each worker imports
torch and holds models: about 2 GB at its peak. Two workers on two cores that each kept torch's
two threads made the suite slower than one process (1621 s against 999 s); one thread each made it
twice as fast (473 s; the README, under its test command). ``--dist loadfile`` (each module on one
worker, so its module-scoped fixtures are built once) took 555 s against 572 s for xdist's default,
one run after the other (c53a81b): within this machine's variance, so not made the default.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from stitchnas.costs import usable_cpus  # light: imports neither torch nor numpy

CGROUP = Path("/sys/fs/cgroup")
WORKER_GB = 2.5  # a worker's peak resident memory (about 2 GB seen), with room
shared_threads: int | None = None  # what share_cpus set; None: not a worker, or OMP_NUM_THREADS was given


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def memory_gb(root: Path = CGROUP, meminfo: Path = Path("/proc/meminfo")) -> float | None:
    """Memory available now (``MemAvailable``), capped by the cgroup's limit; None: unknown."""
    sizes = []
    text = _read(meminfo) or ""
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            sizes.append(int(line.split()[1]) * 1024)
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        limit = _read(path)
        if limit is not None and limit.isdigit() and int(limit) < 2 ** 60:
            sizes.append(int(limit))
    return min(sizes) / 1e9 if sizes else None


def auto_workers(root: Path = CGROUP, meminfo: Path = Path("/proc/meminfo")) -> int:
    """``-n auto``: one worker per usable CPU, no more than memory holds at WORKER_GB each."""
    n = usable_cpus(root)
    mem = memory_gb(root, meminfo)
    if mem is not None:
        n = min(n, int(mem // WORKER_GB))
    return max(1, n)


def worker_threads(workers: int, cpus: int) -> int:
    """Torch threads for each of ``workers`` processes sharing ``cpus``."""
    return max(1, cpus // max(1, workers))


def share_cpus() -> None:
    """In a pytest-xdist worker, give torch its share of the usable CPUs, before torch starts its
    thread pool (the processes tests start inherit it); left alone where OMP_NUM_THREADS is set."""
    global shared_threads
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if count is None or "OMP_NUM_THREADS" in os.environ:
        return
    shared_threads = worker_threads(int(count), usable_cpus())
    os.environ["OMP_NUM_THREADS"] = str(shared_threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(shared_threads)
