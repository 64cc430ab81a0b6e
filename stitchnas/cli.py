"""The ``stitchnas`` command line. Bad input ends in one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .errors import StitchnasError

__all__ = ["main"]


def _cmd_spaces(args: argparse.Namespace) -> int:
    from .space import list_spaces, load_space

    for name in list_spaces(args.pattern):
        space = load_space(name)
        anchors = ", ".join(f"{a.name}={a.model}" for a in space.anchors)
        print(f"{name:<20} {space.rule.name:<9} {anchors}")
    return 0


def _cmd_enumerate(args: argparse.Namespace) -> int:
    from .profiler import Profiler
    from .space import load_space

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
    from .benchmarks import bench_profiling
    from .space import load_space

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
    from .data import DataSpec

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
    from .space import load_space
    from .train import AnchorTrainConfig, config_from_space, train_anchors

    space = load_space(args.space)
    cfg = config_from_space(AnchorTrainConfig, space, "anchors", epochs=args.epochs,
                            batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                            train_subset=args.train_subset, val_subset=args.val_subset)
    train_anchors(space, _data_spec(args, space), cfg, device=args.device,
                  only_missing=args.only_missing)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .fileio import results_dir
    from .space import load_space
    from .train import StitchTrainConfig, config_from_space, train_stitched

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

    from .checkpoints import load_network
    from .data import load_datasets, make_loader
    from .evaluate import measure, network_classes, parse_ids, select_ids
    from .fileio import results_dir
    from .measurements import read_measurements, write_measurements
    from .space import load_space

    if args.seed is not None and args.sample is None:
        raise StitchnasError("--seed only applies to --sample K: add --sample or drop --seed")
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
    dataset = f"{spec.name}:val" + (f":subset{len(val)}" if args.val_subset else "")
    if spec.name == "imagefolder":
        dataset = f"imagefolder({spec.root}):val" + (f":subset{len(val)}" if args.val_subset else "")
    start = time.perf_counter()
    rows = measure(space, net, make_loader(val, args.batch_size, shuffle=False), ids,
                   dataset=dataset, checkpoint=checkpoint, device=args.device)
    elapsed = time.perf_counter() - start
    merged = write_measurements(out, rows)
    best = max(rows, key=lambda r: r.acc1)
    worst = min(rows, key=lambda r: r.acc1)
    print(f"evaluated {len(rows)} candidates of {space.name} on {dataset} ({len(val)} "
          f"images) in {elapsed:.1f} s; acc1 {worst.acc1:.2f}% (id {worst.id}) .. {best.acc1:.2f}% "
          f"(id {best.id})")
    print(f"wrote {len(rows)} rows to {out} ({len(merged)} in the file)")
    return 0


def _cmd_bench_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import bench_evaluate
    from .space import load_space

    space = load_space(args.space)
    report = bench_evaluate(space, images=args.images, batch_size=args.batch_size,
                            repeats=args.repeats, out_dir=Path(args.out))
    print(json.dumps(report, indent=1))
    print(f"{space.name}: {report['candidates']} candidates on {report['images']} images; shared "
          f"prefixes {report['shared_s']:.2f} s vs one at a time {report['each_s']:.2f} s (median of "
          f"{report['repeats']}): {report['speedup']}x faster", file=sys.stderr)
    return 0


def _cmd_import_snnet(args: argparse.Namespace) -> int:
    from .interop import import_snnet, mismatch_lines
    from .measurements import write_measurements
    from .space import load_space

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
    from .space import load_space
    from .study import snnet_study
    from .train import AnchorTrainConfig, StitchTrainConfig, config_from_space

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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _nonnegative_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .space import DEFAULT_SPACE

    parser = _Parser(prog="stitchnas", description="Neural architecture search over stitch space.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

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
