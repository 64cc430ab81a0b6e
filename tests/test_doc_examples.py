"""The Python examples in README.md and docs/*.md run as printed.

tests/test_docs.py checks that they parse and name real things; a budget that nothing on the
committed front fits, or a path the example never wrote, passes that and fails a reader. Each
example runs here in a scratch folder holding a copy of the committed results it reads (and a
stitched checkpoint where it says "after `stitchnas run`"), in the order it appears on its page,
with the names the page defined before it. Every example is either run or listed in ``NOT_RUN``
with the reason, so a new one cannot go unchecked by accident.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python\n(.*?)^```[ \t]*$", re.M | re.S)

# (page, the example's first line): why it is not run here.
NOT_RUN = {
    ("docs/python.md", "import stitchnas as sn\nfrom stitchnas.measure import measure"):
        "trains anchors and a stitched network of a space file the reader writes (my_space.yaml)",
    ("docs/search.md", "space = sn.load_space(\"my_family.yaml\")"):
        "a space file the reader writes (my_family.yaml); tests/cli/test_start_from_nothing.py runs it",
    ("docs/latency.md", "table = sn.get_latency_table(\"deit_tsb_2way\""):
        "profiles DeiT-Ti/S/B on this machine's CPU (minutes); tests/costs/test_latency.py times smaller ones",
    ("docs/deploy.md", "cfg = timm.data.resolve_model_data_config(model)"):
        "a fragment about a timm anchor's own model, not a whole example",
    ("docs/predictors.md", "def make_ridge(random_state=0):"):
        "a plug-in's source; tests/predict covers factories from dotted paths and entry points",
}
PAGES = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
# What an example may read besides the bundled spaces: results/... files committed in the repo.
RESULTS = ("fmnist_vit_2way", "latency")


def _examples(page: str) -> list[str]:
    return FENCE.findall((REPO / page).read_text())


def _key(page: str, body: str) -> tuple[str, str] | None:
    return next((k for k in NOT_RUN if k[0] == page and body.startswith(k[1])), None)


def _checkpoint(path: Path) -> None:
    """A stitched checkpoint of the demo space as `stitchnas run` leaves one: the shipped anchors,
    stitching layers from least squares on a calibration batch (untrained, which no example reads)."""
    import torch

    import stitchnas as sn
    from stitchnas.network import save_checkpoint

    torch.manual_seed(0)
    space = sn.load_space("fmnist_vit_2way")
    net = sn.StitchedNetwork(space, space.create_models())
    net.init_least_squares(torch.randn(64, 1, 28, 28))
    save_checkpoint(path, net, anchors_tuned=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("doc_examples")
    for name in RESULTS:
        shutil.copytree(REPO / "results" / name, root / "results" / name)
    _checkpoint(root / "results" / "fmnist_vit_2way" / "stitched.pt")
    return root


def test_every_example_is_run_or_says_why_not():
    firsts = {(page, body) for page in PAGES for body in _examples(page)}
    stale = [k for k in NOT_RUN if not any(p == k[0] and b.startswith(k[1]) for p, b in firsts)]
    assert not stale, f"NOT_RUN names examples the docs no longer have: {stale}"


@pytest.mark.parametrize("page", [p for p in PAGES if _examples(p)])
def test_examples_run_as_printed(page, folder, monkeypatch):
    import torch

    monkeypatch.chdir(folder)
    monkeypatch.delenv("STITCHNAS_RESULTS", raising=False)
    names: dict = {"x": torch.randn(3, 1, 28, 28)}   # the input `m(x)` in docs/deploy.md runs on
    exec("import stitchnas as sn", names)
    ran = 0
    for number, body in enumerate(_examples(page), 1):
        if _key(page, body):
            continue
        try:
            exec(compile(body, f"{page} example {number}", "exec"), names)
        except Exception as err:  # the example's own error, named with where it stands
            pytest.fail(f"{page}, Python example {number} fails as printed: {type(err).__name__}: {err}")
        ran += 1
    assert ran or all(_key(page, b) for b in _examples(page))
