"""A front's files: ``results/<space>/<target>/front.json``, ``front.csv`` beside it (one row per
member) and ``front.png`` (every candidate the search saw, the front, anchors marked). All three
are written atomically, ``front.json`` last. This module does not import torch.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import paths
from ..errors import StitchnasError
from ..fileio import atomic_write, write_text
from ._front import Front, FrontPoint, _remake_hint
from ._plot import render_front_png
from ._results_paths import paths_for_file, paths_from_file

if TYPE_CHECKING:  # pragma: no cover
    from ..space import SearchSpace

__all__ = ["CSV_FIELDS", "anchor_names", "check_front", "front_csv", "front_path", "load_front",
           "save_front"]


def front_path(space: str, target: str, results: str | os.PathLike | None = None) -> Path:
    """``results/<space>/<target>/front.json`` (:func:`stitchnas.paths.front_path`; ``results``
    defaults to :func:`stitchnas.paths.results_dir`), both names checked by
    :func:`stitchnas.paths.check_name`."""
    return paths.front_path(space, target, results)


CSV_FIELDS = ("id", "route", "acc1", "acc1_source", "acc1_std", "flops", "params", "latency_ms",
              "memory_mb", "is_anchor")


def front_csv(front: Front) -> str:
    """The members as CSV, one row each, the route in string form (``0[0:4]>1[4:12]``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for m in front.members:
        row = m.to_json()
        row["route"] = row.pop("route_str")
        writer.writerow(["" if row[k] is None else row[k] for k in CSV_FIELDS])
    return buf.getvalue()


def save_front(front: Front, out_dir: str | os.PathLike | None = None,
               all_points: Sequence[FrontPoint] = (), *,
               space: SearchSpace | str | os.PathLike | None = None) -> Path:
    """Write ``front.json``, ``front.csv`` and ``front.png`` into ``out_dir`` (default
    ``results/<space>/<target>``); returns the path of ``front.json``.

    ``all_points`` are every candidate the search evaluated (grey dots on the plot). ``space``
    (optional) names the anchors on the plot; without it the bundled space of that name is used
    if its hash matches. Everything is rendered in memory first and each file replaced
    atomically, ``front.json`` last: a failure leaves the previous files untouched.
    """
    paths.check_name(front.target, "target name")
    out = Path(out_dir) if out_dir is not None else front_path(front.space, front.target).parent
    doc_text = json.dumps(paths_for_file(front.to_json(), out), indent=1, sort_keys=True) + "\n"
    csv_text = front_csv(front)
    png = render_front_png(front, all_points, anchor_names=anchor_names(front, space))
    doc = out / paths.FRONT
    with atomic_write(doc.with_suffix(".png"), "wb") as fh:
        fh.write(png)
    write_text(doc.with_suffix(".csv"), csv_text)
    write_text(doc, doc_text)
    return doc


def anchor_names(front: Front, space: SearchSpace | str | os.PathLike | None = None) -> list[str] | None:
    """The names of the front's anchors, from ``space`` (a space, a bundled name or a YAML path)
    or the bundled space of the front's name, or ``None`` when neither is the space the front was
    searched on (same content hash)."""
    try:
        from ..space import load_space

        space = load_space(front.space if space is None else space)
    except Exception:  # a space file elsewhere: label anchors by number
        return None
    try:
        if space.content_hash != front.space_hash:
            return None
        return [a.name for a in space.anchors]
    except Exception:
        return None


def _space_arg(space: Any) -> tuple[str, SearchSpace | None]:
    """(name, loaded space or None) for a SearchSpace, a bundled name or a YAML path."""
    from ..space import SearchSpace, load_space

    if isinstance(space, SearchSpace):
        return space.name, space
    text = str(space)
    try:
        loaded = load_space(text)
    except StitchnasError:
        if text.endswith((".yaml", ".yml")) or os.sep in text:
            raise  # a space file that does not load is an error, not a name
        return text, None  # a name without a bundled space: use it as the folder name
    return loaded.name, loaded


def _space_hint(space: Any, name: str | None) -> str:
    """The space as a user would type it again: the YAML path they gave, else its name."""
    if isinstance(space, (str, os.PathLike)):
        text = os.fspath(space)
        if text.endswith((".yaml", ".yml")) or os.sep in text:
            return shlex.quote(text)
    return name or "SPACE"


def _missing_front(path: Path, space: Any, name: str | None, given: Any, target: str,
                   known: bool = True) -> str:
    """Why there is no front at ``path`` and what to do: the fronts the space does have (a
    mistyped target is told its close matches) and the command that makes this one. A space
    name that is neither bundled (``known``) nor a results folder is told its close matches."""
    from .._util import did_you_mean
    from ..costs import list_targets, load_target

    sname = _space_hint(space, name)
    folder = path.parent.parent
    if not known and name and not folder.is_dir():
        from ..space import list_spaces

        root = folder.parent
        try:
            with_fronts = [p.name for p in root.iterdir() if _fronts_in(p)] if root.is_dir() else []
        except OSError:  # an unreadable results root: no folder names to offer
            with_fronts = []
        return (f"no space {name!r}: not a bundled space, not a space file and no results folder "
                f"{folder}{did_you_mean(name, sorted(set(list_spaces()) | set(with_fronts)))} "
                f"(spaces: `stitchnas spaces`; saved fronts are under {root}/SPACE/TARGET/)")
    saved = _fronts_in(folder)
    have = f"; saved fronts of {name}: {', '.join(saved)}" if saved and name else ""
    try:  # what `search --target` would load: a bundled name, a target file, a Target
        load_target(given)
    except StitchnasError:
        return (f"no front for target {target!r} at {path}{have}"
                f"{did_you_mean(target, sorted(set(saved) | set(list_targets())))} "
                f"(bundled targets: `stitchnas targets`; a target YAML path works too)")
    elsewhere = ("" if paths.results_root_chosen() else "; a search given --out-dir DIR saved it under DIR: "
                 "pass --results DIR (or set STITCHNAS_RESULTS=DIR)")
    root = paths.results_flag()
    return (f"no front at {path}: make it with `stitchnas search {sname} --target {given}{root}` "
            f"(or `stitchnas run {sname}{root}`){elsewhere}{have}")


def saved_targets(space: str, results: str | os.PathLike | None = None) -> list[str]:
    """The targets with a saved front of ``space`` (a space name) under the results folder."""
    return _fronts_in(paths.space_dir(space, results))


def _fronts_in(folder: Path) -> list[str]:
    """The target folders under a space's results ``folder`` that hold a front file, sorted."""
    if not folder.is_dir():
        return []
    return sorted(p.parent.name for p in folder.glob(f"*/{paths.FRONT}") if p.is_file())


def _objectives_of(space: str, target: str, results) -> tuple[str, ...]:
    """A saved front's objectives, read from its file (() where it cannot be read: left out)."""
    from ..fileio import read_text

    try:
        doc = json.loads(read_text(paths.front_path(space, target, results), "front file"))
        return tuple(doc.get("objectives") or ())
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):  # StitchnasError is a ValueError
        return ()


