"""The ``stitchnas`` command line. Bad input ends in one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from ..errors import StitchnasError

__all__ = ["main"]


def _cmd_spaces(args: argparse.Namespace) -> int:
    from ..space import list_spaces, load_space

    for name in list_spaces(args.pattern):
        space = load_space(name)
        anchors = ", ".join(f"{a.name}={a.model}" for a in space.anchors)
        print(f"{name:<20} {space.rule.name:<9} {anchors}")
    return 0


def _cmd_enumerate(args: argparse.Namespace) -> int:
    from ..costs import Profiler
    from ..space import load_space

    space = load_space(args.space)
    costs = Profiler(space, use_cache=not args.no_cache, progress=None).profile()
    out = sys.stdout
    if args.format == "jsonl":
        for c in costs:
            out.write(json.dumps(c.to_json()) + "\n")
    else:
        out.write(f"# {space.name}: {len(costs)} candidates ({space.num_ids} ids), rule "
                  f"{space.rule.name}, input {list(space.input_size)}, fvcore flops at batch 1\n")
        unit, scale = ("GFLOPs", 1e9) if max(c.flops for c in costs) >= 1e9 else ("MFLOPs", 1e6)
        out.write(f"{'id':>5}  {unit:>9}  {'Mparams':>8}  route\n")
        for c in costs:
            out.write(f"{c.id:>5}  {c.flops / scale:>9.4f}  {c.params / 1e6:>8.3f}  "
                      f"{space.describe(c.route)}\n")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from ..bench import bench_profiling
    from ..space import load_space

    space = load_space(args.space)
    report = bench_profiling(space, repeats=args.repeats, out_dir=Path(args.out), progress=None)
    print(json.dumps(report, indent=1))
    print(f"{space.name}: {report['candidates']} candidates; compositional "
          f"{report['compositional_s']:.2f} s vs tracing every candidate {report['full_trace_s']:.2f} s "
          f"(median of {report['repeats']}): {report['speedup']}x faster, identical counts: "
          f"{report['identical']}", file=sys.stderr)
    return 0 if report["identical"] else 1


def _data_spec(args: argparse.Namespace, space):
    """The dataset: --data (a name, or a folder = ImageFolder), else the space's ``data``."""
    from ..measure import DataSpec

    name = getattr(args, "data", None) or (space.extra.get("data") or {}).get("name")
    root = getattr(args, "data_root", None) or (space.extra.get("data") or {}).get("root")
    if not name:
        raise StitchnasError(
            f"space {space.name!r} names no dataset: pass --data fashion_mnist|digits|DIR"
        )
    if Path(name).is_dir():
        name, root = "imagefolder", name
    return DataSpec(name=name, root=root, input_size=tuple(space.input_size))


def _cmd_train_anchors(args: argparse.Namespace) -> int:
    from ..space import load_space
    from ..measure import AnchorTrainConfig, config_from_space, train_anchors

    space = load_space(args.space)
    cfg = config_from_space(AnchorTrainConfig, space, "anchors", epochs=args.epochs,
                            batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                            train_subset=args.train_subset, val_subset=args.val_subset)
    train_anchors(space, _data_spec(args, space), cfg, device=args.device,
                  only_missing=args.only_missing)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from ..fileio import results_dir
    from ..space import load_space
    from ..measure import StitchTrainConfig, config_from_space, train_stitched

    space = load_space(args.space)
    cfg = config_from_space(
        StitchTrainConfig, space, "stitching", epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, sampling=args.sampling, rank=args.rank, seed=args.seed,
        train_subset=args.train_subset, max_steps=args.max_steps,
        freeze_anchors=False if args.finetune_anchors else None,
        distill=True if args.distill else None,
    )
    out = args.out or results_dir() / space.name / "stitched.pt"
    train_stitched(space, _data_spec(args, space), cfg, out, device=args.device,
                   resume=not args.no_resume)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from ..network import load_network
    from ..measure import load_datasets, make_loader
    from ..measure import measure, network_classes, parse_ids, select_ids
    from ..fileio import results_dir
    from ..measure import read_measurements, write_measurements
    from ..space import load_space

    if args.seed is not None and args.sample is None:
        raise StitchnasError("--seed only applies to --sample K: add --sample or drop --seed")
    if args.study_name is not None and args.storage is None:
        raise StitchnasError("--study-name needs --storage: the study lives in an Optuna storage")
    space = load_space(args.space)
    ids = select_ids(space, ids=parse_ids(args.ids) if args.ids is not None else None,
                     sample=args.sample, seed=args.seed or 0,
                     all=args.ids is None and args.sample is None)
    checkpoint = args.checkpoint or str(results_dir() / space.name / "stitched.pt")
    out = Path(args.out or results_dir() / space.name / "measurements.jsonl")
    spec = dataclasses.replace(_data_spec(args, space), val_subset=args.val_subset)
    if out.exists():
        read_measurements(out, space)  # fail before measuring if --out is broken or another space's
    net = load_network(space, checkpoint)
    _, val, classes = load_datasets(spec)
    if classes != network_classes(net):
        raise StitchnasError(
            f"dataset {spec.name} has {classes} classes but the network predicts "
            f"{network_classes(net)}: evaluate on the dataset the network was trained for"
        )
    dataset = spec.label(len(val))
    loader = make_loader(val, args.batch_size, shuffle=False)
    if args.storage is not None:
        return _evaluate_distributed(args, space, ids, net, loader, out=out, dataset=dataset,
                                     checkpoint=checkpoint, images=len(val),
                                     dataset_key=f"{spec.name}:val:{len(val)}")
    start = time.perf_counter()
    rows = measure(space, net, loader, ids, dataset=dataset, checkpoint=checkpoint, device=args.device)
    elapsed = time.perf_counter() - start
    merged = write_measurements(out, rows)
    best = max(rows, key=lambda r: r.acc1)
    worst = min(rows, key=lambda r: r.acc1)
    print(f"evaluated {len(rows)} candidates of {space.name} on {dataset} ({len(val)} "
          f"images) in {elapsed:.1f} s; acc1 {worst.acc1:.2f}% (id {worst.id}) .. {best.acc1:.2f}% "
          f"(id {best.id})")
    print(f"wrote {len(rows)} rows to {out} ({len(merged)} in the file)")
    return 0


