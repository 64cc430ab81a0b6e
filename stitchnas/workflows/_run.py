"""The main job: from a space file to saved Pareto fronts per hardware target, doing only what is
missing.

``run(space)`` chains: anchors (trained when their checkpoints are missing and the space says how
to train them), stitching layers (SN-Net training, resumable), a measured sample of stitches
(the anchors, a few random stitches of different route shapes, then rounds chosen by
:func:`stitchnas.predict.suggest`), the accuracy predictor, latency tables for the targets this
machine can time, and the search per target with its front. Everything it makes is reused by
the next run; the step table in the report says what was done and what was reused. Settings come
from the space's ``run:`` section (:class:`RunConfig`), so a space file carries its own quick
recipe.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import CheckpointSpaceMismatch, StitchnasError
from ..fileio import write_json, write_text
from ..costs import DEFAULT_VALIDATE
from ..measure import PROXY_IMAGES, batchnorm_label
from ..paths import (MEASUREMENTS, PREDICTIONS, PROXIES, REPORT, checkpoint_path, results_root,
                     run_dir as results_run_dir)
from ._front_timing import drift_pct, drift_warning, fits_machine, off_by
from ._report import line_summary, run_report

__all__ = ["RunConfig", "RunReport", "RunInterrupted", "run"]

STEP_NAMES = ("anchors", "stitching layers", "proxy scores", "measurements", "predictor", "latency tables",
              "search")
STEPS = len(STEP_NAMES)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run`; the message names the step and says that the same command
    reuses what was kept."""


