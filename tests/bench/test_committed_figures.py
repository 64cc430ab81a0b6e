"""The default-search figures quoted in the docs are what the code computes today.

The default search's hypervolume on a fully measured table depends on the predictor and on what
``suggest`` picks; a change to either moves it, and twice a change left a documented figure
stale (docs/search.md's ``fmnist_resnet`` row, the proxy pipeline's table). Each committed
report of a small table is re-run here as it was made (the report's own settings) and must give
the same measured stitches and the same figure, which the docs must quote.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = (REPO / "docs" / "search.md").read_text() + (REPO / "docs" / "predictors.md").read_text()

REPORTS = [  # the small tables (32 to 47 stitches: about 10 s each)
    "results/benchmarks/default_search/search_fmnist_vit_sl_v2_suggest.json",
    "results/benchmarks/default_search/search_fmnist_resnet_suggest.json",
    "results/benchmarks/proxies/with/search_fmnist_resnet_suggest.json",
    "results/benchmarks/batchnorm/without/search_fmnist_resnet_suggest.json",  # per-route BatchNorm
    "results/benchmarks/swin/without/search_fmnist_swin_2way_suggest.json",  # a space file, not bundled
]


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: f"{Path(p).parent.name}/{Path(p).stem}")
def test_committed_default_search_figure_is_reproduced(path):
    from stitchnas.bench import bench_search

    committed = json.loads((REPO / path).read_text())
    proxies = committed.get("proxies")
    space_file = next(iter(REPO.glob(f"results/benchmarks/*/{committed['space']}.yaml")), None)
    report = bench_search(
        str(space_file or committed["space"]), str(REPO / committed["measurements"]),
        target=committed["target"],
        train_fraction=committed["train_fraction"], seeds=tuple(committed["seeds"]),
        samplers=("random",), trials=5, choose=committed["choose"], initial=committed["initial"],
        per_round=committed["per_round"], out_dir=None, progress=False,
        proxies=str(REPO / proxies) if proxies else None)
    measured = [s["measured_ids"] for s in report["ceiling"]["per_seed"]]
    assert measured == [s["measured_ids"] for s in committed["ceiling"]["per_seed"]], \
        f"suggest now measures other stitches: re-run the benchmark and update the docs ({path})"
    figure = report["default_search"]["hv_ratio_nadir_mean"]
    assert figure == pytest.approx(committed["default_search"]["hv_ratio_nadir_mean"], abs=1e-6)
    assert f"{figure:.4f}" in DOCS, f"the docs do not quote {figure:.4f} ({path})"
