"""The command line's verbs in Python, with its parameter names: ``stitchnas query`` is
:func:`query`, ``stitchnas export`` is :func:`export`, ``stitchnas predict`` is :func:`predict_candidates`
(``stitchnas.predict`` is the predictors' subpackage, so the verb cannot have its name there),
``stitchnas import-snnet`` is :func:`import_snnet`. Each option ``--some-name`` is the keyword
``some_name``; the command line calls these same functions, so both say the same thing.

Thin wrappers: querying is :func:`~stitchnas.load_front` then ``Front.best`` (no torch),
exporting is :func:`~stitchnas.build_model` then :func:`~stitchnas.export_model` (or
:func:`~stitchnas.export_front` with ``switchable=True``).
"""

from __future__ import annotations

import builtins
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .errors import StitchnasError

if TYPE_CHECKING:  # pragma: no cover
    from .fronts import Front, FrontPoint
    from .measure import SnnetImport
    from .space import SearchSpace

__all__ = ["query", "export", "predict_candidates", "import_snnet", "Exported", "export_details",
           "predict_details", "limits_of", "default_checkpoint", "front_of"]


def limits_of(limits: dict[str, Any]) -> dict[str, Any]:
    """The query limits given (``max_flops=...``; None ones dropped), or one line naming an
    unknown keyword and the known ones."""
    from .objectives import LIMIT_KEYS

    bad = sorted(set(limits) - set(LIMIT_KEYS))
    if bad:
        from ._util import did_you_mean

        raise StitchnasError(f"unknown limit {bad[0]!r}{did_you_mean(bad[0], list(LIMIT_KEYS))} "
                             f"Known: {', '.join(LIMIT_KEYS)}")
    return {k: v for k, v in limits.items() if v is not None}


def front_of(space: Any, target: Any, front: Any, model: Any = None, limits: dict | None = None) -> Front:
    """The front a query or an export reads: from a switchable model, a front file or
    ``results/SPACE/TARGET/front.json`` (no target named: the one the limits point to where the
    space has several, :func:`stitchnas.fronts.default_target`)."""
    from .fronts import Front, load_front

    if model is not None:
        from .network import read_front_model

        doc = read_front_model(model, front=front)  # refuses another front version
        return Front.from_json(doc["front"], path=str(model))
    if isinstance(front, Front):
        return front
    if space is None and front is None:
        from .space import DEFAULT_SPACE

        space = DEFAULT_SPACE
    loaded = load_front(space, target=target, path=front, limits=limits)  # checked against the space when named
    if space is None and front is not None:  # a front file alone: against the bundled space named
        from .fronts import check_front

        check_front(loaded)
    return loaded


def query(space: SearchSpace | str | os.PathLike | None = None, *, target: Any = None,
          front: Front | str | os.PathLike | None = None, model: str | os.PathLike | None = None,
          list: bool = False, **limits: float) -> FrontPoint | builtins.list[FrontPoint]:
    """``stitchnas query``: the most accurate stitch on a saved front within ``limits``
    (``max_flops=1.5e9``, ``max_latency_ms=20``, ...; see ``stitchnas query --help``).

    ``target`` None: the space's only saved front, or of several the one of top-1 against the cost
    the limits bound (:func:`stitchnas.fronts.default_target`). ``front`` is a front.json path
    (default ``results/SPACE/TARGET/front.json``), ``model`` a
    switchable front model to query instead (``export(switchable=True)``). ``list=True``: every
    member within the limits, in the front's order (``stitchnas query --list``), instead of the
    best one. Raises :class:`~stitchnas.NothingFits` (naming the cheapest member) when nothing
    fits. Imports no torch (once the space's structure is cached, which any search of it does)."""
    limits = limits_of(limits)
    found = front_of(space, target, front, model, limits)
    if not list:
        best = found.best(**limits)
        _warn_notes(found, best, limits, space)
        return best
    members = found.fits(**limits)
    if limits and not members:
        found.best(**limits)  # raises NothingFits with the explanation
    _warn_notes(found, None, limits, space)
    return members