def default_target(space: str, results: str | os.PathLike | None = None, given_as: str | None = None,
                   limits: dict[str, Any] | None = None) -> str:
    """The target whose front ``query`` and ``export`` read when none is named: the space's only
    saved front or, of several, the only one that trades top-1 against every cost ``limits``
    bound (``max_latency_ms`` with fronts for ``cpu`` and ``flops``: ``cpu``'s), else the only
    one that trades it against those costs alone. None saved, or several still, is an error that
    says what to do."""
    from ..objectives import objective_of

    saved = saved_targets(space, results)
    if len(saved) == 1:
        return saved[0]
    costs = {objective_of(k) for k in (limits or {}) if k != "min_acc1"}
    objectives = {t: set(_objectives_of(space, t, results)) - {"acc1"} for t in saved} if costs else {}
    fitting = [t for t, objs in objectives.items() if costs <= objs]
    exact = [t for t in fitting if objectives[t] == costs]  # of cpu (latency, FLOPs) and flops: flops's
    if len(fitting) == 1 or len(exact) == 1:
        return fitting[0] if len(fitting) == 1 else exact[0]
    if len(fitting) > 1:
        tied = exact or fitting
        raise StitchnasError(f"{space} has saved fronts for {len(tied)} targets that trade top-1 "
                             f"against {' and '.join(sorted(costs))} ({', '.join(tied)}): name one with "
                             "--target (target= in Python)")
    shown = given_as or space
    if not saved:
        elsewhere = ("pass --front FILE" if paths.results_root_chosen()
                     else "one saved under another root: pass --results DIR (or --front FILE)")
        root = paths.results_flag(results)
        raise StitchnasError(f"no saved front of {space} under {paths.space_dir(space, results)}: make one "
                             f"with `stitchnas search {shown}{root}` (FLOPs; --target T for another target) "
                             f"or `stitchnas run {shown}{root}`; {elsewhere}")
    none = (f", none of them of top-1 against {' and '.join(sorted(costs))} as the limits bound"
            if costs else "")
    raise StitchnasError(f"{space} has saved fronts for {len(saved)} targets ({', '.join(saved)}){none}: "
                         f"name one with --target (target= in Python)")