def _evaluate_distributed(args: argparse.Namespace, space, ids, net, loader, *, out: Path,
                          dataset: str, checkpoint: str, images: int, dataset_key: str) -> int:
    """``evaluate --storage``: one worker of many sharing the ids through an Optuna study."""
    from ..storage import evaluate_worker, file_digest
    from ..measure import measure

    def run(chunk_ids):
        return measure(space, net, loader, chunk_ids, dataset=dataset, checkpoint=checkpoint,
                       device=args.device, progress=False)

    work = evaluate_worker(space, ids, run, storage=args.storage, out=out, dataset=dataset_key,
                           checkpoint_key=file_digest(checkpoint), study_name=args.study_name,
                           chunk=args.chunk, stale_after_s=args.stale_after_s)
    if work.stale:
        print(f"stitchnas: note: failed {work.stale} trial(s) left RUNNING by a dead worker and "
              "queued them again", file=sys.stderr)
    mine = ",".join(str(i) for i in work.measured) or "none"
    print(f"this worker measured {len(work.measured)} candidates of {space.name} on {dataset} "
          f"({images} images) in {work.seconds:.1f} s: ids {mine}")
    print(f"study {work.study_name} in {work.storage}: {len(work.rows)} candidates measured; wrote "
          f"them to {out}")
    return 0


def _cmd_bench_evaluate(args: argparse.Namespace) -> int:
    from ..measure import bench_evaluate
    from ..space import load_space

    space = load_space(args.space)
    report = bench_evaluate(space, images=args.images, batch_size=args.batch_size,
                            repeats=args.repeats, out_dir=Path(args.out))
    print(json.dumps(report, indent=1))
    print(f"{space.name}: {report['candidates']} candidates on {report['images']} images; shared "
          f"prefixes {report['shared_s']:.2f} s vs one at a time {report['each_s']:.2f} s (median of "
          f"{report['repeats']}): {report['speedup']}x faster", file=sys.stderr)
    return 0


def _cmd_import_snnet(args: argparse.Namespace) -> int:
    from ..measure import import_snnet, mismatch_lines
    from ..measure import write_measurements
    from ..space import load_space

    space = load_space(args.space)
    result = import_snnet(args.file, space)
    for line in mismatch_lines(result):
        print(f"stitchnas: {line}", file=sys.stderr)
    merged = write_measurements(args.out, result.rows)
    print(f"imported {len(result.rows)} published rows of {space.name} from {args.file} into "
          f"{args.out} ({len(merged)} in the file); flops/params from our profile, "
          f"{len(result.mismatches)} flop disagreement(s)")
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from ..space import load_space
    from ..workflows import snnet_study
    from ..measure import AnchorTrainConfig, StitchTrainConfig, config_from_space

    space = load_space(args.space)
    anchor_cfg = config_from_space(AnchorTrainConfig, space, "anchors", epochs=args.anchor_epochs,
                                   seed=args.seed)
    stitch_cfg = config_from_space(StitchTrainConfig, space, "stitching", epochs=args.epochs,
                                   batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                   train_subset=args.train_subset)
    report = snnet_study(space, _data_spec(args, space), anchor_cfg, stitch_cfg,
                         val_subset=args.val_subset, device=args.device)
    print(json.dumps({k: report[k] for k in ("anchor_acc1", "times_s")}, indent=1))
    for name, st in report["stats"].items():
        print(f"{name:>16}: mean stitch top-1 {st['mean_stitch_acc1']:.2f}%, front {st['front_size']} "
              f"({st['front_stitches']} stitches), hypervolume {st['hypervolume']:.4f}")
    return 0


_AMOUNT_SUFFIX = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def _amount(text: str) -> float | int:
    """A limit: a number >= 0, e.g. 20, 0.5, 1.5e9 or 1.5G (suffixes k, M, G, T)."""
    raw = text.strip()
    scale = 1.0
    if raw and raw[-1].lower() in _AMOUNT_SUFFIX:
        raw, scale = raw[:-1], _AMOUNT_SUFFIX[raw[-1].lower()]
    try:
        value = float(raw) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number like 20, 1.5e9 or 1.5G, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return int(value) if value.is_integer() else value


def _budgets(args: argparse.Namespace) -> dict:
    """The query limits given on the command line (only those set)."""
    names = ("max_latency_ms", "max_flops", "max_params", "max_memory_mb", "min_acc1")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _front_arg(args: argparse.Namespace):
    """Load the front named by SPACE/--target/--front (no space check when only --front is given)."""
    from ..fronts import load_front
    from ..space import DEFAULT_SPACE

    space = args.space if args.space is not None or args.front else DEFAULT_SPACE
    return load_front(space, target=args.target, path=args.front)


def _point_line(front, point) -> str:
    return json.dumps({"space": front.space, "space_hash": front.space_hash, "target": front.target,
                       **point.to_json()})