def _warn_notes(front: Front, answer: FrontPoint | None, limits: dict, space: Any) -> None:
    """:func:`stitchnas.fronts.answer_notes` as StitchnasWarnings pointing at the caller's line:
    the notes the command line prints on stderr, for Python callers."""
    from .errors import StitchnasWarning
    from .fronts import answer_notes

    given = str(space) if isinstance(space, (str, os.PathLike)) else None
    for note in answer_notes(front, answer, limits, space=given, coverage=True):  # not in a FrontPoint
        warnings.warn(note, StitchnasWarning, stacklevel=3)


@dataclass(frozen=True)
class Exported:
    """What :func:`export` wrote: the files, the stitch (``id``, ``route``; None for a whole
    front), the front member it was chosen as and the front it was chosen from, or the front
    exported (``switchable``; both None when picked by ``id``/``route``), and where the weights
    came from (:func:`stitchnas.network.weights_sources`)."""

    paths: tuple[Path, ...]
    space: str
    id: int | None
    route: str | None
    point: Any
    front: Any
    weights: dict[str, Any]
    batch_size: int


def export(space: SearchSpace | str | os.PathLike | None = None, *, id: int | None = None,
           route: str | None = None, target: Any = None, front: Front | str | os.PathLike | None = None,
           checkpoint: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
           format: str | Sequence[str] | None = None, switchable: bool = False,
           allow_random_weights: bool = False, batch_size: int = 1, device: str = "cpu",
           batchnorm: str = "route", data: str | None = None, data_root: str | None = None,
           **limits: float) -> builtins.list[Path]:
    """``stitchnas export``: write one stitch as standalone files and return their paths.

    The stitch is ``id`` or ``route``, else the best member of the saved front (``target``,
    ``front``) within ``limits`` (``max_flops=...``). ``checkpoint`` defaults to
    ``results/SPACE/stitched.pt`` when present; ``out`` is the path without suffix (default
    ``results/SPACE/export/SPACE_idN``). ``format``: comma-separated or a sequence of the formats
    :func:`~stitchnas.export_model` writes (None: its default); with ``switchable=True`` the
    whole front (members within ``limits``) as one model (:func:`~stitchnas.export_front`:
    ``bundle``, ``torchscript``). Exporting random anchors or untrained stitching layers is
    refused unless ``allow_random_weights``. ``batchnorm``: in a family with BatchNorm layers,
    ``"route"`` re-estimates each exported route's statistics on the space's training images as
    ``evaluate`` measured it (:data:`~stitchnas.measure.BN_CALIBRATION`), ``"shared"`` keeps the
    checkpoint's, on the space's data set unless ``data`` (a data set name or an ImageFolder
    folder, as ``evaluate --data``) and ``data_root`` say otherwise. :func:`build_model` then
    :func:`export_model`."""
    done = export_details(space, id=id, route=route, target=target, front=front,
                          checkpoint=checkpoint, out=out, format=format, switchable=switchable,
                          allow_random_weights=allow_random_weights, batch_size=batch_size,
                          device=device, batchnorm=batchnorm, data=data, data_root=data_root, **limits)
    if done.front is not None:
        _warn_notes(done.front, done.point, limits_of(limits), space)
    return list(done.paths)


def _formats(format: str | Sequence[str] | None) -> builtins.list[str] | None:
    if format is None:
        return None
    items = format.split(",") if isinstance(format, str) else builtins.list(format)
    return [f.strip() for f in items if f and f.strip()] or None


