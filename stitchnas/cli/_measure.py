"""Training and measuring: ``train-anchors``, ``train``, ``evaluate``, ``import-snnet``, ``study``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..errors import StitchnasError
from ._base import (Command, add_space_argument, device, given_options, nonnegative_int, option_name,
                    positive_float, positive_int, seed, share)

__all__ = ["TrainAnchors", "Train", "Evaluate", "Proxy", "ImportSnnet", "Study", "ANCHOR_WEIGHTS"]

#: the ``checkpoint`` of rows measured without a stitched checkpoint (``evaluate --anchors``)
ANCHOR_WEIGHTS = "none (anchor weights)"


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="fashion_mnist, digits, or an ImageFolder DIR with train/ and val/ "
                                       "(default: the space's data)")
    parser.add_argument("--data-root", help="folder holding the dataset's files")
    parser.add_argument("--workers", type=nonnegative_int, help="processes decoding an ImageFolder's images "
                                                                "(default: the space's data section, else 0)")


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """SPACE, the stitched checkpoint and the dataset: what runs candidates needs."""
    add_space_argument(parser)
    parser.add_argument("--checkpoint", help="stitched checkpoint (default: results/SPACE/stitched.pt)")
    add_dataset_arguments(parser)


def add_training_arguments(parser: argparse.ArgumentParser, anchors: bool = False) -> None:
    """SPACE, its dataset and the training knobs every training command takes (``anchors``:
    at least one epoch, as zero would replace trained anchors with untrained weights)."""
    add_space_argument(parser)
    add_dataset_arguments(parser)
    parser.add_argument("--epochs", type=positive_int if anchors else nonnegative_int,
                        help="training epochs (default: the space's training section)")
    parser.add_argument("--batch-size", type=positive_int,
                        help="training batch size (default: the space's training section)")
    parser.add_argument("--lr", type=positive_float, help="learning rate (a finite number > 0)")
    parser.add_argument("--seed", type=seed, help="training seed (default: the space's training section, else 0)")
    parser.add_argument("--train-subset", type=positive_int, help="train on N samples (quick mode)")
    parser.add_argument("--device", type=device, default="cpu", help="cpu, cuda, cuda:0, ...")


def add_batchnorm_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batchnorm", choices=("route", "shared"), default="route",
                        help="BatchNorm statistics: re-estimated for each route on fixed training "
                             "images (route, the default: what `export` ships), or the checkpoint's "
                             "statistics shared by every route (shared); LayerNorm families: no effect")


def _own_statistics(calibration) -> str:
    """What a result line of ``evaluate`` or ``proxy`` adds when each route ran with its own
    BatchNorm statistics (nothing with the checkpoint's shared ones)."""
    from ..measure import batchnorm_label

    label = batchnorm_label(calibration)
    return f"; each route with its own BatchNorm statistics ({label})" if label else ""


def data_spec(args: argparse.Namespace, space):
    """The dataset: --data (a name, or a folder = ImageFolder), else the space's ``data``."""
    from ..measure import space_data

    name = getattr(args, "data", None)
    if not (name or (space.extra.get("data") or {}).get("name")):
        raise StitchnasError(f"space {space.name!r} names no dataset: pass --data fashion_mnist|digits|DIR")
    workers = getattr(args, "workers", None)
    return space_data(space, name, getattr(args, "data_root", None),
                      **({} if workers is None else {"workers": workers}))


class TrainAnchors(Command):
    """train a space's anchors from scratch and save them"""

    name = "train-anchors"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_training_arguments(parser, anchors=True)
        parser.add_argument("--val-subset", type=positive_int,
                            help="report accuracy on N validation images (default: all)")
        parser.add_argument("--grow", action="store_true", default=None,
                            help="start each deeper anchor (ViT, ResNet, ConvNeXt) from the trained one "
                                 "before it (training.anchors.grow; default: the space's)")
        keep = parser.add_mutually_exclusive_group()
        keep.add_argument("--only-missing", action="store_true",
                          help="skip anchors whose checkpoint exists")
        keep.add_argument("--force", action="store_true",
                          help="retrain anchors whose checkpoint exists and replace it")

    def run(self, args: argparse.Namespace) -> int:
        from ..measure import AnchorTrainConfig, config_from_space, refuse_to_replace_weights, train_anchors
        from ..space import load_space

        space = load_space(args.space)
        if not (args.only_missing or args.force):
            refuse_to_replace_weights(space, "--force", "--only-missing")
        cfg = config_from_space(AnchorTrainConfig, space, "anchors", epochs=args.epochs,
                                batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                train_subset=args.train_subset, val_subset=args.val_subset,
                                grow=args.grow)
        train_anchors(space, data_spec(args, space), cfg, device=args.device,
                      only_missing=args.only_missing, force=args.force)
        return 0


class Train(Command):
    """train the stitching layers (SN-Net); torchrun-ready"""

    name = "train"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_training_arguments(parser)
        parser.add_argument("--sampling", choices=("uniform", "flops"),
                            help="route sampling: uniform (SN-Net) or flops-aware (SN-Netv2)")
        parser.add_argument("--rank", type=positive_int, help="low-rank stitching layers of this rank")
        parser.add_argument("--finetune-anchors", action="store_true", help="train the anchors too")
        parser.add_argument("--anchor-share", type=share, metavar="P",
                            help="with the anchors trained: draw an anchor at this share of the steps "
                            "(0 < P <= 1), the stitches by --sampling at the rest")
        parser.add_argument("--distill", action="store_true", help="distil from the largest anchor")
        parser.add_argument("--max-steps", type=positive_int,
                            help="stop after N optimizer steps in all (quick checks)")
        parser.add_argument("--out", help="checkpoint path (default: results/SPACE/stitched.pt)")
        parser.add_argument("--no-resume", action="store_true", help="start over even if --out exists")

    def run(self, args: argparse.Namespace) -> int:
        from ..measure import StitchTrainConfig, config_from_space, train_stitched
        from ..paths import checkpoint_path
        from ..space import load_space

        space = load_space(args.space)
        cfg = config_from_space(
            StitchTrainConfig, space, "stitching", epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, sampling=args.sampling, rank=args.rank, seed=args.seed,
            train_subset=args.train_subset, max_steps=args.max_steps,
            freeze_anchors=False if args.finetune_anchors else None,
            distill=True if args.distill else None, anchor_share=args.anchor_share,
        )
        out = args.out or checkpoint_path(space.name)
        train_stitched(space, data_spec(args, space), cfg, out, device=args.device,
                       resume=not args.no_resume)
        return 0


class Evaluate(Command):
    """measure candidates' accuracy into a measurements file"""

    name = "evaluate"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_checkpoint_arguments(parser)
        parser.add_argument("--val-subset", type=positive_int, help="measure on N validation images")
        parser.add_argument("--batch-size", type=positive_int, default=256,
                            help="images per forward pass (default 256)")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--ids", help="comma-separated ids or ranges, e.g. 3,7,10-12")
        which.add_argument("--sample", type=positive_int, help="K distinct ids drawn with --seed")
        which.add_argument("--all", action="store_true", help="every candidate (the default)")
        which.add_argument("--anchors", action="store_true", help="the anchors alone, with their own "
                           "weights: no stitched checkpoint needed (unless --checkpoint is given); "
                           "the search then starts from their accuracies")
        parser.add_argument("--seed", type=seed, help="seed for --sample (default 0)")
        parser.add_argument("--device", type=device, default="cpu", help="cpu, cuda, cuda:0, ...")
        parser.add_argument("--storage", help="share the work with other `evaluate` workers through this "
                            "Optuna storage (postgresql://..., a .db file, a .journal file or "
                            "journal:PATH): each id is measured once by one of them")
        parser.add_argument("--study-name", help="with --storage: the work queue's study (default: derived "
                            "from the space, dataset, checkpoint and ids)")
        parser.add_argument("--chunk", type=positive_int, help="with --storage: ids a worker "
                            "takes at a time (they share prefixes when measured together; default 8)")
        parser.add_argument("--stale-after-s", type=positive_float, help="with --storage: "
                            "a worker's trial without a heartbeat for this long is redone (default 60)")
        add_batchnorm_argument(parser)
        parser.add_argument("--out", help="measurements file (default: results/SPACE/measurements.jsonl); "
                                          "re-measured ids replace their rows")

    def run(self, args: argparse.Namespace) -> int:
        import dataclasses
        import time

        from ..measure import (load_datasets, make_loader, measure, network_classes, parse_ids,
                               read_measurements, select_ids, write_measurements)
        from ..network import load_network
        from ..paths import checkpoint_path, measurements_path
        from ..space import load_space

        if args.seed is not None and args.sample is None:
            raise StitchnasError("--seed only applies to --sample K: add --sample or drop --seed")
        given = given_options(args, "study_name", "chunk", "stale_after_s")
        if given and args.storage is None:
            raise StitchnasError(f"{option_name(next(iter(given)))} needs --storage: it sets how workers "
                                 "share the ids through an Optuna storage; add --storage or drop it")
        if args.anchors and args.storage is not None:
            raise StitchnasError("--anchors measures a few networks on one worker: drop --storage")
        space = load_space(args.space)
        if args.anchors:
            ids = [c.id for c in space.candidates if c.is_anchor]
        else:
            ids = select_ids(space, ids=parse_ids(args.ids) if args.ids is not None else None,
                             sample=args.sample, seed=args.seed or 0,
                             all=args.ids is None and args.sample is None)
        checkpoint = args.checkpoint or (None if args.anchors else str(checkpoint_path(space.name)))
        out = Path(args.out or measurements_path(space.name))
        spec = dataclasses.replace(data_spec(args, space), val_subset=args.val_subset)
        held = read_measurements(out, space) if out.exists() else []  # fails if broken or another space's
        if not args.checkpoint and checkpoint is not None and not Path(checkpoint).exists():
            from ..paths import results_flag

            given = shlex.quote(space.given_as)
            raise StitchnasError(f"no stitched checkpoint at {checkpoint}: train one with `stitchnas train "
                                 f"{given}{results_flag()}`, or measure the anchors alone with "
                                 f"`stitchnas evaluate {given} --anchors`")
        if checkpoint is not None:
            from ..measure import checkpoint_digest, measured_elsewhere

            stale = measured_elsewhere(held, checkpoint, checkpoint_digest(checkpoint))
            if stale:
                shown_ids = ",".join(map(str, stale[:8])) + (",..." if len(stale) > 8 else "")
                raise StitchnasError(
                    f"{out} holds rows of an earlier version of the checkpoint (ids {shown_ids}; "
                    f"{Path(checkpoint).name} was trained again since): new rows would mix two networks; "
                    "measure into a new file (--out NEW.jsonl)")
        from ..fileio import check_writable

        check_writable(out, "measurements file")  # fail before measuring if --out cannot be written
        net = load_network(space, checkpoint)
        if checkpoint is None:
            checkpoint = ANCHOR_WEIGHTS
            for a in space.anchors:
                if not (a.checkpoint or a.pretrained):
                    print(f"stitchnas: note: anchor {a.name!r} has no weights (no checkpoint, not "
                          "pretrained): it is measured with random weights", file=sys.stderr)
        _, val, classes = load_datasets(spec)
        if classes != network_classes(net):
            raise StitchnasError(
                f"dataset {spec.name} has {classes} classes but the network predicts "
                f"{network_classes(net)}: evaluate on the dataset the network was trained for"
            )
        dataset = spec.label(len(val))
        loader = make_loader(val, args.batch_size, shuffle=False)
        from ..measure import route_calibration

        calibration = route_calibration(space, spec, args.batchnorm)
        if args.storage is not None:
            code = self.run_distributed(args, space, ids, net, loader, out=out, dataset=dataset,
                                        calibration=calibration, checkpoint=checkpoint, images=len(val),
                                        dataset_key=spec.study_key(len(val)) + (
                                            f":{calibration.recipe.label()}" if calibration else ""),
                                        classes=classes)
            _warn_other_table(space, out, held, dataset, given=args.out is not None)
            return code
        from ..measure import (EvaluationInterrupted, batchnorm_label, evaluation_key, load_partial,
                               partial_path, save_partial, weights_digest)

        state = partial_path(out)
        key = evaluation_key(space, ids, weights_digest(net), dataset, len(val),
                             batchnorm_label(calibration))
        resume, note = load_partial(state, key)
        if note:
            print(f"stitchnas: note: {note}", file=sys.stderr)
        if resume is not None:
            import torch.utils.data

            print(f"stitchnas: note: resuming the interrupted evaluation saved in {state}: "
                  f"{resume.n_samples} of {len(val)} images already counted", file=sys.stderr)
            loader = make_loader(torch.utils.data.Subset(val, range(resume.n_samples, len(val))),
                                 args.batch_size, shuffle=False)

        owned = [resume is not None]  # the state file is this evaluation's: removed once done

        def keep(partial) -> None:
            save_partial(state, key, partial)
            owned[0] = True

        start = time.perf_counter()
        try:
            rows = measure(space, net, loader, ids, dataset=dataset, checkpoint=checkpoint,
                           device=args.device, resume=resume, on_checkpoint=keep, calibration=calibration)
        except EvaluationInterrupted as err:
            if err.partial.n_samples == 0:  # in the BatchNorm calibration or the first batch
                print("stitchnas: interrupted before the first batch of images was counted: nothing to "
                      "keep; run the same command again", file=sys.stderr)
                return 130
            keep(err.partial)
            print(f"stitchnas: interrupted after {err.partial.n_samples} of {len(val)} images; their "
                  f"counts are saved in {state}: run the same command again to resume", file=sys.stderr)
            return 130
        elapsed = time.perf_counter() - start
        merged = write_measurements(out, rows)
        if owned[0]:
            state.unlink(missing_ok=True)
        _warn_chance(space, rows, classes, len(val))
        _warn_other_table(space, out, held, dataset, given=args.out is not None)
        _warn_mixed_batchnorm(out, merged)
        others = sorted({m.checkpoint for m in merged} - {checkpoint, ANCHOR_WEIGHTS})
        if others and checkpoint != ANCHOR_WEIGHTS:
            from ..progress import get_logger

            get_logger("evaluate").warning(
                f"{out} now holds rows of {len(others) + 1} stitched checkpoints ({', '.join(others[:2])}"
                f"{', ...' if len(others) > 2 else ''} and {checkpoint}): predict and search read them as "
                "one network's; measure each checkpoint into its own file to keep them apart")
        resumed = f" (resumed after {resume.n_samples} images)" if resume is not None else ""
        best = max(rows, key=lambda r: r.acc1)
        worst = min(rows, key=lambda r: r.acc1)
        span = (f"{worst.acc1:.2f}% (id {worst.id})" if len(rows) == 1 else
                f"{worst.acc1:.2f}% (id {worst.id}) .. {best.acc1:.2f}% (id {best.id})")
        own = _own_statistics(calibration)
        print(f"evaluated {len(rows)} candidate{'s' * (len(rows) != 1)} of {space.name} on {dataset} ({len(val)} "
              f"images) in {elapsed:.1f} s{resumed}; acc1 {span}{own}")
        print(f"wrote {len(rows)} row{'s' * (len(rows) != 1)} to {out} ({len(merged)} in the file)")
        from ..workflows import line_note

        note = line_note(rows, len(val))
        if note:
            print(note)
        return 0

    def run_distributed(self, args: argparse.Namespace, space, ids, net, loader, *, out: Path,
                        dataset: str, checkpoint: str, images: int, dataset_key: str,
                        classes: int, calibration=None) -> int:
        """``evaluate --storage``: one worker of many sharing the ids through an Optuna study."""
        from ..measure import measure
        from ..fileio import file_digest
        from ..storage import evaluate_worker

        def run(chunk_ids):
            return measure(space, net, loader, chunk_ids, dataset=dataset, checkpoint=checkpoint,
                           device=args.device, progress=False, calibration=calibration)

        work = evaluate_worker(space, ids, run, storage=args.storage, out=out, dataset=dataset_key,
                               checkpoint_key=file_digest(checkpoint), study_name=args.study_name,
                               **given_options(args, "chunk", "stale_after_s"))
        if work.stale:
            print(f"stitchnas: note: failed {work.stale} trial(s) left RUNNING by a dead worker and "
                  "queued them again", file=sys.stderr)
        _warn_chance(space, work.rows, classes, images)
        mine = ",".join(str(i) for i in work.measured) or "none"
        print(f"this worker measured {len(work.measured)} candidates of {space.name} on {dataset} "
              f"({images} images) in {work.seconds:.1f} s: ids {mine}")
        print(f"study {work.study_name} in {work.storage}: {len(work.rows)} candidates measured; wrote "
              f"them to {out}")
        return 0


def _warn_other_table(space, out: Path, held, dataset: str, given: bool) -> None:
    """One warning line each when the rows just written are not in the table a user's next
    `search` reads: the file held rows measured on other images (one table of two evaluations),
    or a new default file now shadows the last `stitchnas run`'s measurements."""
    from ..measure import read_measurements, val_subset_option
    from ..paths import MEASUREMENTS, run_dir
    from ..progress import get_logger

    log = get_logger("evaluate")
    others = sorted({m.dataset for m in held} - {dataset})
    if others:
        option = val_subset_option(others[0]).strip() or (
            "without --val-subset" if val_subset_option(dataset) else "")
        log.warning(f"{out} now holds rows measured on {dataset} and on {', '.join(others)}: predict "
                    "and search read them as one table; measure on the same images"
                    + (f" ({option})" if option else "") + " or into another file (--out)")
    ran = run_dir(space.name) / MEASUREMENTS
    if given or held or not ran.is_file():
        return
    try:
        theirs = read_measurements(ran, space)
    except StitchnasError:
        return
    if theirs:
        option = val_subset_option(theirs[0].dataset)
        log.warning(f"{out} is new: search, predict and suggest now read it instead of the last run's "
                    f"{len(theirs)} rows in {ran}; to measure beside those, pass --out {ran}{option}")


def _warn_mixed_batchnorm(out: Path, rows) -> None:
    """One warning line when ``out``'s rows were measured with BatchNorm statistics set two ways."""
    from ..measure import BATCHNORM_KEY

    kinds = {dict(m.extra).get(BATCHNORM_KEY) or "shared" for m in rows if m.route.num_stitches}
    if len(kinds) > 1:
        from ..progress import get_logger

        get_logger("evaluate").warning(
            f"{out} now holds stitches measured with BatchNorm statistics set {len(kinds)} ways "
            f"({', '.join(sorted(kinds))}): predict and search read them as one table; measure them "
            "all the same way (--batchnorm) or into another file (--out)")


def _warn_chance(space, rows, classes: int, images: int) -> None:
    """The one-line warning for measured anchors no better than guessing, or costlier anchors
    scoring below cheaper ones, and the one for stitches measured through BatchNorm (stderr)."""
    from ..measure import anchors_warning, shared_batchnorm_warning
    from ..progress import get_logger

    for warning in (anchors_warning(space, rows, classes, images), shared_batchnorm_warning(space, rows)):
        if warning:
            get_logger("evaluate").warning(warning)


class Proxy(Command):
    """score every candidate on a small batch of held-out images, for the proxy predictor"""

    name = "proxy"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_checkpoint_arguments(parser)
        from ..measure import PROXY_IMAGES

        parser.add_argument("--images", type=positive_int, default=None,
                            help=f"proxy images (default {PROXY_IMAGES})")
        parser.add_argument("--val-subset", type=positive_int, help="the validation images the "
                            "measurements use (as given to `evaluate`): proxy images are drawn "
                            "from the rest of the split")
        parser.add_argument("--device", type=device, default="cpu", help="cpu, cuda, cuda:0, ...")
        add_batchnorm_argument(parser)
        parser.add_argument("--out", help="proxies file (default: results/SPACE/proxies.jsonl)")

    def run(self, args: argparse.Namespace) -> int:
        import dataclasses
        import time

        from ..fileio import check_writable
        from ..measure import (PROXY_IMAGES, EvaluationInterrupted, proxy_label, proxy_dataset,
                               route_calibration, score_proxies, write_proxies)
        from ..network import load_network
        from ..paths import checkpoint_path, proxies_path, results_flag
        from ..space import load_space

        space = load_space(args.space)
        checkpoint = args.checkpoint or str(checkpoint_path(space.name))
        if not Path(checkpoint).is_file():
            raise StitchnasError(f"no stitched checkpoint at {checkpoint}: proxy scores need trained "
                                 f"stitching layers (`stitchnas train {space.given_as}{results_flag()}`) or "
                                 "--checkpoint")
        out = Path(args.out or proxies_path(space.name))
        check_writable(out, "proxies file")
        images = args.images or PROXY_IMAGES
        spec = dataclasses.replace(data_spec(args, space), val_subset=args.val_subset)
        data, disjoint = proxy_dataset(spec, images)
        net = load_network(space, checkpoint)
        start = time.perf_counter()
        calibration = route_calibration(space, spec, args.batchnorm)
        try:
            scores = score_proxies(space, net, data, disjoint=disjoint, label=proxy_label(spec, images),
                                   checkpoint=checkpoint, device=args.device, calibration=calibration)
        except EvaluationInterrupted as err:
            print(f"stitchnas: interrupted after {err.partial.n_samples} of {len(data)} proxy images: "
                  f"{out} is written only once every candidate is scored (seconds to minutes); run "
                  "the same command again", file=sys.stderr)
            return 130
        write_proxies(out, scores)
        where = ("held out from the measured subset" if disjoint
                 else "shared with the measurements: pass --val-subset to hold them out")
        own = _own_statistics(calibration)
        print(f"scored {len(scores)} candidates of {space.name} on {len(data)} proxy images "
              f"({where}) in {time.perf_counter() - start:.1f} s{own}")
        print(f"wrote {out}")
        return 0


class ImportSnnet(Command):
    """published SN-Net stitches_res.txt -> measurements file"""

    name = "import-snnet"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", help="stitches_res.txt (Python dict or JSON per line) or a JSONL file")
        parser.add_argument("--space", required=True, help="the space the results were published for, "
                                                           "e.g. deit_tsb_v1")
        parser.add_argument("--out", required=True, help="measurements file to write (merged by id)")
        parser.add_argument("--dataset", help="what the results were measured on, for the rows' label "
                                              "(default: the space file's data, else imagenet-1k)")

    def run(self, args: argparse.Namespace) -> int:
        from .._verbs import import_snnet  # stitchnas.import_snnet: the same function
        from ..measure import import_warnings, read_measurements
        from ..space import load_space

        space = load_space(args.space)
        result = import_snnet(args.file, space, out=args.out, dataset=args.dataset)
        for line in import_warnings(result, space.name):
            print(f"stitchnas: {line}", file=sys.stderr)
        merged = read_measurements(args.out, space)
        skipped = f"; {len(result.skipped)} skipped, not networks" if result.skipped else ""
        label = result.rows[0].dataset if result.rows else ""
        print(f"imported {len(result.rows)} published rows ({label}) of {space.name} from {args.file} into "
              f"{args.out} ({len(merged)} in the file{skipped}); flops/params from our profile, "
              f"{len(result.mismatches)} flop disagreement(s)")
        return 0


class Study(Command):
    """SN-Net study: random vs least-squares vs trained stitching layers, FLOPs-aware vs uniform
    sampling, every stitch measured"""

    name = "study"
    needs_cache = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_training_arguments(parser)
        parser.add_argument("--anchor-epochs", type=positive_int, help="epochs for anchors that are missing")
        parser.add_argument("--val-subset", type=positive_int,
                            help="measure every stitch on N validation images (default: all)")
        parser.add_argument("--out", help="folder for the study's tables, checkpoints, plot and report "
                                          "(default: results/SPACE)")
        parser.add_argument("--force", action="store_true",
                            help="replace the measurements files already in that folder")

    def run(self, args: argparse.Namespace) -> int:
        from ..measure import AnchorTrainConfig, StitchTrainConfig, config_from_space
        from ..paths import space_dir
        from ..space import load_space
        from ..workflows import refuse_to_replace_tables, snnet_study

        space = load_space(args.space)
        anchor_cfg = config_from_space(AnchorTrainConfig, space, "anchors", epochs=args.anchor_epochs,
                                       seed=args.seed)
        stitch_cfg = config_from_space(StitchTrainConfig, space, "stitching", epochs=args.epochs,
                                       batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                       train_subset=args.train_subset)
        folder = Path(args.out or space_dir(space.name))
        if not args.force:
            refuse_to_replace_tables(space, folder, "--force", "--out DIR")
        report = snnet_study(space, data_spec(args, space), anchor_cfg, stitch_cfg, out_dir=folder,
                             val_subset=args.val_subset, device=args.device, force=args.force)
        print("anchors: " + ", ".join(f"{name} {acc:.2f}%" for name, acc in report["anchor_acc1"].items()))
        times = report["times_s"]
        print(f"took {sum(times.values()):.0f} s: " + ", ".join(
            f"{key.removesuffix('_s').replace('_', ' ')} {sec:.0f} s" for key, sec in times.items()))
        for name, st in report["stats"].items():
            print(f"{name:>16}: mean stitch top-1 {st['mean_stitch_acc1']:.2f}%, front "
                  f"{st['front_size']} ({st['front_stitches']} stitch{'es' * (st['front_stitches'] != 1)}), "
                  f"hypervolume {st['hypervolume']:.4f}")
        for key, d in report["mean_stitch_acc1_differences"].items():
            a, b = key.split("_vs_")
            if d is None:
                print(f"{a} - {b}: no per-image outcomes, so not judged")
                continue
            print(f"{a} - {b}: mean stitch top-1 {d['difference']:+.2f} points, standard error "
                  f"{d['stderr']:.2f} (paired over {d['images']:,} images; training seeds not varied): "
                  + ("within measurement noise" if d["within_noise"] else "beyond measurement noise"))
        print(f"wrote {folder}/: measurements.jsonl (FLOPs-aware), measurements_uniform.jsonl, measurements.md, "
              "measured_front.png, snnet_study.json")
        return 0
