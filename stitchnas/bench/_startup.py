"""``stitchnas bench startup``: how long the light commands take from the shell, and whether
they import torch (they must not: building the parser and querying a front are torch-free)."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import StitchnasError

__all__ = ["bench_startup", "STARTUP_COMMANDS", "imports_of"]

#: What is timed: a label and the arguments after ``stitchnas`` (SPACE and TARGET filled in).
STARTUP_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("--help", ("--help",)),
    ("--version", ("--version",)),
    ("query --list", ("query", "{space}", "--target", "{target}", "--list")),
    ("query", ("query", "{space}", "--target", "{target}")),
    ("predictors", ("predictors",)),
    ("spaces", ("spaces",)),
    ("targets", ("targets",)),
)

#: Modules the light commands must not import.
HEAVY = ("torch", "timm", "fvcore", "optuna", "sklearn")


def _argv(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "stitchnas", *args]


def imports_of(args: Sequence[str], env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages ``stitchnas ARGS`` imports (``python -X importtime``)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "stitchnas", *args],
                          capture_output=True, text=True, env=env)
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def bench_startup(space: str = "fmnist_vit_2way", target: str = "cpu", repeats: int = 7,
                  out_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Wall and CPU time of each of :data:`STARTUP_COMMANDS` as a fresh process (median and min
    of ``repeats`` runs after one untimed warm-up), the bare interpreter's for reference, and
    which heavy packages each imports. ``space``/``target``: a saved front to query. Writes
    ``startup.json`` into ``out_dir``."""
    from ..fronts import front_path

    if not front_path(space, target).is_file():
        raise StitchnasError(f"no front at {front_path(space, target)} to time `stitchnas query` on: "
                             f"pass --space/--target of a saved front (or make one with "
                             f"`stitchnas search SPACE --target TARGET`)")
    from ..paths import results_dir

    env = dict(os.environ, STITCHNAS_RESULTS=str(results_dir().resolve()))  # --results reaches them

    def cpu() -> float:
        use = resource.getrusage(resource.RUSAGE_CHILDREN)
        return use.ru_utime + use.ru_stime

    def timed(argv: list[str]) -> tuple[list[float], list[float]]:
        subprocess.run(argv, capture_output=True, env=env)  # warm-up: file cache, structure cache
        times, cpus = [], []
        for _ in range(repeats):
            c0, t0 = cpu(), time.perf_counter()
            done = subprocess.run(argv, capture_output=True, env=env)
            times.append(time.perf_counter() - t0)
            cpus.append(cpu() - c0)
            if done.returncode != 0:
                raise StitchnasError(f"`{' '.join(argv[2:])}` failed (exit {done.returncode}): "
                                     f"{done.stderr.decode(errors='replace').strip()[-300:]}")
        return times, cpus

    def summary(measured: tuple[list[float], list[float]]) -> dict[str, Any]:
        times, cpus = measured
        return {"median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
                "cpu_median_s": round(statistics.median(cpus), 4),
                "runs_s": [round(t, 4) for t in times]}

    rows = []
    python = summary(timed([sys.executable, "-c", "pass"]))
    for label, template in STARTUP_COMMANDS:
        args = [a.format(space=space, target=target) for a in template]
        row = {"command": f"stitchnas {label}", "argv": ["stitchnas", *args], **summary(timed(_argv(args)))}
        row["heavy_imports"] = sorted(imports_of(args, env) & set(HEAVY))
        rows.append(row)
    from ..costs import cores_said, cpu_name

    report = {
        "repeats": repeats, "space": space, "target": target,
        "python": {"command": "python -c pass", **python},
        "rows": rows, "cpu": cpu_name(), "cpu_count": os.cpu_count(), "cores": cores_said(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python_version": sys.version.split()[0],
        "note": "wall time of a fresh process, median of repeats after one warm-up, and its CPU "
                "time (user + system; what a busy machine does not stretch); the machine's load "
                "average at the end is recorded",
    }
    if out_dir is not None:
        from ..fileio import write_json

        write_json(Path(out_dir) / "startup.json", report)
    return report
