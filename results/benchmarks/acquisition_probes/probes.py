"""`suggest` ranking stitches by their expected share of the front's hypervolume instead of their
probability of being on it (2026-12-06, late). Seen on `fmnist_vit_sl_v2`: in every seed the
first suggestion is the cheapest stitch (id 6, `s[0:5]>l[10:12]`, 2.12 MFLOPs, 58.2%), next to the
small anchor (0.40 MFLOPs, 62.8%) across an empty stretch of FLOPs. As the cheapest stitch it is
on a draw's front whenever its draw beats that anchor, however slightly, so it is often on the
front, yet what it could add there is a thin strip; six measurements in all, and the
out-and-back routes on the true front go unmeasured. Variants, each `suggest` patched here only
(the predictor, the plan and everything else as `stitchnas run` has them):

- ``default``: the probability of being on the front (the package's rule);
- ``contribution``: each draw's front, each member's exclusive hypervolume (the area only it
  dominates; accuracy against FLOPs, the draw's nadir as reference), averaged over the draws;
- ``contribution_log``: the same against log-FLOPs.

Scored by the default search from structure alone (`bench search --choose suggest`, the true
front's hypervolume, nadir reference), seeds 0-9, on every fully measured two-way table:

    python results/benchmarks/acquisition_probes/probes.py default contribution contribution_log
writes results/benchmarks/acquisition_probes/<variant>.json; ``--table`` prints the table.
"""
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

from stitchnas.bench import bench_search
from stitchnas.pareto import pareto_mask
from stitchnas.predict import _suggest  # its suggest is what measurement_plan calls

def _tables():
    """The twelve tables and their tuning/judging roles, as the route probes have them."""
    spec = importlib.util.spec_from_file_location(
        "route_probes", Path(__file__).resolve().parents[1] / "route_probes" / "probes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.R, module.TUNING, module.JUDGING


R, TUNING, JUDGING = _tables()
SEEDS = tuple(range(10))


def exclusive_contributions(acc: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Each point's exclusive hypervolume (maximise acc, minimise cost; 0 off the front), the
    reference just beyond the front's worst corner (`nadir_reference`)."""
    out = np.zeros(len(acc))
    on = np.flatnonzero(pareto_mask(acc, cost))
    on = on[np.lexsort((-acc[on], cost[on]))]  # cheapest first; accuracy rises along the front
    ref_a, ref_c = _suggest.nadir_reference(acc[on], cost[on])
    a, c = acc[on], cost[on]
    below = np.r_[ref_a, a[:-1]]
    beyond = np.r_[c[1:], ref_c]
    out[on] = np.clip(a - below, 0, None) * np.clip(beyond - c, 0, None)
    return out


def patched_suggest(log: bool):
    """`suggest` ranking by the draws' mean exclusive hypervolume (against log-cost if ``log``)."""

    def suggest(space, rows, k=8, predictor=None, cost="flops", kappa=1.0, seed=0, acquisition="pareto",
                samples=1024, shape_spread=_suggest.SHAPE_SPREAD, signals=None):
        space = _suggest.load_space(space)
        stitches, measured, mean, std, draws = _suggest._posterior_draws(
            space, rows, predictor, seed, samples, kappa, shape_spread, signals)
        c = _suggest.cost_of(stitches, cost)
        cc = np.log(c) if log else c
        measured_set = set(measured)
        out = _suggest._unmeasured_anchors(space, stitches, measured_set, mean, std, c, k)
        score = np.zeros(len(stitches))
        for d in draws:
            score += exclusive_contributions(d, cc)
        score /= len(draws)
        pool = [i for i in range(len(stitches)) if i not in measured_set]
        ids = np.array([s.id for s in stitches])
        for i in sorted(pool, key=lambda i: (-score[i], c[i], ids[i]))[: k - len(out)]:
            s = stitches[i]
            out.append(_suggest.Suggestion(s.id, space.describe(s.route), float(mean[i]), float(std[i]),
                                           float(c[i]), float(score[i]), "expected hypervolume share"))
        return out

    return suggest


def main(variants):
    original = _suggest.suggest
    for variant in variants:
        _suggest.suggest = {"default": original, "contribution": patched_suggest(False),
                            "contribution_log": patched_suggest(True)}[variant]
        out = {}
        for role, tables in (("tuning", TUNING), ("judging", JUDGING)):
            for name, path in tables:
                t0 = time.perf_counter()
                rep = bench_search(name, path, choose="suggest", samplers=(), seeds=SEEDS, out_dir=None,
                                   progress=False)
                per_seed = [d["hv_ratio_nadir"] for d in rep["default_search"]["per_seed"]]
                key = f"{name}:{path[len(R):]}"
                out[key] = {"role": role, "hv_seeds_0_4": round(float(np.mean(per_seed[:5])), 6),
                            "hv_seeds_0_9": round(float(np.mean(per_seed)), 6), "per_seed": per_seed}
                print(variant, key, {k: v for k, v in out[key].items() if k != "per_seed"},
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
        Path(__file__).with_name(f"{variant}.json").write_text(json.dumps(out, indent=1) + "\n")
    _suggest.suggest = original


def table(variants) -> str:
    here = Path(__file__).parent
    runs = {v: json.loads((here / f"{v}.json").read_text()) for v in variants if (here / f"{v}.json").is_file()}
    first = next(iter(runs.values()))
    lines = ["| table | " + " | ".join(runs) + " |", "|---|" + "---:|" * len(runs)]
    for key, row in first.items():
        lines.append(f"| {key} ({row['role']}) | "
                     + " | ".join(f"{r[key]['hv_seeds_0_9']:.4f}" for r in runs.values()) + " |")
    for role in ("tuning", "judging"):
        keys = [k for k, row in first.items() if row["role"] == role]
        lines.append(f"| mean of the {len(keys)} {role} tables | "
                     + " | ".join(f"{np.mean([r[k]['hv_seeds_0_9'] for k in keys]):.4f}" for r in runs.values())
                     + " |")
    held, base = [], []
    for key in first:  # each table held out, the variant chosen on the rest
        rest = [k for k in first if k != key]
        pick = max(runs, key=lambda v: (np.mean([runs[v][k]["hv_seeds_0_9"] for k in rest]), v == "default"))
        held.append(runs[pick][key]["hv_seeds_0_9"])
        base.append(runs["default"][key]["hv_seeds_0_9"])
    lines += ["", f"leave-one-table-out: {np.mean(held):.4f} held out against {np.mean(base):.4f} for the default"]
    return "\n".join(lines)


VARIANTS = ["default", "contribution", "contribution_log"]

if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        print(table(VARIANTS))
    else:
        main(sys.argv[1:] or VARIANTS)
