"""Ideas aimed at the default search's real misses (2026-12-06), each scored on every fully
measured two-way table by the default search from structure alone (`bench search --choose suggest`,
seeds 0-4: the true front's hypervolume, nadir reference) and by `predictor-cv` (20% at random,
Kendall tau on the rest, 20 splits, `auto`):

- ``leaf2``, ``leaf3``: the route model's extra trees with at least 2 or 3 rows per leaf
  (``RoutePredictor(min_samples_leaf=...)``), so that one collapsed stitch cannot own a leaf. On
  `fmnist_vit_3depth` seeds 0 and 3 the only measured up-stitch is a collapsed one (id 5, 27.05%),
  and fully grown trees give every route with an up-stitch, all twelve unmeasured out-and-back
  routes c>b>c included (62 to 74% measured), its 27%.
- ``unseen_flops``: routes of an anchor sequence with no measured row take half their prediction
  from the FLOPs baseline (the route model's weight halved there; seen shapes unchanged).
- ``huber1``, ``huber10``, ``huber10_leaf2``: the route model's ridge line replaced by a Huber
  line (``sklearn.linear_model.HuberRegressor``, L2 penalty ``alpha`` 1 or 10 on the standardised
  route features), so that one collapsed stitch does not set a column's slope; with fully grown
  trees or leaves of at least 2 rows.
- ``explore_unseen``: the acquisition only (the predictor is unchanged, so is tau): in half of
  `suggest`'s posterior draws, a shape with no measured route takes the FLOPs baseline's
  prediction instead of the route model's (a patch of `stitchnas.predict._suggest`, here only).

    python results/benchmarks/route_probes/probes.py default leaf2 leaf3 unseen_flops explore_unseen \
        huber1 huber10 huber10_leaf2
writes results/benchmarks/route_probes/<variant>.json (about 5 minutes each, 2 cores);
``--table`` prints the markdown table of docs/predictors.md from them.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from stitchnas import cross_validate, read_measurements, register_predictor
from stitchnas.bench import bench_search
from stitchnas.predict import AutoPredictor, FlopsBaseline, RoutePredictor
from stitchnas.predict import _suggest  # explore_unseen patches its per-shape offsets
from stitchnas.predict._predictors import ROUTE_SHRINK  # the registered route model's shrink

R = "results/"
TUNING = [  # the tables the defaults were tuned on
    ("fmnist_vit_2way", R + "fmnist_vit_2way/measurements.jsonl"),
    ("fmnist_resnet", R + "fmnist_resnet/measurements.jsonl"),
]
JUDGING = [
    ("fmnist_vit_sl_v2", R + "fmnist_vit_sl_v2/measurements.jsonl"),
    ("fmnist_vit_3depth", R + "fmnist_vit_3depth/measurements.jsonl"),
    ("fmnist_resnet_2way", R + "fmnist_resnet_2way/measurements.jsonl"),
    ("fmnist_vit_sl_v2_12x24", R + "fmnist_vit_sl_v2_12x24/measurements.jsonl"),
    ("fmnist_vit_sl_v2_long", R + "fmnist_vit_sl_v2_long/measurements.jsonl"),
    ("fmnist_vit_sl_v2_12x24_long", R + "fmnist_vit_sl_v2_12x24_long/measurements.jsonl"),
    ("fmnist_resnet_grown", R + "fmnist_resnet_grown/measurements.jsonl"),
    ("fmnist_convnext_2way", R + "benchmarks/proxies/fmnist_convnext_2way.measurements.jsonl"),
    ("fmnist_vit_sl_v2", R + "benchmarks/proxies/fmnist_vit_sl_v2.measurements.jsonl"),
    ("fmnist_resnet_2way", R + "benchmarks/proxies/fmnist_resnet_2way_per_route.measurements.jsonl"),
]
UNSEEN_WEIGHT = 0.5  # the route model's share, of its usual weight, for a shape with no measured row
EXPLORE_SHARE = 0.5  # the share of suggest's draws in which an unmeasured shape follows FLOPs


class UnseenShapesOnFlops(RoutePredictor):
    """The route model, leaning on the FLOPs baseline for routes of a shape it has not seen."""

    def fit(self, X, y):
        super().fit(X, y)
        self.seen_ = {s.route.anchors for s in X}
        self.flops_ = FlopsBaseline().fit(X, y)
        return self

    def _weights(self, X) -> np.ndarray:
        v = self.route_weight_
        return np.array([v if s.route.anchors in self.seen_ else v * UNSEEN_WEIGHT for s in X])

    def per_tree(self, X):
        trees, ridge, flops = self._parts(X, per_tree=True)
        w, v = self.ridge_weight, self._weights(X)
        return v * ((1 - w) * trees + w * ridge), (1 - v) * flops[0]

    def predict(self, X, return_std: bool = False):
        trees, ridge, (f_mean, f_std) = self._parts(X, per_tree=True)
        w, v = self.ridge_weight, self._weights(X)
        route = (1 - w) * trees.mean(axis=0) + w * ridge
        mean = v * route + (1 - v) * f_mean
        if not return_std:
            return mean
        std = np.sqrt(trees.var(axis=0) + (w * (trees.mean(axis=0) - ridge)) ** 2)
        return mean, np.sqrt((v * std) ** 2 + ((1 - v) * f_std) ** 2 + (v * (1 - v) * (route - f_mean)) ** 2)


class HuberRoute(RoutePredictor):
    """The route model with a Huber line (L2 penalty ``alpha``) in place of its ridge line."""

    def __init__(self, n_estimators=100, ridge_weight=0.5, trend=False, shrink=0.0, random_state=0,
                 min_samples_leaf=1, alpha=1.0):
        super().__init__(n_estimators, ridge_weight, trend, shrink, random_state, min_samples_leaf)
        self.alpha = alpha

    def fit(self, X, y):
        from sklearn.linear_model import HuberRegressor

        super().fit(X, y)
        F = self.features_.transform(X)
        r = np.asarray(y, dtype=float) - np.polyval(self.trend_, F[:, 0])
        self.ridge_ = HuberRegressor(alpha=self.alpha, max_iter=1000).fit(self.scaler_.transform(F), r)
        return self


def _explore_unseen(add_offsets):
    def patched(draws, stitches, measured, y, rng, spread):
        if len(measured) >= 2:
            base = FlopsBaseline().fit([stitches[i] for i in measured], y).predict(stitches)
            seen = {stitches[i].route.anchors for i in measured}
            members: dict = {}
            for i, s in enumerate(stitches):
                if s.route.anchors not in seen:
                    members.setdefault(s.route.anchors, []).append(i)
            for shape in sorted(members):
                cols = members[shape]
                pick = rng.random(len(draws)) < EXPLORE_SHARE
                draws[np.ix_(pick, cols)] = base[cols]
        add_offsets(draws, stitches, measured, y, rng, spread)
    return patched


def predictor_for(variant: str):
    """The name of the predictor ``bench search`` and ``predictor-cv`` get: ``auto`` on the
    variant's route model, built as ``auto`` is (seeded per split and per search seed)."""
    def route(random_state=0):
        return RoutePredictor(shrink=ROUTE_SHRINK, random_state=random_state)

    factories = {
        "default": route,
        "explore_unseen": route,
        "leaf2": lambda random_state=0: RoutePredictor(shrink=ROUTE_SHRINK, min_samples_leaf=2,
                                                       random_state=random_state),
        "leaf3": lambda random_state=0: RoutePredictor(shrink=ROUTE_SHRINK, min_samples_leaf=3,
                                                       random_state=random_state),
        "huber1": lambda random_state=0: HuberRoute(shrink=ROUTE_SHRINK, alpha=1.0,
                                                    random_state=random_state),
        "huber10": lambda random_state=0: HuberRoute(shrink=ROUTE_SHRINK, alpha=10.0,
                                                     random_state=random_state),
        "huber10_leaf2": lambda random_state=0: HuberRoute(shrink=ROUTE_SHRINK, alpha=10.0,
                                                           min_samples_leaf=2, random_state=random_state),
        "unseen_flops": lambda random_state=0: UnseenShapesOnFlops(shrink=ROUTE_SHRINK,
                                                                   random_state=random_state),
    }
    register_predictor(f"probe_{variant}", factories[variant])
    register_predictor(f"probe_auto_{variant}", lambda random_state=0: AutoPredictor(
        candidates=(f"probe_{variant}",), random_state=random_state))
    return f"probe_auto_{variant}"


