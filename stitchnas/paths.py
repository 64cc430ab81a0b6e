"""Every path stitchnas reads or writes by default, defined once.

Results live under one root (the root of :func:`results_root` while one is in force, as
``stitchnas run --out DIR`` does, else ``$STITCHNAS_RESULTS`` or ``./results``), one folder per
space::

    <root>/<space>/stitched.pt          trained stitching layers (the switchable network)
    <root>/<space>/measurements.jsonl   measured top-1 per stitch
    <root>/<space>/proxies.jsonl        every stitch's proxy score (``stitchnas proxy``)
    <root>/<space>/search.db            the default Optuna storage
    <root>/<space>/<target>/front.json  a saved Pareto front (+ front.csv, front.png)
    <root>/<space>/run/                 the last ``stitchnas run``: its measurements, proxy
                                        scores, predictions (+ .png) and report
    <root>/<space>/export/              exported stitches
    <root>/latency/                     latency tables
    <root>/anchors/                     anchors trained by stitchnas (``${results}`` in space files)

Pretrained anchors that ship with stitchnas (``${pretrained}`` in space files) live in the
package's ``pretrained/`` folder, or in ``$STITCHNAS_PRETRAINED`` (to retrain them elsewhere).

Caches (profiles, decoded data sets) live under ``$STITCHNAS_CACHE`` or ``~/.cache/stitchnas``.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterator

__all__ = [
    "CHECKPOINT", "MEASUREMENTS", "PROXIES", "PREDICTIONS", "STORAGE", "FRONT", "REPORT",
    "results_dir", "cache_dir", "space_dir", "checkpoint_path", "measurements_path", "proxies_path",
    "run_dir", "nearest_existing",
    "storage_path", "front_path", "export_dir", "latency_dir", "results_root", "results_root_chosen",
    "command_root", "results_flag",
    "pretrained_dir",
    "NAME_RULE", "check_name", "inside", "names_a_file",
]

#: The one rule for a name from a user file that becomes part of a path (space, target, anchor):
#: letters, digits, '_', '-', '.', '+', starting with a letter or digit, at most 100 characters.
NAME_RULE = "letters, digits, '_', '-', '.', '+' (starting with a letter or digit, at most 100)"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")


def check_name(name: object, what: str) -> str:
    """``name`` if it obeys :data:`NAME_RULE` (so it stays one folder or file name under the
    results root: no ``/``, no ``..``, not absolute); else a one-line error naming ``what``."""
    if isinstance(name, str) and _NAME_RE.fullmatch(name):
        return name
    from .errors import StitchnasError

    raise StitchnasError(f"{what} must be a name of {NAME_RULE} (it names result folders and "
                         f"files), got {name!r}")


def names_a_file(text: str, bundled: Path) -> bool:
    """Whether a name-or-path argument (``--target``, a space) names a file, not the bundled entry
    ``bundled`` of that name: it ends in ``.yaml``/``.yml``, holds a folder separator, or something
    exists at ``text`` that is not a folder standing in the bundled entry's way. A folder is never
    a YAML file, and one named like a bundled space or target (a results folder, the current
    folder inside one) must not hide it; a folder of another name is still read, so its error
    says what it is."""
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or os.sep in text:
        return True
    return path.exists() and not (path.is_dir() and bundled.is_file())


def inside(base: Path, *parts: str) -> Path:
    """``base / parts``, which must stay under ``base`` once resolved (a second line of defence
    behind :func:`check_name`: no name of a user file writes outside the results folder)."""
    path = base.joinpath(*parts)
    root = base.resolve()
    if path.resolve() != root and root not in path.resolve().parents:
        from .errors import StitchnasError

        raise StitchnasError(f"{'/'.join(parts)!r} would lead outside {base}: names in space and "
                             f"target files must be {NAME_RULE}")
    return path

_ROOT: list[Path] = []  # the roots of the results_root scopes in force, innermost last

CHECKPOINT = "stitched.pt"
MEASUREMENTS = "measurements.jsonl"
PROXIES = "proxies.jsonl"
PREDICTIONS = "predictions.jsonl"
STORAGE = "search.db"
FRONT = "front.json"
REPORT = "report.md"


def results_dir(root: str | os.PathLike | None = None) -> Path:
    """Where results go: ``root`` if given, else the innermost :func:`results_root` in force,
    else :func:`default_results_dir`."""
    if root is not None:
        return Path(root)
    if _ROOT:
        return _ROOT[-1]
    return default_results_dir()


def command_root() -> Path | None:
    """The results root chosen for this command (``--results DIR``, ``run --out DIR``), None
    where none was: a command a message suggests must name it again to write there."""
    return _ROOT[-1] if _ROOT else None


def results_flag(root: str | os.PathLike | None = None) -> str:
    """`` --results DIR`` for ``root``, or else for the root this command was given, so that a
    command a message suggests reads and writes where this one does; nothing where neither is."""
    import shlex

    root = root if root is not None else command_root()
    return "" if root is None else f" --results {shlex.quote(os.fspath(root))}"


def results_root_chosen() -> bool:
    """Whether the user chose the results root (``--results``/``--out``, ``$STITCHNAS_RESULTS``)
    rather than the working folder's ``results``: messages then do not suggest choosing one."""
    return command_root() is not None or bool(os.environ.get("STITCHNAS_RESULTS"))