@dataclass(frozen=True)
class RunConfig:
    """What ``stitchnas run`` does, from the space's ``run:`` section, then command-line overrides.

    ``anchors`` / ``stitching``: overrides of the space's ``training`` sections, used only when
    something must be trained. ``initial``: stitches measured first (anchors included, the rest
    drawn with ``seed``, one per route shape while shapes are left); then ``rounds`` rounds of
    ``per_round`` suggested stitches (one at a time by default: each pick sees the last; chosen on
    five measured tables, docs/search.md).
    ``val_subset``: validation images per measurement (None: the whole split).
    ``proxy_images``: every candidate is also scored on this many validation images the
    measurements leave out, for the predictor (0: none; docs/predictors.md); where the split is
    too small to leave them out, every candidate is measured instead (the same images, the same
    cost). ``targets``:
    target names or paths (without ``run.targets``: ``cpu`` and ``flops``, the whole trade-off).
    ``trials``/``sampler``: the search per target.
    """

    anchors: dict[str, Any] = field(default_factory=dict)
    stitching: dict[str, Any] = field(default_factory=dict)
    initial: int = 4
    rounds: int = 12
    per_round: int = 1
    val_subset: int | None = None
    proxy_images: int = PROXY_IMAGES
    targets: tuple[str, ...] = ("cpu", "flops")  # latency here, and FLOPs without a budget
    trials: int | None = None
    sampler: str = "auto"
    predictor: str = "auto"
    latency_repeats: int = 20
    latency_validate: int = DEFAULT_VALIDATE
    seed: int = 0
    device: str = "cpu"

    @classmethod
    def from_space(cls, space, **overrides: Any) -> RunConfig:
        doc = dict(space.extra.get("run") or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise StitchnasError(f"space {space.name!r}: run has unknown key(s) {unknown}; known: "
                                 f"{sorted(known)}")
        doc.update({k: v for k, v in overrides.items() if v is not None})
        if "targets" in doc:
            t = doc["targets"]
            doc["targets"] = tuple([t] if isinstance(t, str) else t)
        try:
            cfg = cls(**doc)
        except TypeError as err:
            raise StitchnasError(f"space {space.name!r}: bad run section: {err}") from err
        for name in ("initial", "per_round", "latency_repeats"):
            v = getattr(cfg, name)
            if not isinstance(v, int) or v < 1:
                raise StitchnasError(f"space {space.name!r}: run.{name} must be a positive integer, got {v!r}")
        if not isinstance(cfg.proxy_images, int) or cfg.proxy_images < 0:
            raise StitchnasError(f"space {space.name!r}: run.proxy_images must be an integer >= 0 "
                                 f"(0: no proxy scores), got {cfg.proxy_images!r}")
        if not isinstance(cfg.rounds, int) or cfg.rounds < 0:
            raise StitchnasError(f"space {space.name!r}: run.rounds must be >= 0, got {cfg.rounds!r}")
        if not cfg.targets:
            raise StitchnasError(f"space {space.name!r}: run.targets is empty: name at least one target")
        return cfg


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    done: str


@dataclass(frozen=True)
class RunReport:
    space: str
    steps: tuple[Step, ...]
    fronts: dict[str, str]
    report: str
    seconds: float


def _data_spec(space, cfg_subset: int | None = None):
    from ..measure import space_data

    return space_data(space, val_subset=cfg_subset)


def _log(msg: str) -> None:
    from ..progress import get_logger

    get_logger("run").info(f"run: {msg}")


def run(space, *, config: RunConfig | None = None, out: str | Path | None = None,
        log: Callable[[str], None] = _log) -> RunReport:
    """Run the main job on ``space`` (a SearchSpace, a bundled name or a path).

    ``out``: the results root for everything the run writes, ``${results}`` in the space file
    (where anchors trained here go) and latency tables included (default: ``$STITCHNAS_RESULTS``
    or ``results``); a loaded space is read again from its file so its paths follow ``out``.
    """
    steps: list[Step] = []
    with results_root(out) as root:
        if out is not None and getattr(space, "path", None) is not None:
            space = space.path
        try:
            return _run(space, config, root, log, steps)
        except KeyboardInterrupt as err:
            if isinstance(err, RunInterrupted):
                raise
            inner = str(err).removeprefix("interrupted ")
            k = min(len(steps), STEPS - 1)  # the step it was in (after the last: writing its report)
            raise RunInterrupted(
                f"interrupted in step {k + 1}/{STEPS}, {STEP_NAMES[k]}"
                f"{f' ({inner})' if inner else ''}; the steps before it and what this one saved are kept: "
                "the same command goes on from there") from err


def _run(space, config: RunConfig | None, root: Path, log: Callable[[str], None],
         steps: list[Step]) -> RunReport:
    from ..costs import (latency_warning, load_target, save_validation_plot, time_end_to_end,
                         validation_error)
    from ..errors import device_problem
    from ..fronts import front_resolution_warning
    from ..progress import get_logger
    from ..measure import (BATCHNORM_KEY, AnchorTrainConfig, StitchTrainConfig, anchors_warning,
                           chance_warning, checkpoint_digest, config_from_space, load_datasets,
                           make_loader, measure, measured_elsewhere, network_classes,
                           proxies_cover_measurements, proxy_signals, read_measurements,
                           recipe_changes, route_calibration, shared_batchnorm_warning,
                           train_anchors, train_stitched, write_measurements)
    from ..network import load_network
    from ..optimize import SearchConfig, check_counted_budgets, check_distinct_targets, search_targets
    from ..predict import fit_on_measured, measurement_plan, prediction_rows, write_predictions
    from ..space import load_space

    t_start = time.perf_counter()
    space = load_space(space)
    cfg = config or RunConfig.from_space(space)
    if device_problem(cfg.device):  # before any work, not at the first tensor moved
        raise StitchnasError(f"space {space.name!r}: run.device: {device_problem(cfg.device)}")
    run_dir = results_run_dir(space.name, root)
    targets = [load_target(t) for t in cfg.targets]
    check_distinct_targets(targets)
    check_counted_budgets(space, targets)  # before any training: FLOPs and params are counted

    def step(name: str, t0: float, done: str) -> None:
        steps.append(Step(name, round(time.perf_counter() - t0, 1), done))
        log(f"step {len(steps)}/{STEPS} done, {name}: {done} ({steps[-1].seconds:.0f} s)")

    # 1. anchors
    t0 = time.perf_counter()
    missing = [a.name for a in space.anchors if not (a.checkpoint and Path(a.checkpoint).is_file())]
    if missing:
        started = [a.name for a in space.anchors if a.name in missing and a.init]
        if not (space.extra.get("training") or {}).get("anchors") and not cfg.anchors:
            no_path = [a.name for a in space.anchors if not a.checkpoint]
            paths = (f" and a `checkpoint:` path per anchor to save it to (e.g. `${{results}}/anchors/"
                     f"{space.name}/{no_path[0]}.pt`)" if no_path else "")
            start = f" ({', '.join(started)} would start from their `init:` weights)" if started else ""
            copy = (f"copy the bundled file {space.path} to one of your own, and there "
                    if space.is_bundled else "")
            raise StitchnasError(
                f"anchors {missing} of {space.given_as} have no trained weights and the space has no "
                f"training.anchors section to train them with{start}: {copy}add one (e.g. "
                f"`training: {{anchors: {{epochs: 4}}}}`){paths} to train them here, or point each "
                "`checkpoint:` at trained weights")
        acfg = config_from_space(AnchorTrainConfig, space, "anchors", **cfg.anchors)
        train_anchors(space, _data_spec(space), acfg, device=cfg.device, only_missing=True, log=log)
        step("anchors", t0, f"trained {', '.join(missing)} ({acfg.epochs} epoch(s)"
             + (f" on {acfg.train_subset} images" if acfg.train_subset else "")
             + (f"; {', '.join(started)} from their init: weights" if started else "") + ")")
    else:
        step("anchors", t0, "reused saved checkpoints")

    # 2. stitching layers
    t0 = time.perf_counter()
    ckpt = checkpoint_path(space.name, root)
    scfg = config_from_space(StitchTrainConfig, space, "stitching", **cfg.stitching)
    from ..network import anchors_changed, read_checkpoint

    retrained = bool(missing)
    changes: list[str] = []
    stale: list[str] = []  # anchors trained again since the saved layers were fitted to them
    if ckpt.is_file() and not retrained:
        try:
            doc = read_checkpoint(ckpt, space)
        except CheckpointSpaceMismatch as err:
            raise StitchnasError(
                f"{ckpt} was trained on another version of space {space.name!r} (its anchors, rule or "
                "stitching changed since); delete it, or run with another --out, so that the run trains "
                "its own") from err
        stale = anchors_changed(doc, space)
        retrained = bool(stale)
        state = doc.get("state") or {}
        changes = recipe_changes(state.get("config"), scfg)
        saved_epochs = (state.get("config") or {}).get("epochs", scfg.epochs)
        finished = not stale and state.get("epoch", 0) >= (saved_epochs if changes else scfg.epochs)
        if changes and not finished and not stale:
            raise StitchnasError(
                f"{ckpt} is an unfinished training with other settings than this run's stitching recipe "
                f"({'; '.join(changes)}): finish it with `stitchnas train {space.given_as}` and those "
                "settings, or delete it so that the run trains its own")
    else:
        finished = False
    if finished and changes:
        note = (f"reused {ckpt}, trained with other settings than the run's recipe ({'; '.join(changes)}); "
                "delete it to train the run's own")
        get_logger("run").warning(f"stitching layers: {note}")
        step("stitching layers", t0, note)
    elif finished:
        step("stitching layers", t0, f"reused {ckpt}")
    else:
        res = train_stitched(space, _data_spec(space), scfg, ckpt, device=cfg.device,
                             resume=not retrained, log=log)
        retrained = True
        resumed = f"; resumed {res.resumed_at}" if res.resumed_at else ""
        again = (f"; again: anchor(s) {', '.join(stale)} were trained anew since the saved layers"
                 if stale else "")
        step("stitching layers", t0, f"trained {scfg.epochs} epoch(s), {res.steps} steps "
             f"({scfg.sampling} sampling{resumed}{again}) -> {ckpt}")

    spec = _data_spec(space, cfg.val_subset)
    net = None
    # BatchNorm families: every route measured (and scored) with its own statistics, as exported
    calibration = route_calibration(space, spec)
    bn_label = batchnorm_label(calibration)

    def network():
        nonlocal net
        if net is None:
            net = load_network(space, ckpt)
        return net

    # 3. proxy scores: every candidate on a small batch the measurements leave out
    t0 = time.perf_counter()
    ppath = run_dir / PROXIES
    signals = None
    measure_all = bool(cfg.proxy_images) and proxies_cover_measurements(spec, cfg.proxy_images)
    if measure_all:
        step("proxy scores", t0, f"not needed: the {cfg.proxy_images} proxy images would include every "
             "validation image the measurements use (the split has too few others), so scoring is "
             "measuring; every candidate is measured instead")
    elif cfg.proxy_images:
        scores, reused = _proxy_scores(space, spec, ppath, str(ckpt), cfg, network, reuse=not retrained,
                                       calibration=calibration)
        signals = proxy_signals(scores)
        step("proxy scores", t0, f"reused {ppath}" if reused else
             f"{len(scores)} candidates scored on {scores[0].images} validation images "
             + ("the measurements leave out" if scores[0].disjoint else
                "shared with the measurements (the split has too few others)") + f" -> {ppath}")
    else:
        step("proxy scores", t0, "off (run.proxy_images: 0)")

    # 4. measurements: anchors + random, then suggested rounds
    t0 = time.perf_counter()
    mpath = run_dir / MEASUREMENTS
    rows = read_measurements(mpath, space) if mpath.is_file() else []
    # rows of another version of the checkpoint file (trained again since): replaced, as after retraining
    retrained = retrained or bool(measured_elsewhere(rows, str(ckpt), checkpoint_digest(ckpt)))
    rows = [m for m in rows if m.checkpoint == str(ckpt)] if not retrained else []
    _, val, classes = load_datasets(spec)
    dataset = spec.label(len(val))
    rows = [m for m in rows if m.dataset == dataset and dict(m.extra).get(BATCHNORM_KEY) == bn_label]
    checked = False

    def measure_ids(ids: Sequence[int]) -> list:
        """Measure those of ``ids`` not measured yet; every row of this checkpoint so far."""
        nonlocal checked, rows
        ids = [i for i in ids if i not in {m.id for m in rows}]
        if not ids:
            return rows
        if not checked:
            if network_classes(network()) != classes:
                raise StitchnasError(f"{spec.name} has {classes} classes but the network predicts "
                                     f"{network_classes(net)}: the space's data does not fit its anchors")
            checked = True
        new = measure(space, network(), make_loader(val, 500, shuffle=False), ids, dataset=dataset,
                      checkpoint=str(ckpt), device=cfg.device, progress=False, calibration=calibration)
        if retrained and not rows and mpath.exists():
            mpath.unlink()  # rows of an older checkpoint: replaced, not mixed
        rows = write_measurements(mpath, new)
        rows = [m for m in rows if m.checkpoint == str(ckpt) and m.dataset == dataset
                and dict(m.extra).get(BATCHNORM_KEY) == bn_label]
        return rows

    reused = len(rows)
    anchors = sum(1 for c in space.candidates if c.is_anchor)
    plan = f"anchors + {max(0, cfg.initial - anchors)} random + {cfg.rounds} x {cfg.per_round} suggested"
    if measure_all:
        measure_ids([c.id for c in space.candidates])
        plan = (f"every candidate: the split's {len(val)} images are too few to hold "
                f"{cfg.proxy_images} proxy images apart, and scoring them costs what measuring does")
    else:
        measurement_plan(space, measure_ids, rounds=cfg.rounds, initial=cfg.initial,
                         per_round=cfg.per_round, predictor=cfg.predictor, seed=cfg.seed, signals=signals)
        if max(cfg.initial, anchors) + cfg.rounds * cfg.per_round >= len(space):
            plan = f"every candidate: the plan ({plan}) covers this space"
    step("measurements", t0, f"{len(rows)} of {len(space)} stitches measured on {dataset} "
         f"({len(rows) - reused} new; {plan})")
    chance = chance_warning(space, rows, classes, len(val))
    anchor_warning = anchors_warning(space, rows, classes, len(val))
    bn_warning = shared_batchnorm_warning(space, rows)
    for warning in (anchor_warning, bn_warning):
        if warning:
            get_logger("run").warning(warning)

    # 5. predictor
    t0 = time.perf_counter()
    fit = fit_on_measured(space, rows, cfg.predictor, random_state=cfg.seed, signals=signals)
    chosen = fit.chosen
    scores = getattr(fit.model, "scores_", {})
    reason = getattr(fit.model, "reason_", None)
    proxy_tau = _proxy_tau(signals, rows)
    write_predictions(run_dir / PREDICTIONS, prediction_rows(fit, rows), fit, rows, space.name)
    weak = None if chance else weak_proxy_warning(chosen, proxy_tau, len(rows), len(space))
    if len(rows) == len(space):
        chosen = None
        step("predictor", t0, f"not needed: every candidate is measured; their top-1s -> "
             f"{run_dir / PREDICTIONS} (+ .png)")
    else:
        step("predictor", t0, f"{cfg.predictor}" + (f" chose {chosen}" if chosen else "")
             + (f" ({reason})" if chosen and isinstance(reason, str) else "")
             + (f"; the proxy loss ranks the {len(rows)} measured stitches at Kendall tau {proxy_tau:.2f}"
                if proxy_tau is not None else "") + (", weakly" if weak else "")
             + f"; every candidate predicted -> {run_dir / PREDICTIONS} (+ .png)")
    if weak:
        get_logger("run").warning(weak)

    # 6. latency tables for the targets this machine can time
    t0 = time.perf_counter()
    timed, tables, warnings = [], {}, {}
    for target in targets:
        if not target.measurable:
            continue
        table, status = _current_table(space, target, cfg.latency_repeats,
                                       min(cfg.latency_validate, len(space)), cfg.seed, log)
        tables[target.name] = table
        save_validation_plot(table)
        v = table.validation or {}
        err = validation_error(v) if v else {}
        timed.append(f"{target.name}: " + status
                     + (f", validation median {err['median_ape_pct']:.1f}% / worst "
                        f"{err['worst_ape_pct']:.1f}%" if err else ""))
        warning = latency_warning(table, space=space.given_as)
        if warning:
            warnings[target.name] = warning
            get_logger("run").warning(warning)
    step("latency tables", t0, "; ".join(timed) if timed else "no latency targets")

    # 7. search per target
    t0 = time.perf_counter()
    scfg_search = SearchConfig(sampler=cfg.sampler, n_trials=cfg.trials, seed=cfg.seed,
                               predictor=cfg.predictor, measurements=str(mpath), out_dir=str(root),
                               proxies=str(ppath) if signals is not None else None)
    results = search_targets(space, targets, scfg_search)
    fronts = {r.target: str(r.path) for r in results}
    for note in (n for r in results for n in r.notes):
        _log(f"note: {note}")
    # each latency front's members timed end to end: is the front ordered as measured?
    front_times: dict[str, dict[int, float]] = {}
    batch = {t.name: t.batch_size for t in targets}
    for r in results:
        if r.target in tables and r.front.members:
            front_times[r.target] = time_end_to_end(space, r.target, [m.id for m in r.front.members],
                                                    repeats=cfg.latency_repeats, progress=False)
            # the table's validation was at its making, the drift is the machine now; the
            # resolution: whether the table can tell the front's members apart at all
            for warning in (drift_warning(r.target, r.front.members, front_times[r.target], space.given_as,
                                          fresh=not tables[r.target].reused),
                            front_resolution_warning(r.front, batch[r.target])):
                if warning:
                    warnings[r.target] = "; ".join(w for w in (warnings.get(r.target), warning) if w)
                    get_logger("run").warning(warning)
    step("search", t0, "; ".join(f"{r.target}: {len(r.front.members)} on the front from "
                                  f"{r.distinct_candidates} candidates ({r.n_trials_done} trials)"
                                  for r in results))

    total = round(time.perf_counter() - t_start, 1)
    report_path = run_dir / REPORT
    line = line_summary(rows, len(val))
    text = run_report(space, cfg, steps, rows, chosen, scores, results, total, tables,
                      warnings, front_times, root=root, images=len(val),
                      measure_warnings=[w for w in (anchor_warning, bn_warning) if w],
                      line=line)
    write_text(report_path, text)
    write_json(run_dir / "report.json", {
        "space": space.name, "space_hash": space.content_hash, "seconds": total,
        "config": {f.name: getattr(cfg, f.name) for f in fields(cfg)},
        "steps": [s.__dict__ for s in steps], "measured": len(rows),
        "predictor": {"name": cfg.predictor, "chosen": chosen, "cv_tau": scores,
                      "reason": reason if isinstance(reason, str) else None, "proxy_tau": proxy_tau},
        "fronts": fronts, "machine": platform.platform(), "latency_warnings": warnings,
        "anchor_warning": anchor_warning, "batchnorm_warning": bn_warning, "above_line": line,
        # unrounded: the report's order line is recomputed from these (a tiny model times in
        # hundredths of a millisecond, where rounding moves the median drift across a percent)
        "front_latency_measured_ms": {t: {str(k): v for k, v in d.items()} for t, d in front_times.items()},
    })
    log(f"done in {total:.0f} s: report {report_path}")
    return RunReport(space.name, tuple(steps), fronts, str(report_path), total)


#: below this Kendall tau on the measured stitches the run says its proxy scores rank weakly (they
#: reach 0.85 on the demo; the tables that chose the proxy model are in docs/predictors.md)
WEAK_PROXY_TAU = 0.3


def weak_proxy_warning(chosen: str | None, proxy_tau: float | None, measured: int,
                       candidates: int) -> str | None:
    """The run's one-line warning when the proxy model was chosen but its scores rank the measured
    stitches weakly (Kendall tau below :data:`WEAK_PROXY_TAU`) while some stitches are predicted."""
    if chosen != "proxy" or proxy_tau is None or proxy_tau >= WEAK_PROXY_TAU or measured >= candidates:
        return None
    return (f"the proxy scores rank the {measured} measured stitches only at Kendall tau {proxy_tau:.2f}: "
            f"the predicted top-1 of the other {candidates - measured} is little better than a guess; "
            "score on more images (`proxy_images:` under the space file's `run:`) or measure more "
            "stitches (`rounds:` there)")


def _proxy_tau(signals, rows) -> float | None:
    """How well the proxy loss ranks the measured stitches (Kendall tau against their top-1): what
    the proxy model can be trusted with here. None without scores or with fewer than 3 rows."""
    import math

    from scipy.stats import kendalltau

    if not signals or len(rows) < 3:
        return None
    tau = kendalltau([-signals[m.id]["proxy_loss"] for m in rows], [m.acc1 for m in rows]).statistic
    return round(float(tau), 3) if math.isfinite(tau) else None


def _proxy_scores(space, spec, path: Path, checkpoint: str, cfg: RunConfig, network, reuse: bool,
                  calibration=None):
    """``(scores, reused)``: the proxy scores of ``checkpoint``, the saved ones when they are
    of it and of the same images, else scored afresh (every candidate, prefixes shared) and saved."""
    from ..measure import proxy_dataset, proxy_label, read_proxies, score_proxies, write_proxies

    label = proxy_label(spec, cfg.proxy_images)
    if reuse and path.is_file():
        try:
            saved = read_proxies(path, space)
        except StitchnasError:
            saved = []  # another space version or a broken file: scored again below
        from ..measure import checkpoint_digest

        digest = checkpoint_digest(checkpoint)
        bn_label = batchnorm_label(calibration)
        if saved and all(s.checkpoint == checkpoint and s.dataset == label and s.batchnorm == bn_label
                         and s.checkpoint_sha256 in (None, digest) for s in saved):
            return saved, True
    data, disjoint = proxy_dataset(spec, cfg.proxy_images)
    scores = score_proxies(space, network(), data, disjoint=disjoint, label=label, checkpoint=checkpoint,
                           device=cfg.device, progress=False, calibration=calibration)
    write_proxies(path, scores)
    return scores, False


def _current_table(space, target, repeats: int, validate: int, seed: int, log: Callable[[str], None]):
    """``(table, status)``: this machine's latency table for ``target``, profiled if missing; a
    saved one is re-timed when it predates per-round composition, else checked first by timing
    the anchors end to end and re-timed unless it :func:`fits_machine` as it runs now."""
    from ..costs import get_latency_table, time_end_to_end

    table = get_latency_table(space, target, repeats=repeats, validate=validate, seed=seed)
    if not table.reused:
        return table, "profiled"
    if table.per_round:
        anchors = [c.id for c in space.candidates if c.is_anchor]
        now = time_end_to_end(space, target, anchors, repeats=repeats, progress=False)
        drift = drift_pct({i: table.latency_ms(i) for i in anchors}, now)
        if fits_machine(drift):
            return table, "reused"
        log(f"{target.name}: the saved latency table is {off_by(drift)} (anchors timed end to end): "
            "re-timing it")
        why = f"the saved table was {abs(drift):.0f}% off this machine now"
    else:
        log(f"{target.name}: the saved latency table predates per-round composition (it sums the "
            "pieces' percentiles, which runs low): re-timing it")
        why = "the saved table predated per-round composition"
    table = get_latency_table(space, target, repeats=repeats, rebuild=True, validate=validate, seed=seed)
    return table, f"re-timed ({why})"
