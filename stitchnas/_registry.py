"""One registry style for every plug-in kind (rules, adapters, predictors, samplers).

A :class:`Registry` is a name -> factory table, filled by the ``register`` decorator or by an
entry-point group, listed with shell patterns (``names('deit*')``), and answering an unknown name
with the close matches, as timm's model registry does.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable, Iterator

from ._util import did_you_mean
from .errors import PluginError

__all__ = ["Registry", "PREDICTOR_ENTRY_POINTS"]

#: the entry-point group of predictor plug-ins (``stitchnas.predict.ENTRY_POINT_GROUP``), here so
#: that listing them (``stitchnas predictors``) needs no scikit-learn
PREDICTOR_ENTRY_POINTS = "stitchnas.predictors"


class Registry:
    """A name -> factory table for one kind of plug-in.

    ``kind`` names the plug-in in messages ("predictor"); ``entry_point_group`` (optional) is the
    group whose entry points add names on first lookup, so installed packages plug in unchanged."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._table: dict[str, Callable[..., Any]] = {}

    def register(self, name: str | Callable[..., Any] | None = None,
                 factory: Callable[..., Any] | None = None) -> Any:
        """Register ``factory`` under ``name``; usable as ``@reg.register``, ``@reg.register("x")``
        or ``reg.register("x", f)``. The name defaults to the factory's ``name`` attribute or
        ``__name__``. A later registration of a name replaces the earlier one."""
        if callable(name) and factory is None:
            return self.register(None, name)

        def deco(f: Callable[..., Any]) -> Callable[..., Any]:
            key = name if isinstance(name, str) else getattr(f, "name", None) or f.__name__
            if not isinstance(key, str) or not key:
                raise PluginError(f"a {self.kind} needs a non-empty name, got {key!r}")
            if not callable(f):
                raise PluginError(f"{self.kind} {key!r}: register a class or a function that returns "
                                  f"a fresh one, not {type(f).__name__}")
            self._table.pop(key, None)
            self._table[key] = f
            return f

        return deco(factory) if factory is not None else deco

    def entry_points(self) -> dict[str, Any]:
        """The installed entry points of this kind (name -> entry point), none if no group."""
        if not self.entry_point_group:
            return {}
        from importlib.metadata import entry_points

        try:
            return {ep.name: ep for ep in entry_points(group=self.entry_point_group)}
        except Exception:  # noqa: BLE001 - a broken installed distribution must not break listing
            return {}

    def names(self, pattern: str = "*") -> list[str]:
        """Registered and entry-point names matching a shell-style pattern, sorted."""
        names = set(self._table) | set(self.entry_points())
        return sorted(n for n in names if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._table or name in self.entry_points()

    def __iter__(self) -> Iterator[str]:
        """Registered names, most recently registered first."""
        return iter(reversed(list(self._table)))

    def values(self) -> list[Callable[..., Any]]:
        """Registered factories, most recently registered first."""
        return [self._table[n] for n in self]

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered (or installed as an entry point) under ``name``."""
        if name in self._table:
            return self._table[name]
        eps = self.entry_points()
        if name in eps:
            try:
                return eps[name].load()
            except Exception as err:
                raise PluginError(f"{self.kind} {name!r} (entry point {eps[name].value}) failed to "
                                  f"load: {err}; fix or uninstall the package that provides it") from err
        raise PluginError(self.unknown(name))

    def unknown(self, name: Any) -> str:
        """The one-line message for an unknown name: close matches, then every known name."""
        hint = did_you_mean(name, self.names())
        return f"unknown {self.kind} {name!r}{hint or '.'} Known: {', '.join(self.names())}"
