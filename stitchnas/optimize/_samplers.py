"""Optuna samplers by name: a :class:`~stitchnas._registry.Registry` of the built-ins (``nsga2``,
``tpe``, ``gp``, ``random``, ``exhaustive``); ``module:Class`` paths and sampler instances work too.

A plug-in registers a factory with ``@SAMPLERS.register("name")``; it is called with those of
``seed``, ``n_trials`` and ``population_size`` (when given) that it takes.
"""

from __future__ import annotations

import inspect
import warnings
from typing import TYPE_CHECKING, Any, Callable

from .._registry import Registry
from .._util import close_matches, import_object
from ..errors import PluginError, StitchnasError

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["MODES", "SAMPLERS", "list_samplers", "check_sampler", "make_sampler", "sampler_label",
           "is_brute_force"]

#: Sampler factories by name (any ``module:Class`` or Optuna sampler instance works too).
SAMPLERS = Registry("sampler")


def _population(n_trials: int) -> int:
    """NSGA-II's population: at least five generations in the trial budget, at most Optuna's
    default of 50, at least 10."""
    return int(min(50, max(10, n_trials // 5)))


@SAMPLERS.register("nsga2")
def _nsga2(seed: int = 0, n_trials: int = 100, population_size: int | None = None):
    import optuna

    return optuna.samplers.NSGAIISampler(seed=seed, population_size=population_size or _population(n_trials))


@SAMPLERS.register("tpe")
def _tpe(seed: int = 0):
    import optuna

    # Optuna 5's default for several objectives: independent TPE. (Multivariate TPE settled on
    # ~25 of 83 stitches in `bench search` and found less of the front.)
    return optuna.samplers.TPESampler(seed=seed)


@SAMPLERS.register("gp")
def _gp(seed: int = 0):
    import optuna

    try:
        return optuna.samplers.GPSampler(seed=seed)
    except ImportError as err:
        raise StitchnasError(f"the GP sampler needs torch and scipy: {err}") from err


@SAMPLERS.register("random")
def _random(seed: int = 0):
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


@SAMPLERS.register("exhaustive")
def _exhaustive(seed: int = 0):
    """Optuna's BruteForceSampler, for a study of your own. ``stitchnas search --sampler
    exhaustive`` does not sample at all: it queues every candidate once, in an order shuffled by
    the seed (``Study.enqueue_trial``), so failed or half-sampled trials of killed workers, which
    Optuna 5's brute force counts as visited or trips over, cost nothing (see ``_loop``)."""
    import optuna

    return optuna.samplers.BruteForceSampler(seed=seed)


def list_samplers(pattern: str = "*") -> list[str]:
    """Registered sampler names matching a shell-style pattern, sorted."""
    return SAMPLERS.names(pattern)


#: Search modes that are no Optuna sampler of their own: ``exact`` evaluates every candidate
#: (see :mod:`._exact`); ``auto`` (the default) is ``exact`` where that is cheap, else ``nsga2``.
MODES = ("auto", "exact")


def _choices() -> list[str]:
    return [*MODES, *reversed(list(SAMPLERS))]  # the modes, then the built-ins in registration order


def check_sampler(spec: str) -> str:
    """``spec`` if it names a search mode (``auto``, ``exact``), a registered sampler or a
    ``module:Class``; else a one-line error with the closest name."""
    if spec in MODES or spec in SAMPLERS or ":" in spec:
        return spec
    close = close_matches(spec, _choices(), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise PluginError(f"unknown sampler {spec!r}{hint}: choose {', '.join(_choices())}, or give "
                      "an Optuna sampler class as module:Class (e.g. optuna.samplers:QMCSampler)")


def _parameters(factory: Callable[..., Any]) -> tuple[set[str], bool]:
    """The keyword names ``factory`` takes, and whether it takes any (``**kwargs``)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return set(), False
    return ({p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)},
            any(p.kind == p.VAR_KEYWORD for p in params))


def make_sampler(spec: Any = "nsga2", seed: int = 0, n_trials: int = 100,
                 population_size: int | None = None) -> "optuna.samplers.BaseSampler":
    """An Optuna sampler from a registered name (``nsga2``, ``tpe``, ``gp``, ``random``,
    ``exhaustive``), a ``module:Class`` path (given ``seed=`` if it takes one), or an instance
    (returned as is)."""
    import optuna

    if isinstance(spec, optuna.samplers.BaseSampler):
        return spec
    if not isinstance(spec, str):
        raise StitchnasError(f"a sampler must be a name or an Optuna sampler, not {type(spec).__name__}")
    name = check_sampler(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name in SAMPLERS:
            factory = SAMPLERS.get(name)
            given = {"seed": seed, "n_trials": n_trials, "population_size": population_size}
            takes, any_kw = _parameters(factory)
            kwargs = {k: v for k, v in given.items() if v is not None and (any_kw or k in takes)}
            return factory(**kwargs)
        obj = import_object(name, "sampler")
        if not (isinstance(obj, type) and issubclass(obj, optuna.samplers.BaseSampler)):
            raise PluginError(f"{name!r} is not an Optuna sampler class (a subclass of "
                              "optuna.samplers.BaseSampler)")
        try:
            return obj(seed=seed) if "seed" in _parameters(obj)[0] else obj()
        except Exception as err:  # noqa: BLE001 - a user's class
            raise PluginError(f"cannot create sampler {name!r}: {type(err).__name__}: {err}") from err


def is_brute_force(spec: Any) -> bool:
    """Whether ``spec`` is Optuna's BruteForceSampler (an instance, or a ``module:Class`` naming it
    or a subclass): it needs finite choices, so it searches in the tree encoding as ``exhaustive``
    does."""
    import optuna

    if isinstance(spec, optuna.samplers.BruteForceSampler):
        return True
    if not (isinstance(spec, str) and ":" in spec):
        return False
    obj = import_object(spec, "sampler")
    return isinstance(obj, type) and issubclass(obj, optuna.samplers.BruteForceSampler)


def sampler_label(spec: Any) -> str:
    """How fronts and study names call a sampler: its name, a class's name, an instance's type."""
    if isinstance(spec, str):
        return spec.rsplit(":", 1)[-1].rsplit(".", 1)[-1] if ":" in spec else spec
    return type(spec).__name__