def load_front(space: SearchSpace | str | os.PathLike | None = None, target: Any = None,
               path: str | os.PathLike | None = None,
               results: str | os.PathLike | None = None, limits: dict[str, Any] | None = None) -> Front:
    """Read ``results/<space>/<target>/front.json`` (or ``path``).

    ``space`` is a SearchSpace, a bundled name or a YAML path (the default space when neither it
    nor ``path`` is given); ``target`` takes the forms ``search`` takes: a bundled name, a target
    YAML path or a Target (its front is under the target's ``name``); None: the space's only
    saved front, or the only one whose objectives hold every cost ``limits`` bound (a query's
    ``{"max_latency_ms": 20}``; :func:`default_target`). When the space can be loaded, the front
    must have been searched on the same content hash. ``results`` overrides the results folder.
    """
    from ..costs import target_name

    name, loaded = None, None
    if space is None and path is None:
        from ..space import DEFAULT_SPACE

        space = DEFAULT_SPACE
    if space is not None:
        name, loaded = _space_arg(space)
    if target is None and path is None:
        target = default_target(name, results, _space_hint(space, name), limits)
    given, target = target, (target_name(target) if target is not None else None)
    if path is None:
        path = front_path(name, target, results)
    path = Path(path)
    if not path.exists():  # a folder, FIFO or device exists: read_text says what it is
        if given is None:  # --front FILE, no target named
            raise StitchnasError(f"no front file at {path}: check the path (`stitchnas search` saves "
                                 f"results/SPACE/TARGET/front.json)")
        raise StitchnasError(_missing_front(path, space, name, given, target, known=loaded is not None))
    try:
        from ..fileio import read_text

        text = read_text(path, "front file")  # regular files only, size-capped
    except (OSError, UnicodeDecodeError) as err:
        raise StitchnasError(f"cannot read front file {path} ({type(err).__name__}); "
                             f"{_remake_hint(None, name, target)}") from err
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise StitchnasError(
            f"front file {path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            f"it is truncated or garbled: {_remake_hint(None, name, target)}"
        ) from None
    except (ValueError, RecursionError) as err:  # huge integers, nesting too deep to parse
        raise StitchnasError(
            f"front file {path} is not valid JSON ({type(err).__name__}); it is garbled: "
            f"{_remake_hint(None, name, target)}"
        ) from None
    front = Front.from_json(paths_from_file(doc, path), path)
    if loaded is not None:
        check_front(front, loaded)
    if space is not None:  # hints then name the space as the user gave it
        front = dataclasses.replace(front, given_as=loaded.given_as if loaded is not None
                                    else _space_hint(space, name))
    return front


def check_front(front: Front, space: SearchSpace | None = None) -> Front:
    """Check a loaded front against ``space`` (default: the bundled space of the front's name,
    if its content hash matches; else nothing to check against): the same content hash, and
    every member the space's candidate of its id (same route). One line naming the file and
    the member on failure. Needs the space's structure, so it imports torch (querying a loaded
    front does not)."""
    if space is None:
        from ._checks import bundled_space_of

        space = bundled_space_of(front)
        if space is None:
            return front
    where = front.path or "front"
    if front.space_hash != space.content_hash and front.space != space.name:
        raise StitchnasError(
            f"{where} is a front of space {front.space!r}, not of {space.name!r}: give the space it "
            "was searched on (its bundled name, or the path of your space file)")
    if front.space_hash != space.content_hash:
        raise StitchnasError(
            f"{where} was searched on another version of the space {space.name!r} (hash "
            f"{front.space_hash} != {space.content_hash}): re-run `stitchnas search {space.given_as} "
            f"--target {front.target}`"
        )
    from ._checks import check_space

    try:
        check_space(front, space)
    except StitchnasError as err:
        where = f"front file {front.path}" if front.path else "front"
        raise StitchnasError(f"{where} is broken: {err}; "
                             f"{_remake_hint(None, space.name, front.target)}") from None
    return front


def space_of_front(front: Front, how: str = "`stitchnas export SPACE.yaml --front FILE`"):
    """The space to build a front's members from when only the front file is given: the bundled
    space of the front's name (checked against the front). A space of one's own cannot be found
    from its name alone: one line saying to name its file (``how``: the caller's way to)."""
    from ..space import list_spaces, load_space
    from ._checks import bundled_space_of

    space = bundled_space_of(front)  # same name and content hash
    if space is not None:
        check_front(front, space)
        return space
    where = front.path or "the front"
    if front.space in list_spaces():
        raise StitchnasError(
            f"{where} is a front of a space named {front.space!r} that differs from the bundled one (hash "
            f"{front.space_hash}, not {load_space(front.space).content_hash}): name its space file, as in {how}")
    raise StitchnasError(
        f"{where} is a front of space {front.space!r}, which is not bundled: name its space file, as "
        f"in {how}")
