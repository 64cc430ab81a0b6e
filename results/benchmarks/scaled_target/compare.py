"""Plain scikit-learn regressors plugged in by name, with and without standardised targets
(2026-12-07): ``make_pipeline(RouteFeaturizer(), StandardScaler(), est)``, what a bare regressor
was put behind before, against the same with ``ScaledTarget(est)`` at the end, what it is put
behind now. Scored as ``predictor-cv`` scores (20% measured at random, Kendall tau and MAE on the
rest, 20 splits) on the twelve tables of the route probes; a fit the scale rule refuses
(``fit_problem``) is recorded as refused.

    python results/benchmarks/scaled_target/compare.py          # about a minute, 2 cores
writes results/benchmarks/scaled_target/compare.json and prints the markdown table of
docs/predictors.md.
"""
import importlib.util
import json
import sys
import warnings
from pathlib import Path

from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from stitchnas import cross_validate, load_space, read_measurements
from stitchnas.errors import StitchnasError
from stitchnas.predict import RouteFeaturizer, ScaledTarget

HERE = Path(__file__).resolve().parent
MODELS = {  # what a user names: the bare regressor, seeded where it takes a seed
    "SVR": lambda seed: SVR(),
    "GaussianProcessRegressor": lambda seed: GaussianProcessRegressor(random_state=seed),
    "MLPRegressor": lambda seed: MLPRegressor(random_state=seed),
    "KernelRidge": lambda seed: KernelRidge(),
}


def _tables():
    """The twelve tables, as the route probes have them (tuning first)."""
    spec = importlib.util.spec_from_file_location("route_probes", HERE.parent / "route_probes" / "probes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TUNING + module.JUDGING


def factory(name: str, scaled: bool):
    def make(random_state=0):
        est = MODELS[name](random_state)
        return make_pipeline(RouteFeaturizer(), StandardScaler(), ScaledTarget(est) if scaled else est)
    make.__qualname__ = f"{name}{'_scaled' if scaled else '_plain'}"
    return make


def main() -> None:
    warnings.simplefilter("ignore")
    out = []
    for name_, path in _tables():
        space = load_space(name_)
        rows = read_measurements(path, space)
        for name in MODELS:
            for scaled in (False, True):
                entry = {"table": name_, "file": path, "model": name, "scaled": scaled}
                try:
                    r = cross_validate(space, rows, factory(name, scaled), repeats=20, progress=False)
                    entry.update(tau=round(r.scores.kendall_tau, 3), mae=round(r.scores.mae, 3),
                                 flops_tau=round(r.baseline.kendall_tau, 3))
                except StitchnasError as err:
                    entry["refused"] = str(err)
                out.append(entry)
                print(json.dumps(entry)[:200], flush=True, file=sys.stderr)
    tmp = HERE / "compare.json.tmp"
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(HERE / "compare.json")
    table(out)


def table(out) -> None:
    cell = {(e["table"], e["file"], e["model"], e["scaled"]): e for e in out}
    keys = list(dict.fromkeys((e["table"], e["file"]) for e in out))
    print("| table | FLOPs | " + " | ".join(f"{m} plain / scaled" for m in MODELS) + " |")
    print("|---|---:|" + "---:|" * len(MODELS))
    for t, f in keys:
        flops = next((e["flops_tau"] for e in out if (e["table"], e["file"]) == (t, f) and "flops_tau" in e), None)
        parts = []
        for m in MODELS:
            a, b = (cell[(t, f, m, s)] for s in (False, True))
            show = [("refused" if "refused" in e else f"{e['tau']:.3f} ({e['mae']:.2f})") for e in (a, b)]
            parts.append(" / ".join(show))
        name = t + ("" if f.startswith("results/" + t) else f" ({Path(f).name})")
        print(f"| {name} | {flops:.3f} | " + " | ".join(parts) + " |")


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        table(json.loads((HERE / "compare.json").read_text()))
    else:
        main()
