"""Objectives and budgets, defined once: names, directions, units, axis labels, budget -> objective.

An objective is a column of a front (``acc1``, ``flops``, ...). A budget is a target's or a
query's limit on one objective (``max_flops``, ``min_acc1``). Adding an objective (energy, say)
means adding one :class:`Objective` here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Objective", "OBJECTIVES", "OBJECTIVES_BY_NAME", "BUDGETS", "BUDGET_KEYS", "LIMIT_KEYS",
    "objective_of", "is_upper_limit", "limit_help", "format_value", "budget_unit", "format_amount",
    "format_budgets",
]


@dataclass(frozen=True)
class Objective:
    """One objective: its name in fronts, direction, unit, plot label, and its budget's key."""

    name: str
    direction: str  # "maximize" or "minimize"
    unit: str
    axis: str
    tightest: str  # how a query names the best value any member reaches
    budget: str  # the limit's key: max_<name> for costs, min_<name> for accuracy
    limit_help: str  # the help of the limit's command-line flag (argparse: %% for %)


_ALL = (
    Objective("acc1", "maximize", "%", "top-1 (%)", "the most accurate member reaches", "min_acc1",
              "least top-1 accuracy (%%); alone, the answer is the cheapest member reaching it"),
    Objective("flops", "minimize", "flops", "FLOPs", "the cheapest member needs", "max_flops",
              "FLOPs limit, e.g. 1.5e9 or 1.5G"),
    Objective("params", "minimize", "params", "parameters", "the smallest member has", "max_params",
              "parameter limit, e.g. 5e6 or 5M"),
    Objective("latency_ms", "minimize", "ms", "latency (ms)", "the fastest member takes",
              "max_latency_ms", "latency limit on the target (ms)"),
    Objective("memory_mb", "minimize", "MB", "memory (MB)", "the leanest member needs",
              "max_memory_mb", "memory limit on the target (MB)"),
)

#: Every objective by name.
OBJECTIVES_BY_NAME: dict[str, Objective] = {o.name: o for o in _ALL}
#: Every objective a front can hold, and its direction (the order fronts and files use).
OBJECTIVES: dict[str, str] = {o.name: o.direction for o in _ALL}
#: A target's budgets (cost limits the search keeps to), in the order files write them.
BUDGET_KEYS: tuple[str, ...] = ("max_latency_ms", "max_memory_mb", "max_flops", "max_params")
#: budget key -> the objective it limits, for target budgets.
BUDGETS: dict[str, str] = {o.budget: o.name for o in _ALL if o.budget in BUDGET_KEYS}
#: Every limit a query takes: the budgets plus ``min_acc1``.
LIMIT_KEYS: tuple[str, ...] = ("max_latency_ms", "max_flops", "max_params", "max_memory_mb", "min_acc1")


def objective_of(limit: str) -> str:
    """The objective a budget or query limit constrains: ``max_flops`` -> ``flops``."""
    for o in _ALL:
        if o.budget == limit:
            return o.name
    raise KeyError(limit)


def is_upper_limit(limit: str) -> bool:
    """True for ``max_*`` limits (value must be <= limit), False for ``min_*``."""
    return limit.startswith("max_")


def limit_help(limit: str) -> str:
    """The help text of a limit's command-line flag (``--max-flops``)."""
    return OBJECTIVES_BY_NAME[objective_of(limit)].limit_help


def budget_unit(limit: str) -> str:
    """The unit of a budget key: ``max_latency_ms`` -> ``ms``."""
    return OBJECTIVES_BY_NAME[objective_of(limit)].unit


def format_value(objective: str, value: float) -> str:
    """A value with its unit, as queries and errors print it: ``78.84%``, ``4,600,000 flops``."""
    if objective == "acc1":
        return f"{value:.2f}%"
    if objective in ("flops", "params"):
        return f"{int(value):,} {objective}"
    return f"{value:.4g} {OBJECTIVES_BY_NAME[objective].unit}"


_PREFIX = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def format_amount(objective: str, value: float) -> str:
    """A cost for people: ``5 MFLOPs``, ``25 M params``, ``1.25 ms``, ``64 MB``."""
    if objective not in ("flops", "params"):
        return f"{value:.4g} {OBJECTIVES_BY_NAME[objective].unit}"
    scale, prefix = next(((sc, pre) for sc, pre in _PREFIX if abs(value) >= sc), (1, ""))
    number = f"{value / scale:.3g}"
    return f"{number} {prefix}FLOPs" if objective == "flops" else f"{number} {prefix} params".replace("  ", " ")


def format_budgets(budgets: dict) -> str:
    """Budgets for people: ``flops <= 5 MFLOPs, latency_ms <= 2 ms`` (``no budgets`` if none)."""
    parts = [f"{objective_of(k)} <= {format_amount(objective_of(k), v)}"
             for k, v in budgets.items() if v is not None]
    return ", ".join(parts) or "no budgets"