def default_results_dir() -> Path:
    """Where results go with no ``--out``: ``$STITCHNAS_RESULTS`` or ``./results``."""
    return Path(os.environ.get("STITCHNAS_RESULTS") or "results")


def pretrained_dir() -> Path:
    """``${pretrained}`` in space files: ``$STITCHNAS_PRETRAINED``, else the anchors that ship in
    the package (``stitchnas/pretrained/``), as timm's hub delivers a family's weights."""
    return Path(os.environ.get("STITCHNAS_PRETRAINED") or Path(__file__).resolve().parent / "pretrained")


@contextlib.contextmanager
def results_root(root: str | os.PathLike | None, what: str = "results folder") -> Iterator[Path]:
    """Within the block every default result path, ``${results}`` in space files included, lies
    under ``root`` (``None``: no change), so one run's ``--out`` redirects all it writes. A
    ``root`` that is a file is one line before anything runs (``what``: how the user gave it)."""
    if root is None:
        yield results_dir()
        return
    if os.path.exists(root) and not os.path.isdir(root):
        from .errors import StitchnasError

        raise StitchnasError(f"{what} {os.fspath(root)} is a file, not a folder: give the folder that "
                             "results go under (it is made when missing)")
    _ROOT.append(Path(root))
    try:
        yield _ROOT[-1]
    finally:
        _ROOT.pop()


def nearest_existing(path: Path) -> Path:
    """``path`` itself if it exists (a broken link counts), else its nearest existing parent: the
    folder a probe for a file or folder not made yet is made in."""
    p = path
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def cache_dir() -> Path:
    """Where caches go (structures, profiles, memory, a downloaded data set): ``$STITCHNAS_CACHE``,
    else ``$XDG_CACHE_HOME/stitchnas`` (an absolute one; the XDG rule), else
    ``~/.cache/stitchnas``; one line, before any work, when that cannot be a folder
    (``$STITCHNAS_CACHE`` names a file; ``$HOME`` is unset, empty or relative, which would put
    the cache in the working folder)."""
    from .errors import StitchnasError

    env = os.environ.get("STITCHNAS_CACHE")
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if env:
        path = Path(env).expanduser()
        what = f"STITCHNAS_CACHE={env!r}"
    elif os.path.isabs(xdg):
        path = Path(xdg) / "stitchnas"
        what = f"the cache folder {path} (XDG_CACHE_HOME)"
    else:
        home = os.environ.get("HOME")
        if home is not None and not os.path.isabs(home):
            raise StitchnasError(f"HOME={home!r} is not an absolute folder, so there is no cache "
                                 "folder (~/.cache/stitchnas): set HOME, or STITCHNAS_CACHE to a "
                                 "writable folder")
        try:
            path = Path.home() / ".cache" / "stitchnas"
        except (RuntimeError, KeyError):  # no HOME and no user entry
            raise StitchnasError("HOME is not set, so there is no cache folder (~/.cache/stitchnas): "
                                 "set HOME, or STITCHNAS_CACHE to a writable folder") from None
        what = f"the cache folder {path}"
    probe = nearest_existing(path)
    if not probe.is_dir():
        raise StitchnasError(f"{what} cannot be a folder: {probe} is a file; set STITCHNAS_CACHE to "
                             "a writable folder (or move the file away)")
    return path


def space_dir(space: str, root: str | os.PathLike | None = None) -> Path:
    """The folder of one space's results."""
    return inside(results_dir(root), check_name(space, "space name"))


def checkpoint_path(space: str, root: str | os.PathLike | None = None) -> Path:
    return space_dir(space, root) / CHECKPOINT


def measurements_path(space: str, root: str | os.PathLike | None = None) -> Path:
    return space_dir(space, root) / MEASUREMENTS


def proxies_path(space: str, root: str | os.PathLike | None = None) -> Path:
    return space_dir(space, root) / PROXIES


def run_dir(space: str, root: str | os.PathLike | None = None) -> Path:
    """Where ``stitchnas run`` keeps its measurements, proxy scores and report."""
    return space_dir(space, root) / "run"


def storage_path(space: str, root: str | os.PathLike | None = None) -> Path:
    return space_dir(space, root) / STORAGE


def front_path(space: str, target: str, root: str | os.PathLike | None = None) -> Path:
    return inside(space_dir(space, root), check_name(target, "target name")) / FRONT


def export_dir(space: str, root: str | os.PathLike | None = None) -> Path:
    return space_dir(space, root) / "export"


def latency_dir(root: str | os.PathLike | None = None) -> Path:
    return results_dir(root) / "latency"