def _cmd_query(args: argparse.Namespace) -> int:
    from ..fronts import NothingFits

    front = _front_arg(args)
    limits = _budgets(args)
    try:
        if not args.list:
            print(_point_line(front, front.best(**limits)))
            return 0
        members = front.fits(**limits)
        if limits and not members:
            front.best(**limits)  # raises NothingFits with the explanation
    except NothingFits as err:
        print(f"stitchnas: nothing fits: {err}", file=sys.stderr)
        return 1
    if args.format == "jsonl":
        for m in members:
            print(_point_line(front, m))
        return 0
    budgets = ", ".join(f"{k}={v}" for k, v in front.target_budgets.items() if v is not None)
    asked = ", ".join(f"{k}={v}" for k, v in limits.items())
    print(f"# {front.space} on target {front.target}: {len(front.members)} members on the front "
          f"({', '.join(front.objectives)}); budgets: {budgets or 'none'}; predictor: "
          f"{front.predictor or 'none'}; {front.measured_ids} measured ids"
          + (f"; {len(members)} fit {asked}" if limits else ""))
    big = max((m.flops for m in front.members), default=0) >= 1e9
    unit, scale = ("GFLOPs", 1e9) if big else ("MFLOPs", 1e6)
    print(f"{'id':>5}  {'acc1':>6}  {'source':<9}  {unit:>9}  {'Mparams':>8}  {'lat_ms':>8}  "
          f"{'mem_MB':>8}  route")

    def opt(v):
        return f"{v:>8.3f}" if v is not None else f"{'-':>8}"

    from ..fronts._front import _anchor_names

    names = _anchor_names(front, None)  # the bundled space of that name, if its hash matches
    for m in members:
        named = ("  " + ">".join(f"{names[s.anchor]}[{s.start}:{s.end}]" for s in m.route)
                 if names and max(m.route.anchors) < len(names) else "")
        print(f"{m.id:>5}  {m.acc1:>6.2f}  {m.acc1_source:<9}  {m.flops / scale:>9.4f}  "
              f"{m.params / 1e6:>8.3f}  {opt(m.latency_ms)}  {opt(m.memory_mb)}  {m.route}{named}"
              + ("  (anchor)" if m.is_anchor else ""))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    import warnings

    from ..fileio import results_dir
    from ..fronts import NothingFits, build_model, export_model, load_front, resolve_candidate
    from ..space import DEFAULT_SPACE, load_space

    space = load_space(args.space or DEFAULT_SPACE)
    limits = _budgets(args)
    point = None
    if args.id is not None or args.route is not None:
        if limits or args.front:
            raise StitchnasError("budget flags and --front pick a stitch from a front: drop them, or "
                                 "drop --id/--route")
        cand = resolve_candidate(space, args.id if args.id is not None else args.route)
    else:
        front = load_front(space, target=args.target, path=args.front)
        try:
            point = front.best(**limits)
        except NothingFits as err:
            print(f"stitchnas: nothing fits: {err}", file=sys.stderr)
            return 1
        cand = resolve_candidate(space, point)
    checkpoint = args.checkpoint
    if checkpoint is None:
        default = results_dir() / space.name / "stitched.pt"
        if default.is_file():
            checkpoint = str(default)
        elif not cand.is_anchor:
            raise StitchnasError(
                f"stitch {cand.id} ({space.describe(cand.route)}) needs trained stitching layers but "
                f"there is no checkpoint at {default}: train one with `stitchnas train {space.name}` "
                "or pass --checkpoint"
            )
    formats = [f for f in args.format.split(",") if f.strip()]
    out = Path(args.out) if args.out else results_dir() / space.name / "export" / f"{space.name}_id{cand.id}"
    module = build_model(space, cand, checkpoint, device=args.device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = export_model(module, out, space.input_size, batch_size=args.batch_size, formats=formats)
    for w in caught:
        if "skipped ONNX" in str(w.message):
            print(f"stitchnas: note: {w.message}", file=sys.stderr)
    shape = [args.batch_size, *space.input_size]
    chosen = (f"; on the front for target {args.target}: acc1 {point.acc1:.2f}% ({point.acc1_source})"
              if point is not None else "")
    print(f"exported id {cand.id} of {space.name}: {space.describe(cand.route)} ({cand.route}){chosen}; "
          f"checkpoint {checkpoint or 'none (anchor weights)'}")
    for p in paths:
        kind = "TorchScript" if p.suffix == ".pt" else "ONNX"
        print(f"wrote {p} ({kind}, input {shape})")
    return 0


def _cmd_targets(args: argparse.Namespace) -> int:
    from ..costs import list_targets, load_target

    for name in list_targets(args.pattern):
        print(f"{name:<16} {load_target(name).describe()}")
    return 0


def _validate_count(text: str) -> int | str:
    return "all" if text.strip().lower() == "all" else _nonnegative_int(text)


def _cmd_profile_latency(args: argparse.Namespace) -> int:
    from ..costs import get_latency_table, load_latency_table, target_costs, validate_latency
    from ..space import load_space
    from ..costs import load_target

    space = load_space(args.space)
    target = load_target(args.target)
    if not target.measurable:
        costs = target_costs(space, target)
        fit = [c for c in costs if c.feasible]
        print(f"target {target.name} counts {target.cost_model} with fvcore: nothing to time and "
              f"no device needed; {len(fit)} of {len(costs)} candidates of {space.name} fit "
              f"{target.budgets.describe()} (costs: stitchnas enumerate {args.space})")
        return 0
    k = len(space) if args.validate == "all" else args.validate
    if args.any_machine:
        table = load_latency_table(space, target, path=args.out, check_machine=False)
        if k:
            raise StitchnasError("--any-machine shows a table from elsewhere; validation times "
                                 "on this machine: drop --validate or --any-machine")
    else:
        table = get_latency_table(space, target, path=args.out, rebuild=args.force,
                                  repeats=args.repeats, warmup=args.warmup, validate=k,
                                  seed=args.seed, progress=None)
        if table.reused and k:
            table = validate_latency(table, space, target, k, seed=args.seed, repeats=args.repeats,
                                     warmup=args.warmup, progress=None)
            table.save()
    for line in table.summary():
        print(line)
    return 0


def _cmd_bench_latency(args: argparse.Namespace) -> int:
    from ..costs import bench_latency
    from ..space import load_space

    space = load_space(args.space)
    k = len(space) if args.validate == "all" else args.validate
    if not k:
        raise StitchnasError("bench latency needs --validate K >= 1 (or all)")
    report = bench_latency(space, args.target, repeats=args.repeats, warmup=args.warmup,
                           validate=k, seed=args.seed, out_dir=Path(args.out), progress=None)
    print(json.dumps({k: v for k, v in report.items() if k != "validation"}, indent=1))
    loo, raw = report["error_corrected_loo"] or report["error_corrected_fit"], report["error_raw"]
    print(f"{space.name} on {report['target']}: table {report['table_build_s']:.2f} s "
          f"({report['distinct_pieces_timed']} distinct pieces) vs every candidate end to end "
          f"{report['every_candidate_e2e_s']:.1f} s ({report['every_candidate_e2e_is']}): "
          f"{report['speedup_vs_every_candidate']}x; error on {report['validation_k']} candidates: "
          f"median {raw['median_ape_pct']:.2f}% / worst {raw['worst_ape_pct']:.2f}% plain sum, "
          f"median {loo['median_ape_pct']:.2f}% / worst {loo['worst_ape_pct']:.2f}% corrected",
          file=sys.stderr)
    return 0


def _measured(space, path) -> list:
    from ..measure import read_measurements

    if not Path(path).is_file():
        raise StitchnasError(f"measurements file {path} does not exist: measure stitches with "
                             f"`stitchnas evaluate {space.name}` (or import published ones)")
    rows = read_measurements(path, space)
    if not rows:
        raise StitchnasError(f"measurements file {path} has no rows: measure some stitches first")
    return rows


def _cmd_predictor_cv(args: argparse.Namespace) -> int:
    from ..predict import cross_validate
    from ..space import load_space

    space = load_space(args.space)
    rows = _measured(space, args.measurements)
    r = cross_validate(space, rows, args.predictor, train_fraction=args.train_fraction,
                       repeats=args.repeats, seed=args.seed)
    print(f"# {space.name}: {r.rows} measured stitches, fitted on {r.train_size} "
          f"({args.train_fraction:.0%}), scored on the other {r.rows - r.train_size}; mean of "
          f"{r.repeats} random splits (seeds {r.seed}..{r.seed + r.repeats - 1})")
    print(f"{'predictor':<22} {'kendall_tau':>11} {'spearman_rho':>12} {'mae':>7} {'prec@top10%':>11}")
    for label, sc in ((r.predictor, r.scores), ("flops (baseline)", r.baseline)):
        print(f"{label:<22} {sc.kendall_tau:>11.3f} {sc.spearman_rho:>12.3f} {sc.mae:>7.2f} "
              f"{sc.precision_top10:>11.2f}")
    if args.json:
        print(json.dumps(r.to_json()))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from ..predict import make_stitches
    from ..fileio import atomic_write
    from ..predict import create_predictor, predict_with_std
    from ..space import load_space

    space = load_space(args.space)
    rows = _measured(space, args.measurements)
    stitches = make_stitches(space, rows)
    by_id = {s.id: s for s in stitches}
    model = create_predictor(args.predictor, random_state=args.seed).fit(
        [by_id[m.id] for m in rows], np.array([m.acc1 for m in rows]))
    mean, std = predict_with_std(model, stitches)
    measured = {m.id for m in rows}
    with atomic_write(args.out) as fh:
        for i, st in enumerate(stitches):
            fh.write(json.dumps({"id": st.id, "route": st.route.to_json(), "acc1_pred": round(float(mean[i]), 4),
                                 "acc1_std": None if std is None else round(float(std[i]), 4),
                                 "measured": st.id in measured}) + "\n")
    chosen = getattr(model, "chosen_", None)
    print(f"predicted top-1 of {len(stitches)} candidates of {space.name} with {args.predictor}"
          + (f" (chose {chosen})" if chosen else "") + f", fitted on {len(rows)} measured; wrote {args.out}")
    return 0


def _cmd_suggest(args: argparse.Namespace) -> int:
    from ..space import load_space
    from ..predict import suggest

    space = load_space(args.space)
    rows = _measured(space, args.measurements)
    picks = suggest(space, rows, k=args.k, predictor=args.predictor, cost=args.cost,
                    kappa=args.kappa, seed=args.seed, acquisition=args.acquisition)
    if args.format == "jsonl":
        for s in picks:
            print(json.dumps(s.to_json()))
    else:
        print(f"# measure next ({len(picks)} of {len(space) - len(rows)} unmeasured), best first:")
        score = "P(front)" if args.acquisition == "pareto" else "gain"
        print(f"{'id':>5} {'pred top-1':>10} {'std':>6} {args.cost:>12} {score:>8}  route")
        for s in picks:
            print(f"{s.id:>5} {s.acc1_pred:>10.2f} {s.acc1_std:>6.2f} {s.cost:>12.4g} {s.gain:>8.4f}  {s.route}")
        print(f"# then: stitchnas evaluate {space.name} --ids {','.join(str(s.id) for s in picks)}")
    return 0


def _cmd_bench_predictors(args: argparse.Namespace) -> int:
    from ..fileio import write_json
    from ..predict import bench_predictors
    from ..space import load_space

    tables = []
    for item in args.table:
        space_name, sep, path = item.partition("=")
        if not sep:
            raise StitchnasError(f"--table takes SPACE=MEASUREMENTS, got {item!r}")
        space = load_space(space_name)
        tables.append((space, _measured(space, path), space.name))
    report = bench_predictors(tables, args.predictors.split(","), train_fraction=args.train_fraction,
                              repeats=args.repeats, seed=args.seed)
    write_json(Path(args.out) / "predictors.json", report)
    for label, t in report["tables"].items():
        print(f"# {label} ({t['rows']} rows)")
        for name, sc in t["predictors"].items():
            print(f"{name:<18} tau {sc['kendall_tau']:.3f}  rho {sc['spearman_rho']:.3f}  "
                  f"mae {sc['mae']:.2f}  prec@top10% {sc['precision_top10']:.2f}")
    return 0


def _cmd_bench_active(args: argparse.Namespace) -> int:
    from ..space import load_space
    from ..predict import bench_active

    space = load_space(args.space)
    rows = _measured(space, args.measurements)
    r = bench_active(space, rows, args.out, predictor=args.predictor, start=args.start,
                     stop=args.stop, step=args.step, seeds=range(args.seeds))
    print(f"{space.name}: true hypervolume of the predicted front / the true front's, mean of "
          f"{args.seeds} seeds ({args.predictor}):")
    for n, a, b in zip(r["sizes"], r["hv_ratio_active"], r["hv_ratio_random"]):
        print(f"  {n:>3} measured: suggest {a:.4f}   random {b:.4f}")
    print(f"mean over sizes: suggest {r['area_active']:.4f}, random {r['area_random']:.4f}; "
          f"wrote {args.out}/active_{space.name}.json/.png")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from ..optimize import SearchConfig, search_targets

    objectives = tuple(o.strip() for o in args.objectives.split(",") if o.strip()) if args.objectives else None
    config = SearchConfig(objectives=objectives, sampler=args.sampler, n_trials=args.trials,
                          seed=args.seed, storage=args.storage, study_name=args.study_name,
                          predictor=args.predictor, measurements=args.measurements,
                          out_dir=args.out, encoding=args.encoding,
                          stale_after_s=args.stale_after_s)

    def report(r) -> None:
        for note in r.notes:
            print(f"stitchnas: note: {note}", file=sys.stderr)
        front = r.front
        n_pred = sum(m.acc1_source == "predicted" for m in front.members)
        print(f"{front.space} on {r.target}: front of {len(front)} ({len(front) - n_pred} measured, "
              f"{n_pred} predicted accuracy) over {','.join(front.objectives)}, from {r.distinct_candidates} "
              f"distinct of {front.study.get('candidates')} candidates in {r.n_trials_done} trials "
              f"({front.study.get('sampler')}, seed {front.study.get('seed')}, {r.seconds:.1f} s); "
              f"saved {r.path}; study {r.study_name} in {r.storage}")

    search_targets(args.space, args.target, config, on_result=report)
    return 0


def _cmd_bench_search(args: argparse.Namespace) -> int:
    from ..bench import bench_search

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    objectives = tuple(o.strip() for o in args.objectives.split(",") if o.strip())
    r = bench_search(args.space, args.measurements, target=args.target, objectives=objectives,
                     train_fraction=args.train_fraction, trials=args.trials, seeds=seeds,
                     samplers=[s.strip() for s in args.samplers.split(",") if s.strip()],
                     predictor=args.predictor, measure_anchors=args.measure_anchors,
                     choose=args.choose, out_dir=Path(args.out))
    known = (f"{r['train_size']} of {r['candidates']} stitches measured"
             + (" (the anchors among them)" if r["measure_anchors"] else "")
             + (" (anchors, random, then chosen by suggest)" if r["choose"] == "suggest" else "")
             + (f", {r['predictor']} predicts the rest" if r["train_size"] < r["candidates"] else ""))
    print(f"{r['space']}: {known}; true hypervolume of the found front / the true front's "
          f"(nadir reference; chance reference in brackets), mean of {len(r['seeds'])} seeds:")
    ceil = r["ceiling"]
    print(f"  ceiling (predicted front of every candidate): {ceil['hv_ratio_nadir_mean']:.4f} "
          f"[{ceil['hv_ratio_chance_mean']:.4f}]")
    for name, e in r["results"].items():
        d = e["distinct"]["mean"][-1]
        print(f"  {name:<8} after {r['trials']} trials: {e['final_nadir']['mean']:.4f} "
              f"[{e['final_chance']['mean']:.4f}], {d:.1f} distinct candidates, "
              f"{e['seconds_mean']:.2f} s per search")
    print(f"wrote {', '.join(r.get('files', []))}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from ..workflows import RunConfig, run
    from ..space import load_space

    space = load_space(args.space)
    targets = tuple(t for t in args.targets.split(",") if t) if args.targets else None
    cfg = RunConfig.from_space(space, targets=targets, device=args.device, seed=args.seed,
                               trials=args.trials)
    report = run(space, config=cfg, out=args.out)
    print(Path(report.report).read_text())
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _nonnegative_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, the same prefix as every error
        message = " ".join(str(message).split())
        self.exit(2, f"stitchnas: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from ..space import DEFAULT_SPACE

    parser = _Parser(prog="stitchnas", description="Neural architecture search over stitch space.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="the main job: anchors, stitching layers, measurements, "
                                   "predictor, latency tables, search and fronts (what is missing)")
    p.add_argument("space", nargs="?", default=DEFAULT_SPACE,
                   help=f"a space YAML path or bundled name (default: {DEFAULT_SPACE})")
    p.add_argument("--targets", help="comma-separated targets (default: the space's run.targets)")
    p.add_argument("--trials", type=_positive_int, help="search trials per target")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="cpu, cuda, ... for training and measuring (default cpu)")
    p.add_argument("--out", help="results root (default: $STITCHNAS_RESULTS or results)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("spaces", help="list bundled search spaces")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'deit*'")
    p.set_defaults(func=_cmd_spaces)

    p = sub.add_parser("enumerate", help="list every candidate of a space with its FLOPs and params")
    p.add_argument("space", nargs="?", default=DEFAULT_SPACE,
                   help=f"a space YAML path or bundled name (default: {DEFAULT_SPACE})")
    p.add_argument("--format", choices=("jsonl", "table"), default="jsonl")
    p.add_argument("--no-cache", action="store_true", help="re-trace instead of using the profile cache")
    p.set_defaults(func=_cmd_enumerate)

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("space", nargs="?", default=DEFAULT_SPACE,
                       help=f"a space YAML path or bundled name (default: {DEFAULT_SPACE})")
        p.add_argument("--data", help="fashion_mnist, digits, or an ImageFolder DIR with train/ and val/ "
                                      "(default: the space's data)")
        p.add_argument("--data-root", help="folder holding the dataset's files")
        p.add_argument("--epochs", type=_nonnegative_int)
        p.add_argument("--batch-size", type=_positive_int)
        p.add_argument("--lr", type=float)
        p.add_argument("--seed", type=int)
        p.add_argument("--train-subset", type=_positive_int, help="train on N samples (quick mode)")
        p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0, ...")

    p = sub.add_parser("train-anchors", help="train a space's anchors from scratch and save them")
    data_args(p)
    p.add_argument("--val-subset", type=_positive_int)
    p.add_argument("--only-missing", action="store_true", help="skip anchors whose checkpoint exists")
    p.set_defaults(func=_cmd_train_anchors)

    p = sub.add_parser("train", help="train the stitching layers (SN-Net); torchrun-ready")
    data_args(p)
    p.add_argument("--sampling", choices=("uniform", "flops"),
                   help="route sampling: uniform (SN-Net) or flops-aware (SN-Netv2)")
    p.add_argument("--rank", type=_positive_int, help="low-rank stitching layers of this rank")
    p.add_argument("--finetune-anchors", action="store_true", help="train the anchors too")
    p.add_argument("--distill", action="store_true", help="distil from the largest anchor")
    p.add_argument("--max-steps", type=_positive_int)
    p.add_argument("--out", help="checkpoint path (default: results/SPACE/stitched.pt)")
    p.add_argument("--no-resume", action="store_true", help="start over even if --out exists")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="measure candidates' accuracy into a measurements file")
    p.add_argument("space", nargs="?", default=DEFAULT_SPACE,
                   help=f"a space YAML path or bundled name (default: {DEFAULT_SPACE})")
    p.add_argument("--checkpoint", help="stitched checkpoint (default: results/SPACE/stitched.pt)")
    p.add_argument("--data", help="fashion_mnist, digits, or an ImageFolder DIR with train/ and val/ "
                                  "(default: the space's data)")
    p.add_argument("--data-root", help="folder holding the dataset's files")
    p.add_argument("--val-subset", type=_positive_int, help="measure on N validation images")
    p.add_argument("--batch-size", type=_positive_int, default=256)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--ids", help="comma-separated ids or ranges, e.g. 3,7,10-12")
    which.add_argument("--sample", type=_positive_int, help="K distinct ids drawn with --seed")
    which.add_argument("--all", action="store_true", help="every candidate (the default)")
    p.add_argument("--seed", type=int, help="seed for --sample (default 0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0, ...")
    p.add_argument("--storage", help="share the work with other `evaluate` workers through this "
                   "Optuna storage (postgresql://..., a .db or .journal file): each id is measured "
                   "once by one of them")
    p.add_argument("--study-name", help="with --storage: the work queue's study (default: derived "
                   "from the space, dataset, checkpoint and ids)")
    p.add_argument("--chunk", type=_positive_int, default=8, help="with --storage: ids a worker "
                   "takes at a time (they share prefixes when measured together; default 8)")
    p.add_argument("--stale-after-s", type=_positive_float, default=60.0, help="with --storage: "
                   "a worker's trial without a heartbeat for this long is redone (default 60)")
    p.add_argument("--out", help="measurements file (default: results/SPACE/measurements.jsonl); "
                                 "re-measured ids replace their rows")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("import-snnet", help="published SN-Net stitches_res.txt -> measurements file")
    p.add_argument("file", help="stitches_res.txt (Python dict or JSON per line) or a JSONL file")
    p.add_argument("--space", required=True, help="the space the results were published for, "
                                                  "e.g. deit_tsb_v1")
    p.add_argument("--out", required=True, help="measurements file to write (merged by id)")
    p.set_defaults(func=_cmd_import_snnet)

    p = sub.add_parser("study", help="SN-Net study: random vs least-squares vs trained stitching "
                                     "layers, FLOPs-aware vs uniform sampling, every stitch measured")
    data_args(p)
    p.add_argument("--anchor-epochs", type=_positive_int, help="epochs for anchors that are missing")
    p.add_argument("--val-subset", type=_positive_int)
    p.set_defaults(func=_cmd_study)

    p = sub.add_parser("predictor-cv", help="how well a predictor ranks unmeasured stitches, against "
                                            "the FLOPs baseline (repeated random splits)")
    p.add_argument("space", nargs="?", default=DEFAULT_SPACE)
    p.add_argument("--measurements", required=True, help="a measurements file of the space")
    p.add_argument("--train-fraction", type=float, default=0.2)
    p.add_argument("--repeats", type=_positive_int, default=20)
    p.add_argument("--predictor", default="auto", help="a name (stitchnas predictors), or module:Class")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="also print the report as one JSON line")
    p.set_defaults(func=_cmd_predictor_cv)

    p = sub.add_parser("predict", help="fit a predictor on every measured row and predict every candidate")
    p.add_argument("space", nargs="?", default=DEFAULT_SPACE)
    p.add_argument("--measurements", required=True)
    p.add_argument("--predictor", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="JSONL: id, route, acc1_pred, acc1_std, measured")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("suggest", help="the unmeasured stitches most likely to be on the Pareto "
                                       "front (worth measuring next)")
    p.add_argument("space", nargs="?", default=DEFAULT_SPACE)
    p.add_argument("--measurements", required=True)
    p.add_argument("--k", type=_positive_int, default=8)
    p.add_argument("--predictor", default="auto")
    p.add_argument("--cost", choices=("flops", "params"), default="flops")
    p.add_argument("--acquisition", choices=("pareto", "optimistic"), default="pareto",
                   help="pareto: probability of being on the front, from posterior samples; "
                        "optimistic: hypervolume gain at mean + kappa * std")
    p.add_argument("--kappa", type=float, default=1.0,
                   help="pareto: scale of the posterior spread (0: the predicted front); "
                        "optimistic: mean + kappa * std")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    p.set_defaults(func=_cmd_suggest)

    p = sub.add_parser("predictors", help="list predictors (built-in, registered, entry points)")
    p.add_argument("pattern", nargs="?", default="*")
    p.set_defaults(func=lambda a: print("\n".join(__import__("stitchnas.predict", fromlist=["x"])
                                                   .list_predictors(a.pattern))) or 0)

    p = sub.add_parser("bench", help="benchmarks (commands, not tests)")
    bsub = p.add_subparsers(dest="bench", required=True, parser_class=_Parser)
    b = bsub.add_parser("profiling", help="compositional profiling vs tracing every candidate")
    b.add_argument("space", nargs="?", default="deit3_sl_v2")
    b.add_argument("--repeats", type=_positive_int, default=3)
    b.add_argument("--out", default="results/benchmarks", help="folder for the JSON report")
    b.set_defaults(func=_cmd_bench)
    b = bsub.add_parser("evaluate", help="evaluation with shared prefixes vs one candidate at a time")
    b.add_argument("space", nargs="?", default=DEFAULT_SPACE)
    b.add_argument("--images", type=_positive_int, default=2000)
    b.add_argument("--batch-size", type=_positive_int, default=250)
    b.add_argument("--repeats", type=_positive_int, default=3)
    b.add_argument("--out", default="results/benchmarks", help="folder for the JSON report")
    b.set_defaults(func=_cmd_bench_evaluate)

    def budget_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--target", default="cpu", help="hardware target the front was searched for "
                                                       "(default: cpu)")
        p.add_argument("--front", help="front.json to read (default: results/SPACE/TARGET/front.json)")
        p.add_argument("--max-latency-ms", type=_amount, help="latency limit on the target (ms)")
        p.add_argument("--max-flops", type=_amount, help="FLOPs limit, e.g. 1.5e9 or 1.5G")
        p.add_argument("--max-params", type=_amount, help="parameter limit, e.g. 5e6 or 5M")
        p.add_argument("--max-memory-mb", type=_amount, help="memory limit on the target (MB)")
        p.add_argument("--min-acc1", type=_amount, help="least top-1 accuracy (%%)")

    p = sub.add_parser("query", help="the most accurate stitch on a saved front within budgets (JSON)")
    p.add_argument("space", nargs="?", default=None,
                   help=f"a space YAML path or bundled name (default: {DEFAULT_SPACE})")
    budget_args(p)
    p.add_argument("--list", action="store_true", help="print the whole front (members that fit "
                                                       "the given limits)")
    p.add_argument("--format", choices=("table", "jsonl"), default="table", help="for --list")
    p.set_defaults(func=_cmd_query)

    p = sub.add_parser("export", help="write one stitch as a standalone TorchScript/ONNX file")
    p.add_argument("space", nargs="?", default=None,
                   help=f"a space YAML path or bundled name (default: {DEFAULT_SPACE})")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--id", type=_nonnegative_int, help="candidate id")
    which.add_argument("--route", help="route, e.g. '0[0:4]>1[4:12]'")
    budget_args(p)
    p.add_argument("--checkpoint", help="stitched checkpoint (default: results/SPACE/stitched.pt "
                                        "if present)")
    p.add_argument("--out", help="output path without suffix (default: "
                                 "results/SPACE/export/SPACE_idN); .pt/.onnx are added")
    p.add_argument("--format", default="torchscript,onnx",
                   help="comma-separated: torchscript, onnx (default: both; ONNX is skipped "
                        "with a note when its exporter is not installed)")
    p.add_argument("--batch-size", type=_positive_int, default=1, help="fixed input batch size")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    p.set_defaults(func=_cmd_export)
    p = sub.add_parser("targets", help="list bundled hardware targets")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'cu*'")
    p.set_defaults(func=_cmd_targets)

    p = sub.add_parser("profile-latency", help="time every distinct piece of a space on this "
                                               "machine for a target: a latency lookup table")
    p.add_argument("space", nargs="?", default=DEFAULT_SPACE,
                   help=f"a space YAML path or bundled name (default: {DEFAULT_SPACE})")
    p.add_argument("--target", required=True, help="a target YAML path or bundled name "
                                                   "(stitchnas targets)")
    p.add_argument("--repeats", type=_positive_int, default=30, help="timed runs per piece "
                                                                      "(median kept; default 30)")
    p.add_argument("--warmup", type=_nonnegative_int, default=5, help="untimed runs first (default 5)")
    p.add_argument("--validate", type=_validate_count, default=0, metavar="K",
                   help="time K random candidates (or 'all') end to end, report the error and fit "
                        "the overhead constants")
    p.add_argument("--seed", type=int, default=0, help="seed choosing the --validate candidates")
    p.add_argument("--out", help="table path (default: results/latency/SPACE__TARGET__KEY.json)")
    p.add_argument("--force", action="store_true", help="re-time even if this machine's table exists")
    p.add_argument("--any-machine", action="store_true",
                   help="only show the saved table, measured on any machine (no timing)")
    p.set_defaults(func=_cmd_profile_latency)

    b = bsub.add_parser("predictors", help="cross-validate predictors on measured tables")
    b.add_argument("--table", action="append", required=True, metavar="SPACE=MEASUREMENTS")
    b.add_argument("--predictors", default="flops,gp,extra_trees,random_forest,auto")
    b.add_argument("--train-fraction", type=float, default=0.2)
    b.add_argument("--repeats", type=_positive_int, default=20)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", default="results/benchmarks")
    b.set_defaults(func=_cmd_bench_predictors)
    b = bsub.add_parser("active", help="suggest vs random choice of stitches to measure")
    b.add_argument("space", nargs="?", default=DEFAULT_SPACE)
    b.add_argument("--measurements", required=True, help="a table with every candidate measured")
    b.add_argument("--predictor", default="gp")
    b.add_argument("--start", type=_positive_int, default=4)
    b.add_argument("--stop", type=_positive_int, default=32)
    b.add_argument("--step", type=_positive_int, default=4)
    b.add_argument("--seeds", type=_positive_int, default=10)
    b.add_argument("--out", default="results/benchmarks")
    b.set_defaults(func=_cmd_bench_active)
    b = bsub.add_parser("latency", help="latency table vs timing every candidate end to end")
    b.add_argument("space", nargs="?", default="deit_tsb_2way")
    b.add_argument("--target", default="cpu", help="target YAML path or bundled name (default: cpu)")
    b.add_argument("--repeats", type=_positive_int, default=30)
    b.add_argument("--warmup", type=_nonnegative_int, default=5)
    b.add_argument("--validate", type=_validate_count, default=24, metavar="K",
                   help="candidates timed end to end (default 24; 'all' measures every one)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", default="results/benchmarks", help="folder for the JSON report")
    b.set_defaults(func=_cmd_bench_latency)

    p = sub.add_parser("search", help="multi-objective Optuna search: the Pareto front of a space on "
                                      "each target (saved as results/SPACE/TARGET/front.json)")
    p.add_argument("space", nargs="?", default=DEFAULT_SPACE,
                   help=f"a space YAML path or bundled name (default: {DEFAULT_SPACE})")
    p.add_argument("--target", action="append", required=True,
                   help="hardware target (YAML path or bundled name); repeat for several")
    p.add_argument("--objectives", help="comma-separated: acc1 and costs among flops, params, "
                                        "latency_ms, memory_mb (default: acc1 and the target's cost)")
    p.add_argument("--sampler", default="nsga2", help="nsga2 (default), tpe, gp, random, exhaustive, "
                                                      "or an Optuna sampler class as module:Class")
    p.add_argument("--trials", type=_positive_int, help="completed trials the study should hold "
                   "(default: min(3 x candidates, 300); exhaustive: every candidate)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--storage", help="Optuna storage: URL (sqlite:///..., postgresql://...), a .db "
                                     "path (SQLite) or a .log path (journal file); default "
                                     "results/SPACE/search.db")
    p.add_argument("--study-name", help="default: derived from space, target, objectives, sampler, "
                                        "seed and inputs (the same command resumes its study); "
                                        "with several targets, -TARGET is appended")
    p.add_argument("--predictor", default="auto", help="predicts unmeasured accuracies (stitchnas "
                                                       "predictors; default auto)")
    p.add_argument("--measurements", help="measurements file (default: results/SPACE/measurements.jsonl)")
    p.add_argument("--out", help="results root for the fronts (default: results)")
    p.add_argument("--encoding", choices=("auto", "relative", "tree"), default="auto",
                   help="stitch as parameters: relative cut depths (default) or the exact tree "
                        "(always for exhaustive)")
    p.add_argument("--stale-after-s", type=_positive_float, default=60.0,
                   help="a RUNNING trial of another worker without a sign of life for this long "
                        "is failed and redone (default 60)")
    p.set_defaults(func=_cmd_search)

    b = bsub.add_parser("search", help="NSGA-II vs TPE vs random against the true front of a fully "
                                       "measured space")
    b.add_argument("space", nargs="?", default=DEFAULT_SPACE)
    b.add_argument("--measurements", help="every candidate measured (default: "
                                          "results/SPACE/measurements.jsonl)")
    b.add_argument("--train-fraction", type=float, default=0.2,
                   help="share of stitches the search may know as measured (default 0.2; 1: all)")
    b.add_argument("--trials", type=_positive_int, default=100)
    b.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds (split and sampler)")
    b.add_argument("--samplers", default="nsga2,tpe,random")
    b.add_argument("--target", default="flops_budget")
    b.add_argument("--objectives", default="acc1,flops")
    b.add_argument("--predictor", default="auto")
    b.add_argument("--measure-anchors", action="store_true",
                   help="the measured share always holds the anchors (as when they were trained first)")
    b.add_argument("--choose", choices=("random", "anchors", "suggest"), default="random",
                   help="how the measured share is chosen: at random, anchors + random, or as "
                        "`stitchnas run` does (anchors + random up to 8, then suggest)")
    b.add_argument("--out", default="results/benchmarks", help="folder for the JSON and PNG report")
    b.set_defaults(func=_cmd_bench_search)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StitchnasError as err:
        print(f"stitchnas: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("stitchnas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
