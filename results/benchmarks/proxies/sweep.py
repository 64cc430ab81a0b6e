"""How many images a proxy score needs: every table of this folder that has scores at each count,
scored as the docs score it (`predictor-cv`: `auto`'s Kendall tau at 20% measured, 20 splits;
`bench search --choose suggest`: the default pipeline's share of the true front's hypervolume,
5 seeds), and the count chosen leave-one-table-out: for each table, the fewest images with which
the default search reaches 98% on every *other* table; that table is then judged at that count.
Tables measured after the choice (``JUDGES``) are scored at every count too, and choose nothing.

    python results/benchmarks/proxies/sweep.py      # from the repository root; about 9 minutes
    python results/benchmarks/proxies/sweep.py --judges-only   # re-score JUDGES alone, keep the rest

Scores per table and count are ``LABEL.proxiesN.jsonl`` (``LABEL.proxies.jsonl`` at the default
count), made by ``stitchnas proxy SPACE --checkpoint C.pt --val-subset 5000 --images N``; the
checkpoints are not kept. Writes ``images_sweep.json`` here and the search reports to ``with/``
(the default count) and ``images/N/`` (the others).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stitchnas.costs import cpu_name
from stitchnas.measure import PROXY_IMAGES

HERE = Path(__file__).resolve().parent
COUNTS = (256, 512, 1024, 2048)
GOAL = 0.98
#: label -> space: LABEL.measurements.jsonl holds every candidate measured on 5,000 validation images
TABLES = {
    "fmnist_vit_2way": "fmnist_vit_2way",
    "fmnist_vit_sl_v2_12x24": "fmnist_vit_sl_v2_12x24",
    "fmnist_vit_sl_v2": "fmnist_vit_sl_v2",
    "fmnist_resnet": "fmnist_resnet",
    "fmnist_vit_3depth": "fmnist_vit_3depth",
    "fmnist_resnet_2way": "fmnist_resnet_2way",
    "fmnist_vit_grown": "fmnist_vit_grown",
    "fmnist_resnet_grown": "fmnist_resnet_grown",
    "fmnist_convnext_2way": "fmnist_convnext_2way",
    "fmnist_resnet_2way_per_route": "fmnist_resnet_2way",
}
#: tables measured after the count was chosen: scored at every count, left out of the choice
JUDGES = {
    "fmnist_convnext_grown": "results/benchmarks/growth/fmnist_convnext_grown.yaml",
    "fmnist_vit_sl_v2_long": "fmnist_vit_sl_v2_long",              # trained longer (../long_training/)
    "fmnist_vit_sl_v2_12x24_long": "fmnist_vit_sl_v2_12x24_long",
}


def scores_file(label: str, n: int) -> Path:
    return HERE / (f"{label}.proxies.jsonl" if n == PROXY_IMAGES else f"{label}.proxies{n}.jsonl")


def cli(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "stitchnas", *args, "--quiet"], check=True,
                         capture_output=True, text=True)
    return out.stdout


def score(label: str, space: str, n: int) -> dict:
    m, p = str(HERE / f"{label}.measurements.jsonl"), str(scores_file(label, n))
    cv = json.loads(cli("predictor-cv", space, "--measurements", m, "--proxies", p, "--json").splitlines()[-1])
    dest = HERE / ("with" if n == PROXY_IMAGES else f"images/{n}")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cli("bench", "search", space, "--measurements", m, "--proxies", p, "--choose", "suggest",
            "--samplers", "random", "--trials", "10", "--seeds", "0,1,2,3,4", "--out", tmp)
        name = Path(space).stem   # a bundled name, or a space file named as its space
        made, kept = Path(tmp) / f"search_{name}_suggest", dest / f"search_{label}_suggest"
        text = made.with_suffix(".json").read_text()
        report = json.loads(text)
        # named by label (two tables of one space keep both reports), the files it lists with them
        kept.with_suffix(".json").write_text(text.replace(str(made), str(kept.relative_to(HERE.parents[2]))))
        shutil.move(made.with_suffix(".png"), kept.with_suffix(".png"))
    return {"auto_tau": round(cv["scores"]["kendall_tau"], 3), "flops_tau": round(cv["baseline"]["kendall_tau"], 3),
            "spearman_rho": round(cv["scores"]["spearman_rho"], 3), "mae": round(cv["scores"]["mae"], 2),
            "precision_top10": round(cv["scores"]["precision_top10"], 2),
            "default_search_hv": round(report["default_search"]["hv_ratio_nadir_mean"], 4)}


def main() -> None:
    t0 = time.time()
    if "--judges-only" in sys.argv[1:]:  # a judge measured later: the choice and its tables stay as they are
        report = json.loads((HERE / "images_sweep.json").read_text())
        for label, space in JUDGES.items():
            report["judged_after_the_choice"][label] = {str(n): score(label, space, n) for n in COUNTS}
            print("judge", label, flush=True)
        report["judges_scored"] = time.strftime("%Y-%m-%d")
        _write(report)
        return
    tables = {}
    for label, space in TABLES.items():
        tables[label] = {str(n): score(label, space, n) for n in COUNTS}
        print(label, "  ".join(f"{n}: tau {r['auto_tau']:.3f} hv {r['default_search_hv']:.4f}"
                               for n, r in tables[label].items()), flush=True)
    judged = {}
    for label, space in JUDGES.items():
        judged[label] = {str(n): score(label, space, n) for n in COUNTS}
        print("judge", label, "  ".join(f"{n}: tau {r['auto_tau']:.3f} hv {r['default_search_hv']:.4f}"
                                        for n, r in judged[label].items()), flush=True)
    choice = {}
    for held in tables:
        n = next((n for n in COUNTS if all(tables[t][str(n)]["default_search_hv"] >= GOAL
                                           for t in tables if t != held)), None)
        choice[held] = {"images": n, "held_out_hv": None if n is None else tables[held][str(n)]["default_search_hv"]}
        print(f"held out {held}: the others choose {n} images; there it scores {choice[held]['held_out_hv']}")
    report = {"commands": ["python results/benchmarks/proxies/sweep.py"], "date": time.strftime("%Y-%m-%d"),
              "machine": f"{os.cpu_count()}-core {cpu_name()}",
              "goal": GOAL, "counts": list(COUNTS), "tables": tables, "leave_one_table_out": choice,
              "judged_after_the_choice": judged,
              "seconds": round(time.time() - t0, 1)}
    _write(report)


def _write(report: dict) -> None:
    tmp = HERE / "images_sweep.json.tmp"
    tmp.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    tmp.replace(HERE / "images_sweep.json")


if __name__ == "__main__":
    main()
