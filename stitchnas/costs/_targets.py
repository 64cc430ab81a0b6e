"""Hardware targets: the device a search is for, how its cost is counted, and its budgets.

A target file (YAML) names the device (``cpu``, ``cuda:0``, ...), the threads, batch size, dtype
and input size to time at, and optional budgets::

    name: cpu
    device: cpu
    cost_model: latency          # latency (timed on the device), flops or params (fvcore counts)
    threads: 2
    batch_size: 1
    dtype: float32               # float32, float16 or bfloat16
    input_size: null             # [C, H, W] to override the space's input size
    budgets: {max_latency_ms: 50, max_memory_mb: 500, max_flops: 5.0e+9, max_params: 30e6}

Targets whose cost model is ``flops`` or ``params`` are for devices the user cannot measure:
they need no device (``device: null``) and cost nothing to profile. Bundled targets live in
``search_spaces/targets/`` and are found by name (:func:`list_targets`). This module does not
import torch.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._util import close_matches, did_you_mean, did_you_mean_key
from ..errors import StitchnasError
from ..objectives import BUDGET_KEYS, budget_unit, format_amount, objective_of
from ..paths import check_name, names_a_file

__all__ = [
    "COST_MODELS",
    "DEFAULT_TARGET",
    "DTYPES",
    "MB",
    "Budgets",
    "Target",
    "bundled_targets_dir",
    "list_targets",
    "load_target",
    "target_name",
]

COST_MODELS = ("latency", "flops", "params")
DTYPES = ("float32", "float16", "bfloat16")
#: what ``search`` optimises when no target is named: counted FLOPs need no device or table
DEFAULT_TARGET = "flops"
MB = 2 ** 20  #: bytes per MB in memory figures and budgets (MiB, as torch's memory reports)
_DEVICE_RE = re.compile(r"^(cpu|cuda|mps|xpu)(:\d+)?$")
_TOP_KEYS = ("name", "description", "device", "cost_model", "threads", "batch_size", "dtype",
             "input_size", "budgets")


def _counts(budget: str) -> bool:
    """Whether a budget limits a count (flops, params: whole numbers) rather than a measure."""
    return objective_of(budget) in ("flops", "params")


def _fmt(value: float) -> str:
    return str(value) if isinstance(value, int) and abs(value) < 1e6 else f"{value:.4g}"


@dataclass(frozen=True)
class Budgets:
    """Upper bounds a candidate must meet on a target; ``None`` means no bound.

    Latency in milliseconds (per forward at the target's batch size), peak memory in MB
    (2**20 bytes: parameters plus live activations), FLOPs as fvcore counts them (one
    multiply-add = 1, batch 1), parameters as a count.
    """

    max_latency_ms: float | None = None
    max_memory_mb: float | None = None
    max_flops: int | None = None
    max_params: int | None = None

    def __post_init__(self) -> None:
        for key in BUDGET_KEYS:
            value = _number(getattr(self, key), "budgets", key, integer=_counts(key))
            object.__setattr__(self, key, value)

    @property
    def active(self) -> dict[str, float | int]:
        """The budgets that are set, by name."""
        return {k: v for k, v in self.to_json().items() if v is not None}

    def violations(self, *, latency_ms: float | None = None, memory_mb: float | None = None,
                   flops: int | None = None, params: int | None = None) -> list[str]:
        """One line per budget the given costs exceed; costs not given are not checked."""
        costs = {"latency_ms": latency_ms, "memory_mb": memory_mb, "flops": flops, "params": params}
        out = []
        for key, limit in self.active.items():
            objective = objective_of(key)
            cost = costs[objective]
            if cost is not None and cost > limit:
                out.append(f"{objective.removesuffix('_ms').removesuffix('_mb')} "
                           f"{_fmt(cost)} {budget_unit(key)} > {key} {_fmt(limit)}")
        return out

    def satisfied(self, **costs: Any) -> bool:
        return not self.violations(**costs)

    def to_json(self) -> dict[str, float | int | None]:
        return {key: getattr(self, key) for key in BUDGET_KEYS}

    def describe(self) -> str:
        """``max_flops=5e+06 (5 MFLOPs)``: each budget as its file key writes it, counts also in
        units people read."""
        def readable(key: str, value: float) -> str:
            objective = objective_of(key)
            return f" ({format_amount(objective, value)})" if objective in ("flops", "params") else ""

        return ", ".join(f"{k}={_fmt(v)}{readable(k, v)}" for k, v in self.active.items()) or "no budgets"


@dataclass(frozen=True)
class Target:
    """A hardware target. ``measurable`` targets (cost model ``latency``) are timed on ``device``;
    ``flops``/``params`` targets are costed by fvcore and need no device."""

    name: str
    device: str | None = "cpu"
    cost_model: str = "latency"
    threads: int | None = None
    batch_size: int = 1
    dtype: str = "float32"
    input_size: tuple[int, int, int] | None = None
    budgets: Budgets = field(default_factory=Budgets)
    description: str = ""
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _validate(self.to_json(), f"target {self.name!r}")

    @property
    def measurable(self) -> bool:
        """Whether costs are timed on a device (cost model ``latency``)."""
        return self.cost_model == "latency"

    @property
    def device_type(self) -> str | None:
        return self.device.split(":")[0] if self.device else None

    def resolved_input_size(self, space_input_size: tuple[int, ...]) -> tuple[int, int, int]:
        """The input (C, H, W) to time at: the target's override, else the space's."""
        return tuple(self.input_size or space_input_size)

    def settings(self) -> dict[str, Any]:
        """What decides a latency measurement (budgets, name and description excluded)."""
        return {"device": self.device, "cost_model": self.cost_model, "threads": self.threads,
                "batch_size": self.batch_size, "dtype": self.dtype,
                "input_size": list(self.input_size) if self.input_size else None}

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, **self.settings(),
                "budgets": self.budgets.to_json()}

    @classmethod
    def from_dict(cls, doc: Any, path: Path | None = None) -> Target:
        where = f"target file {path}" if path else "target"
        if not isinstance(doc, dict):
            raise StitchnasError(f"{where} must be a YAML mapping with at least 'device' or "
                                 "'cost_model' (see search_spaces/targets/ for examples)")
        clean = _validate(doc, where, default_name=path.stem if path else None)
        budgets = Budgets(**clean.pop("budgets"))
        return cls(**clean, budgets=budgets, path=path)

    def describe(self) -> str:
        if not self.measurable:
            return f"{self.cost_model} (fvcore, no device), {self.budgets.describe()}"
        size = f", input {list(self.input_size)}" if self.input_size else ""
        threads = f", {self.threads} threads" if self.threads else ""
        return (f"latency on {self.device}{threads}, batch {self.batch_size}, {self.dtype}{size}, "
                f"{self.budgets.describe()}")


def _number(value: Any, where: str, key: str, integer: bool) -> float | int | None:
    """A positive number; YAML 1.1 reads ``1.5e9`` (no exponent sign) as a string, so numeric
    strings are accepted too."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.replace("_", ""))
        except ValueError:
            raise StitchnasError(f"{where}: budget {key} must be a number, got {value!r}; "
                                 f"write e.g. {key}: 1.5e+9") from None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2 ** 63:
        raise StitchnasError(f"{where}: budget {key} is a {len(str(abs(value)))}-digit number; "
                             f"write e.g. {key}: 1.5e+9")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StitchnasError(f"{where}: budget {key} must be a number, got {value!r}; "
                             f"write e.g. {key}: 20")
    if value <= 0:
        raise StitchnasError(f"{where}: budget {key} must be positive, got {value!r}; "
                             "remove it (or set null) for no bound")
    if integer:
        if float(value) != int(value):
            raise StitchnasError(f"{where}: budget {key} must be a whole number, got {value!r}")
        return int(value)
    return float(value)


def _validate(doc: dict[str, Any], where: str, default_name: str | None = None) -> dict[str, Any]:
    """Check a target mapping; return clean constructor arguments (budgets as a dict)."""
    unknown = sorted(set(doc) - set(_TOP_KEYS), key=str)
    if unknown:
        hints = [f"{k!r} (did you mean {close[0]!r}?)" if (close := close_matches(k, _TOP_KEYS, 1))
                 else repr(k) for k in unknown]
        raise StitchnasError(f"{where}: unknown key(s) {', '.join(hints)}; known keys are "
                             f"{', '.join(_TOP_KEYS)}")
    name = doc.get("name") or default_name
    check_name(name, f"{where}: 'name'")
    cost_model = doc.get("cost_model", "latency")
    if cost_model not in COST_MODELS:
        raise StitchnasError(f"{where}: cost_model must be one of {', '.join(COST_MODELS)}, "
                             f"got {cost_model!r}")
    device = doc.get("device", "cpu" if cost_model == "latency" else None)
    if device is not None and (not isinstance(device, str) or not _DEVICE_RE.match(device)):
        raise StitchnasError(f"{where}: device must be cpu, cuda, cuda:N, mps or xpu:N (or null "
                             f"for a flops/params target), got {device!r}")
    if cost_model == "latency" and device is None:
        raise StitchnasError(f"{where}: a latency target needs a device to time on; set device "
                             "(e.g. cpu or cuda:0), or use cost_model: flops for a device you "
                             "cannot measure")

    def positive_int(key: str, default: Any) -> Any:
        value = doc.get(key, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2 ** 31:
            raise StitchnasError(f"{where}: {key} must be a positive integer, got {value!r}")
        return value

    threads = positive_int("threads", None)
    batch_size = positive_int("batch_size", 1)
    dtype = doc.get("dtype", "float32")
    if dtype not in DTYPES:
        raise StitchnasError(f"{where}: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    input_size = doc.get("input_size")
    if input_size is not None:
        if (not isinstance(input_size, (list, tuple)) or len(input_size) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2 ** 31
                           for v in input_size)):
            raise StitchnasError(f"{where}: input_size must be [channels, height, width] or null, "
                                 f"got {input_size!r}")
        input_size = tuple(input_size)
    budgets_doc = doc.get("budgets") or {}
    if not isinstance(budgets_doc, dict):
        raise StitchnasError(f"{where}: budgets must be a mapping, e.g. "
                             "{max_latency_ms: 20, max_flops: 1.5e+9}")
    bad = sorted(set(budgets_doc) - set(BUDGET_KEYS), key=str)
    if bad:
        raise StitchnasError(f"{where}: unknown budget(s) {bad}{did_you_mean_key(bad, BUDGET_KEYS)}; "
                             f"known budgets are {', '.join(BUDGET_KEYS)}")
    budgets = {k: _number(budgets_doc.get(k), where, k, integer=_counts(k))
               for k in BUDGET_KEYS}
    if budgets["max_latency_ms"] is not None and cost_model != "latency":
        raise StitchnasError(f"{where}: max_latency_ms needs latency measured on a device; set "
                             "cost_model: latency and a device, or drop the latency budget")
    description = doc.get("description") or ""
    if not isinstance(description, str):
        raise StitchnasError(f"{where}: description must be text")
    return {"name": name, "description": description.strip(), "device": device,
            "cost_model": cost_model, "threads": threads, "batch_size": batch_size,
            "dtype": dtype, "input_size": input_size, "budgets": budgets}


def bundled_targets_dir() -> Path:
    """The bundled ``targets`` folder (``search_spaces/targets``)."""
    from ..space import bundled_spaces_dir

    return bundled_spaces_dir() / "targets"


def list_targets(pattern: str = "*") -> list[str]:
    """Names of bundled targets matching a shell-style pattern, e.g. ``list_targets('cu*')``."""
    names = sorted(p.stem for p in bundled_targets_dir().glob("*.yaml"))
    return [n for n in names if fnmatch.fnmatch(n, pattern)]


def target_name(spec: str | os.PathLike | Target) -> str:
    """The name a front of target ``spec`` is saved under: a Target's name, the ``name`` inside a
    target YAML file (a path ending in ``.yaml``/``.yml``, with a folder, or an existing file),
    else ``spec`` itself (a bundled target, or the name of one searched from a file elsewhere)."""
    if isinstance(spec, Target):
        return spec.name
    text = str(spec)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or os.sep in text or path.is_file():
        return load_target(path).name
    return text


def load_target(name_or_path: str | os.PathLike | Target) -> Target:
    """A target from a YAML path or a bundled target's name."""
    if isinstance(name_or_path, Target):
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    if not names_a_file(text, bundled_targets_dir() / f"{text}.yaml"):
        path = bundled_targets_dir() / f"{text}.yaml"
        if not path.is_file():
            raise StitchnasError(f"unknown target {text!r}: not a file and not a bundled target "
                                 f"(bundled: {', '.join(list_targets())})"
                                 f"{did_you_mean(text, list_targets())}")
    if not os.path.exists(path):  # a folder, FIFO or device exists: read_text says what it is
        raise StitchnasError(f"target file {path} does not exist; give a YAML path or a bundled "
                             "name (stitchnas targets)")
    from ..fileio import read_yaml

    doc = read_yaml(path, "target file")
    return Target.from_dict(doc, path=path)