def main(variants):
    for variant in variants:
        predictor = predictor_for(variant)
        if variant == "explore_unseen":
            _suggest._add_shape_offsets = _explore_unseen(_suggest._add_shape_offsets)
        out = {}
        for role, tables in (("tuning", TUNING), ("judging", JUDGING)):
            for name, path in tables:
                t0 = time.perf_counter()
                rep = bench_search(name, path, choose="suggest", samplers=(), predictor=predictor,
                                   seeds=(0, 1, 2, 3, 4), out_dir=None, progress=False)
                cv = cross_validate(name, read_measurements(path, name), predictor, progress=False)
                key = f"{name}:{path[len(R):]}"
                out[key] = {"role": role, "hv_default_search": rep["default_search"]["hv_ratio_nadir_mean"],
                            "tau": round(cv.scores.kendall_tau, 3),
                            "tau_flops": round(cv.baseline.kendall_tau, 3)}
                print(variant, key, out[key], f"{time.perf_counter() - t0:.0f} s", flush=True)
        Path(__file__).with_name(f"{variant}.json").write_text(json.dumps(out, indent=1) + "\n")


def table(variants) -> str:
    """The figures of the variants' JSON files: hypervolume / tau per table, then judging means."""
    here = Path(__file__).parent
    files = [here / f"{v}.json" for v in variants]
    runs = {f.stem: json.loads(f.read_text()) for f in files if f.is_file()}
    first = next(iter(runs.values()))
    lines = ["| table | FLOPs τ | " + " | ".join(runs) + " |", "|---|---:|" + "---:|" * len(runs)]
    for key, row in first.items():
        cells = [f"{r[key]['hv_default_search']:.4f} / {r[key]['tau']:.3f}" for r in runs.values()]
        lines.append(f"| {key} ({row['role']}) | {row['tau_flops']:.3f} | " + " | ".join(cells) + " |")
    for role in ("tuning", "judging"):
        keys = [k for k, row in first.items() if row["role"] == role]
        cells = [f"{np.mean([r[k]['hv_default_search'] for k in keys]):.4f} / "
                 f"{np.mean([r[k]['tau'] for k in keys]):.3f}" for r in runs.values()]
        lines.append(f"| mean of the {len(keys)} {role} tables | | " + " | ".join(cells) + " |")
    lines.append("")
    for metric in ("hv_default_search", "tau"):  # each table held out, the variant chosen on the rest
        held, base = [], []
        for key in first:
            rest = [k for k in first if k != key]
            pick = max(runs, key=lambda v: (np.mean([runs[v][k][metric] for k in rest]), v == "default"))
            held.append(runs[pick][key][metric])
            base.append(runs["default"][key][metric])
        lines.append(f"leave-one-table-out, {metric}: {np.mean(held):.4f} held out against "
                     f"{np.mean(base):.4f} for the default")
    return "\n".join(lines)


VARIANTS = ["default", "leaf2", "leaf3", "unseen_flops", "explore_unseen", "huber1", "huber10",
            "huber10_leaf2"]

if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        print(table(VARIANTS))
    else:
        main(sys.argv[1:] or VARIANTS)
