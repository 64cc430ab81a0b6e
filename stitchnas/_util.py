"""Small helpers every room uses: lazy re-exports, "did you mean", ``module:Class`` imports, a
package's version without importing it, a pause of the garbage collector, a Ctrl-C watch."""

from __future__ import annotations

import difflib
import gc
import importlib
import importlib.util
import pkgutil
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

__all__ = ["gc_paused", "lazy_exports", "close_matches", "did_you_mean", "did_you_mean_key",
           "import_object", "package_version", "counted", "sigint_watch"]


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """``__getattr__`` and ``__dir__`` for a package that re-exports names from its private modules.

    ``exports`` maps a public name to the private module (``"_space"``) that defines it; the module
    is imported when the name is first used, so importing a package costs nothing (PEP 562). A
    public submodule is imported the same way on first use (``stitchnas.paths.results_root`` after
    only ``import stitchnas``); an unknown name is an error naming the close ones."""

    def submodules() -> list[str]:
        spec = importlib.util.find_spec(package)
        paths = spec.submodule_search_locations if spec is not None else None
        return sorted(m.name for m in pkgutil.iter_modules(paths or []) if not m.name.startswith("_"))

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is not None:
            return getattr(importlib.import_module(f"{package}.{module}"), name)
        if name.startswith("_"):
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        public = submodules()
        if name in public:
            return importlib.import_module(f"{package}.{name}")
        hint = did_you_mean(name, [*exports, *public])
        raise AttributeError(f"module {package!r} has no attribute {name!r}{hint}")

    def __dir__() -> list[str]:
        return sorted({*exports, *submodules()})

    return __getattr__, __dir__


def short_repr(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters with ``...``: a bad value named in a one-line
    error stays one short line however large the value is."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def counted(n: int, noun: str) -> str:
    """``"1 seed"``, ``"5 seeds"``: a count with its noun, singular for one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def close_matches(word: Any, choices: Iterable[str], n: int = 3) -> list[str]:
    """The known names closest to ``word``, best first (one cutoff for the whole package)."""
    return difflib.get_close_matches(str(word), [str(c) for c in choices], n=n, cutoff=0.5)


def did_you_mean(word: Any, choices: Iterable[str], n: int = 3) -> str:
    """``"; did you mean a, b?"`` for the close matches of ``word``, or ``""`` if none is close."""
    close = close_matches(word, choices, n)
    return f"; did you mean {', '.join(close)}?" if close else ""


def did_you_mean_key(unknown: Iterable[Any], known: Iterable[str]) -> str:
    """``" (did you mean 'anchors'?)"`` for the first unknown file key close to a known one."""
    for key in unknown:
        close = close_matches(key, sorted(known), n=1)
        if close:
            return f" (did you mean {close[0]!r}?)"
    return ""


def import_object(spec: str, what: str = "object") -> Any:
    """Import ``package.module:Name`` (or ``package.module.Name``); errors name the spec and the fix."""
    from .errors import PluginError

    module, sep, attr = spec.partition(":")
    if not sep:
        module, _, attr = spec.rpartition(".")
    if not module or not attr:
        raise PluginError(f"{what} path {spec!r} must look like package.module:Name")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as err:
        raise PluginError(f"cannot import {module!r} for {what} {spec!r}: {err}; is it installed "
                          "or on PYTHONPATH?") from err
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise PluginError(f"module {module!r} has no {attr!r} ({what} {spec!r})") from None
    return obj


def package_version(dist: str) -> str:
    """``dist``'s version without importing it (caches are keyed by it, and importing torch or
    timm only to ask costs seconds of start-up): its ``version.py``, else the ``__version__`` line
    of its ``__init__.py``, else its metadata; ``"none"`` when none says."""
    import importlib.util
    import re
    from pathlib import Path

    try:
        spec = importlib.util.find_spec(dist)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        for name in ("version.py", "__init__.py"):
            try:
                text = (Path(spec.origin).parent / name).read_text()
            except (OSError, ValueError):
                continue
            match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
            if match:
                return match.group(1)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "none"


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: building 10^5 small immutable objects (a large space's
    routes) otherwise triggers a collection every few hundred, a third of the time spent."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def sigint_watch() -> Iterator[list[bool]]:
    """Yields ``[seen]``, set once Ctrl-C arrives inside the block (which still raises
    ``KeyboardInterrupt``). Some C code turns the interrupt it receives into another error (numpy's
    comparison of structured arrays, inside Optuna's samplers, reports a ``TypeError``): a caller
    checks the flag before reporting such an error as a failure. Only in the main thread and where
    Python's own handler is installed; elsewhere the flag stays False."""
    import signal
    import threading

    seen = [False]
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield seen
        return

    def handler(signum, frame):
        seen[0] = True
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