def export_details(space: Any = None, *, id: int | None = None, route: str | None = None,
                   target: Any = None, front: Any = None, checkpoint: Any = None, out: Any = None,
                   format: Any = None, switchable: bool = False, allow_random_weights: bool = False,
                   batch_size: int = 1, device: str = "cpu", batchnorm: str = "route",
                   data: str | None = None, data_root: str | None = None, **limits: float) -> Exported:
    """:func:`export`, returning what the command line reports (:class:`Exported`)."""
    from dataclasses import replace

    from .network import build_model, check_weights, export_model, resolve_candidate, weights_sources
    from .paths import export_dir
    from .space import DEFAULT_SPACE, load_space

    limits = limits_of(limits)
    if space is None and front is not None:  # a front alone: the space it was searched on
        from .fronts import Front, load_front, space_of_front

        if not isinstance(front, Front):
            front = load_front(None, target, path=front)
        space = space_of_front(front)
    space = load_space(space if space is not None else DEFAULT_SPACE)
    from .measure import route_calibration, space_data

    calibration = route_calibration(space, space_data(space, data, data_root) if data or data_root else None,
                                    batchnorm)
    picked = id is not None or route is not None
    if id is not None and route is not None:
        raise StitchnasError("give the stitch as an id or as a route, not both")
    if switchable:
        if picked:
            raise StitchnasError("--switchable exports a whole front: drop --id/--route (budget flags "
                                 "keep the members within them)")
        from .network import export_front

        whole = front_of(space, target, front, limits=limits)
        if limits:
            whole.best(**limits)  # nothing fits: NothingFits naming the cheapest member
            whole = replace(whole, members=tuple(whole.fits(**limits)))
        stitched = any(m.route.num_stitches for m in whole.members)
        ckpt = default_checkpoint(checkpoint, space, stitched, allow_random_weights,
                                  f"the front of {space.name} for target {whole.target!r}")
        base = Path(out) if out else export_dir(space.name) / f"{space.name}_{whole.target}_front"
        formats = _formats(format)
        kw = {"formats": formats} if formats else {}
        paths = export_front(whole, base, space=space, checkpoint=ckpt, batch_size=batch_size,
                             allow_random_weights=allow_random_weights, device=device,
                             calibration=calibration, **kw)
        return Exported(tuple(paths), space.name, None, None, None, whole,
                        weights_sources(space, ckpt), batch_size)
    point = chosen_from = None
    if picked:
        if limits or front is not None:
            raise StitchnasError("budget flags and --front pick a stitch from a front: drop them, "
                                 "or drop --id/--route")
        cand = resolve_candidate(space, id if id is not None else route)
    else:
        chosen_from = front_of(space, target, front, limits=limits)
        point = chosen_from.best(**limits)
        cand = resolve_candidate(space, point)
    ckpt = default_checkpoint(checkpoint, space, not cand.is_anchor, allow_random_weights,
                              f"stitch {cand.id} ({space.describe(cand.route)})")
    base = Path(out) if out else export_dir(space.name) / f"{space.name}_id{cand.id}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # untrained layers: refused below unless allowed
        module = build_model(space, cand, ckpt, device=device, calibration=calibration)
    sources = weights_sources(space, ckpt)
    check_weights(space, sources, cand.route.anchors, not cand.is_anchor, allow_random_weights)
    meta = {"space": space.name, "space_hash": space.content_hash, "id": cand.id,
            "route": cand.route.to_json(), "weights": sources}
    if calibration is not None:  # the statistics `evaluate` measured it with
        meta["batchnorm"] = calibration.recipe.label()
    kw = {"format": format} if format is not None else {}  # export_model parses and checks it
    paths = export_model(module, base, space.input_size, batch_size=batch_size, metadata=meta, **kw)
    return Exported(tuple(paths), space.name, cand.id, str(cand.route), point, chosen_from, sources,
                    batch_size)


def default_checkpoint(checkpoint: Any, space: SearchSpace, stitched: bool, allow_random_weights: bool,
                       what: str) -> str | None:
    """``checkpoint``, else results/SPACE/stitched.pt when present; an error when ``stitched``
    needs one and there is none (unless ``allow_random_weights``)."""
    from .paths import checkpoint_path, results_flag

    if checkpoint is not None:
        return str(checkpoint)
    default = checkpoint_path(space.name)
    if default.is_file():
        return str(default)
    if stitched and not allow_random_weights:
        raise StitchnasError(
            f"{what} needs trained stitching layers but there is no checkpoint at {default}: train "
            f"one with `stitchnas train {space.given_as}{results_flag()}` or pass --checkpoint"
        )
    return None


