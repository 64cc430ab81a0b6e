"""The typed schema of a space file's ``training:``, ``run:``, ``data:`` and ``stitching:``
sections: every value is checked for type and range when the space is loaded, so a bad value
is one line naming file, section, key, value and what is expected, before any work starts.

One table, :data:`SECTIONS`: section -> key -> :class:`Field`. The training recipes' keys match
the fields of ``measure.AnchorTrainConfig`` / ``StitchTrainConfig`` and the run keys those of
``workflows.RunConfig`` (a test keeps them in sync)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .._util import did_you_mean_key
from ..errors import StitchnasError

__all__ = ["Field", "SECTIONS", "check_sections", "check_section", "kwargs_problem", "MAX_KWARG_DEPTH",
           "MAX_KWARG_INT", "AUGMENT_OPTIONS", "augment_problem"]

_DEVICE_RE = re.compile(r"(cpu|cuda|mps|xpu)(:\d+)?")
_INT_MAX = 2 ** 31 - 1


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Field:
    """One key: its kind (``int``, ``float``, ``bool``, ``str``, ``device``, ``names``,
    ``augment``, ``recipe:<section>``), the inclusive range ``lo..hi`` (``lo_open``: ``lo`` excluded),
    the allowed strings (``choices``) and whether null is allowed."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False

    def expected(self) -> str:
        if self.kind in ("int", "float"):
            noun = "an integer" if self.kind == "int" else "a finite number"
            bounds = []
            if self.lo is not None:
                bounds.append(f"{'>' if self.lo_open else '>='} {_num(self.lo)}")
            if self.hi is not None and self.hi < _INT_MAX:
                bounds.append(f"<= {_num(self.hi)}")
            text = " ".join([noun, " and ".join(bounds)]).strip()
        elif self.kind == "bool":
            text = "true or false"
        elif self.kind == "device":
            text = "a device: cpu, cuda, cuda:N, mps or xpu:N"
        elif self.kind == "names":
            text = "a name or a list of names"
        elif self.kind == "augment":
            text = ("timm, none, or a mapping of timm's training-transform options "
                    f"({', '.join(AUGMENT_OPTIONS)})")
        elif self.kind.startswith("recipe:"):
            text = f"a mapping of training.{self.kind.split(':', 1)[1]} keys"
        elif self.choices:
            text = "one of " + ", ".join(self.choices)
        else:
            text = "a string"
        return text + (" (or null)" if self.nullable else "")

    def ok(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            if self.kind == "int" and not isinstance(value, int):
                return False
            if isinstance(value, float) and not math.isfinite(value):
                return False
            if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
                return False
            return self.hi is None or value <= self.hi
        if self.kind == "device":
            return isinstance(value, str) and _DEVICE_RE.fullmatch(value) is not None
        if self.kind == "names":
            items = [value] if isinstance(value, str) else value
            return (isinstance(items, list) and len(items) > 0
                    and all(isinstance(v, str) and v for v in items))
        if self.kind.startswith("recipe:"):
            return isinstance(value, dict)
        if self.kind == "augment":
            return value in ("timm", "none") or (isinstance(value, dict) and augment_problem(value) is None)
        return isinstance(value, str) and (not self.choices or value in self.choices)


#: what ``data: {augment: {...}}`` may pass to ``timm.data.create_transform`` for training images
AUGMENT_OPTIONS = {
    "scale": "[min, max] area share of the random-resized crop, 0 < min <= max <= 1",
    "ratio": "[min, max] aspect ratio of the crop, 0 < min <= max",
    "hflip": "probability 0..1", "vflip": "probability 0..1",
    "color_jitter": "strength >= 0 or null", "auto_augment": "a timm policy string or null",
    "re_prob": "random-erasing probability 0..1",
}


def augment_problem(value: dict) -> str | None:
    """What is wrong with a ``data: {augment: {...}}`` mapping of training-transform options,
    naming the option and what it takes (None: nothing)."""
    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def pair(v, hi: float | None) -> bool:
        return (isinstance(v, list) and len(v) == 2 and all(number(x) for x in v)
                and 0 < v[0] <= v[1] and (hi is None or v[1] <= hi))

    checks = {
        "scale": lambda v: pair(v, 1.0), "ratio": lambda v: pair(v, None),
        "hflip": lambda v: number(v) and 0 <= v <= 1, "vflip": lambda v: number(v) and 0 <= v <= 1,
        "color_jitter": lambda v: v is None or (number(v) and v >= 0),
        "auto_augment": lambda v: v is None or (isinstance(v, str) and bool(v)),
        "re_prob": lambda v: number(v) and 0 <= v <= 1,
    }
    for key, v in value.items():
        if key not in checks:
            return (f"has unknown option {key!r}{did_you_mean_key([key], checks)}; "
                    f"known options are {list(AUGMENT_OPTIONS)}")
        if not checks[key](v):
            return f"option '{key}' must be {AUGMENT_OPTIONS[key]}, got {v!r}"
    return None


_POS_INT = Field("int", 1, _INT_MAX)
_SUBSET = Field("int", 1, _INT_MAX, nullable=True)
_SEED = Field("int", 0, 2 ** 32 - 1)
_LR = Field("float", 0, 10, lo_open=True)
_NONNEG = Field("float", 0, 1e6)

_ANCHORS = {
    "epochs": _POS_INT, "batch_size": _POS_INT, "lr": _LR, "weight_decay": _NONNEG,
    "warmup_epochs": _NONNEG, "label_smoothing": Field("float", 0, 1), "seed": _SEED,
    "train_subset": _SUBSET, "val_subset": _SUBSET, "grow": Field("bool"),
}
_STITCHING = {
    "epochs": Field("int", 0, _INT_MAX), "batch_size": _POS_INT, "lr": _LR, "weight_decay": _NONNEG,
    "warmup_epochs": _NONNEG, "sampling": Field("str", choices=("uniform", "flops")),
    "flops_bins": _POS_INT, "freeze_anchors": Field("bool"), "anchor_lr": _LR,
    "anchor_share": Field("float", 0, 1, lo_open=True, nullable=True),
    "rank": Field("int", 1, _INT_MAX, nullable=True), "distill": Field("bool"),
    "distill_weight": Field("float", 0, 1), "distill_temperature": Field("float", 0, 1e3, lo_open=True),
    "calib_size": _POS_INT, "seed": _SEED, "train_subset": _SUBSET, "max_steps": _SUBSET,
}

#: section -> key -> Field. ``training`` holds the two recipes; ``run.anchors``/``run.stitching``
#: override them; ``stitching`` is the layers' shape (``rank``).
SECTIONS: dict[str, dict[str, Field]] = {
    "training.anchors": _ANCHORS,
    "training.stitching": _STITCHING,
    "run": {
        "anchors": Field("recipe:anchors"), "stitching": Field("recipe:stitching"),
        "initial": _POS_INT, "rounds": Field("int", 0, _INT_MAX), "per_round": _POS_INT,
        "proxy_images": Field("int", 0, _INT_MAX),
        "val_subset": _SUBSET, "targets": Field("names"), "trials": Field("int", 1, 10 ** 6, nullable=True),
        "sampler": Field("str"), "predictor": Field("str"), "latency_repeats": _POS_INT,
        "latency_validate": Field("int", 0, _INT_MAX), "seed": _SEED, "device": Field("device"),
    },
    "data": {"name": Field("str"), "root": Field("str", nullable=True),
             "augment": Field("augment", nullable=True), "workers": Field("int", 0, 256)},
    "stitching": {"rank": Field("int", 1, _INT_MAX, nullable=True)},
}
_GROUPS = {"training": ("anchors", "stitching")}


def check_section(section: str, doc: Any, where: str) -> dict:
    """``doc`` if it is a mapping whose keys and values :data:`SECTIONS` [section] allows;
    else a one-line error naming ``where``, the section, the key, the value and what is expected."""
    schema = SECTIONS[section]
    if not isinstance(doc, dict):
        example = next(iter(schema))
        raise StitchnasError(f"{where}: section '{section}' must be a mapping of keys "
                             f"({example}: ...), got {doc!r}")
    unknown = sorted(set(doc) - set(schema), key=str)
    if unknown:
        raise StitchnasError(f"{where}: section '{section}' has unknown key(s) {unknown}"
                             f"{did_you_mean_key(unknown, schema)}; known keys are {sorted(schema)}")
    for key, value in doc.items():
        spec = schema[key]
        if spec.kind == "augment" and isinstance(value, dict) and (problem := augment_problem(value)):
            raise StitchnasError(f"{where}: section '{section}' key '{key}' {problem}")
        if not spec.ok(value):
            raise StitchnasError(f"{where}: section '{section}' key '{key}' must be "
                                 f"{spec.expected()}, got {value!r}")
        if spec.kind.startswith("recipe:"):
            check_section("training." + spec.kind.split(":", 1)[1], value, f"{where}: run.{key}")
    return doc


def check_sections(doc: dict, where: str) -> None:
    """Check every typed section present in a space file's top-level mapping ``doc``."""
    for top in ("training", "run", "data", "stitching"):
        if doc.get(top) is None:
            continue
        if top in _GROUPS:
            value = doc[top]
            if not isinstance(value, dict):
                raise StitchnasError(f"{where}: section '{top}' must be a mapping with "
                                     f"{' and/or '.join(_GROUPS[top])}, got {value!r}")
            unknown = sorted(set(value) - set(_GROUPS[top]), key=str)
            if unknown:
                raise StitchnasError(f"{where}: section '{top}' has unknown key(s) {unknown}"
                                     f"{did_you_mean_key(unknown, _GROUPS[top])}; known keys are "
                                     f"{list(_GROUPS[top])}")
            for sub in _GROUPS[top]:
                if value.get(sub) is not None:
                    check_section(f"{top}.{sub}", value[sub], where)
        else:
            check_section(top, doc[top], where)


#: kwargs that set how many blocks a model builds, and the most per entry (timm's largest
#: models have a few dozen blocks a stage; building 10^6 blocks would take minutes and gigabytes)
_DEPTH_KWARGS = ("depth", "depths", "layers", "num_layers", "num_blocks", "blocks")
MAX_KWARG_DEPTH = 1000
#: the largest integer an anchor's kwargs may hold (widths, sizes, classes)
MAX_KWARG_INT = 10 ** 7


def kwargs_problem(kwargs: dict) -> str | None:
    """Why ``kwargs`` would build an unbounded model (None if they are within bounds)."""
    def ints(value):
        if isinstance(value, bool):
            return
        if isinstance(value, int):
            yield value
        elif isinstance(value, list):
            for v in value:
                yield from ints(v)
        elif isinstance(value, dict):
            for v in value.values():
                yield from ints(v)

    for key, value in kwargs.items():
        for v in ints(value):
            if key in _DEPTH_KWARGS and not 0 <= v <= MAX_KWARG_DEPTH:
                return f"'{key}' {v} is outside 0..{MAX_KWARG_DEPTH} blocks"
            if abs(v) > MAX_KWARG_INT:
                return f"'{key}' {v} is larger than {MAX_KWARG_INT:,} in size"
    return None