def predict_candidates(space: SearchSpace | str | os.PathLike, *,
            measurements: str | os.PathLike | None = None, predictor: Any = "auto", seed: int = 0,
            out: str | os.PathLike | None = None, proxies: str | os.PathLike | None = None,
            plot: bool = True) -> builtins.list[dict[str, Any]]:
    """``stitchnas predict``: fit ``predictor`` on every row of ``measurements`` (default: the file
    ``search`` reads, results/SPACE/measurements.jsonl or the last run's) and predict every
    candidate; one dict per candidate (``id``, ``route``, ``acc1_pred``, ``acc1_std``,
    ``measured``), written as JSONL to ``out`` when given; ``proxies``: a file of every
    candidate's proxy scores (``stitchnas proxy``) for the predictor; ``plot``: with ``out``,
    also draw ``out`` with the suffix ``.png`` (importing matplotlib takes about half a second).
    :func:`fit_on_measured` with ``random_state=seed``, then ``predict``."""
    return predict_details(space, measurements=measurements, predictor=predictor, seed=seed, out=out,
                           proxies=proxies, plot=plot)[0]


def predict_details(space: Any, *, measurements: Any = None, predictor: Any = "auto", seed: int = 0,
                    out: Any = None, proxies: Any = None,
                    plot: bool = True) -> tuple[builtins.list[dict[str, Any]], Any, Any, Any]:
    """:func:`predict_candidates`, with the fitted predictor, the measured rows and the space."""
    from .measure import read_measurements
    from .predict import fit_on_measured, prediction_plot_path, prediction_rows, write_predictions
    from .space import load_space

    space = load_space(space)
    if measurements is None:
        from .measure import default_measurements

        measurements, proxies = default_measurements(space, proxies, who="predict", required=True)
    if not Path(measurements).exists():  # a folder, FIFO or device: the reader says what it is
        raise StitchnasError(f"measurements file {measurements} does not exist: measure stitches with "
                             f"`stitchnas evaluate {space.given_as}` (or import published ones)")
    rows = read_measurements(measurements, space)
    if not rows:
        raise StitchnasError(f"measurements file {measurements} has no rows: measure some stitches first")
    if out is not None:  # an unwritable --out is one line before the fit, not after
        from .fileio import check_writable

        check_writable(out, "predictions file")
        if plot:
            check_writable(prediction_plot_path(out), "predictions plot")
    from .measure import load_proxy_signals

    fit = fit_on_measured(space, rows, predictor, random_state=seed,
                          signals=load_proxy_signals(proxies, space, rows))
    out_rows = prediction_rows(fit, rows)
    if out is not None:
        write_predictions(out, out_rows, fit, rows, space.name, plot=plot)
    return out_rows, fit, rows, space


def import_snnet(file: str | os.PathLike | None = None, space: SearchSpace | str | os.PathLike | None = None,
                 out: str | os.PathLike | None = None, *, path: str | os.PathLike | None = None,
                 profiler: Any = None, dataset: str | None = None) -> SnnetImport:
    """``stitchnas import-snnet``: published SN-Net results (``stitches_res.txt``, or JSONL) as
    measurements of ``space``, flops checked against ours; merged into the measurements file
    ``out`` (by id; a row that differs from the file's row of its id is refused) when given, as
    the command line does. ``dataset``: what the rows were measured on (default: the space file's
    ``data:``, else ImageNet). ``path`` is the old name of ``file``."""
    from .measure import import_snnet as _import, write_measurements
    from .space import load_space

    if file is None:
        file = path
    if file is None or space is None:
        raise StitchnasError("import_snnet needs the published file and the space it was published for")
    space = load_space(space)
    result = _import(file, space, profiler=profiler, dataset=dataset)
    if out is not None:  # a published row never silently replaces a measured one
        write_measurements(out, result.rows, conflicts="refuse")
    return result
