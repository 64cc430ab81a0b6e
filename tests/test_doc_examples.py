"""The Python examples and the quick commands in README.md and docs/*.md run as printed.

tests/test_docs.py checks that they parse and name real things; a budget that nothing on the
committed front fits, or a path the example never wrote, passes that and fails a reader. Each
example runs here in a scratch folder holding a copy of the committed results it reads (and a
stitched checkpoint where it says "after `stitchnas run`"), in the order it appears on its page,
with the names the page defined before it and the files it shows as YAML (``FILES``). Every
example is either run or listed in ``NOT_RUN`` with the reason, so a new one cannot go unchecked
by accident. The commands: every whole
`stitchnas` line of a shell block whose verb reads saved results or counts (``QUICK``), with no
placeholder for the reader to fill in, runs through the real command line and exits 0.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from support import run_cli

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python\n(.*?)^```[ \t]*$", re.M | re.S)

# (page, the example's first line): why it is not run here.
NOT_RUN = {
    ("docs/search.md", "space = sn.load_space(\"my_family.yaml\")"):
        "a space file the reader writes (my_family.yaml); tests/cli/test_start_from_nothing.py runs it",
    ("docs/latency.md", "table = sn.get_latency_table(\"deit_tsb_2way\""):
        "profiles DeiT-Ti/S/B on this machine's CPU (minutes); tests/costs/test_latency.py times smaller ones",
    ("docs/deploy.md", "cfg = timm.data.resolve_model_data_config(model)"):
        "a fragment about a timm anchor's own model, not a whole example",
    ("docs/predictors.md", "def make_ridge(random_state=0):"):
        "a plug-in's source; tests/predict covers factories from dotted paths and entry points",
}
# Files a page shows in a YAML block and its examples then read: (page, file) -> the block's first line.
FILES = {("docs/python.md", "my_space.yaml"): "name: my_space\n"}
YAML = re.compile(r"^```yaml\n(.*?)^```[ \t]*$", re.M | re.S)
PAGES = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
# What an example may read besides the bundled spaces: results/... files committed in the repo.
RESULTS = ("fmnist_vit_2way", "fmnist_resnet_grown", "latency")
SHELL = re.compile(r"^```(?:bash|sh|shell)\n(.*?)^```[ \t]*$", re.M | re.S)
# Verbs that read saved results, count, search a table or export a stitch: seconds each, nothing
# trained or timed. In page order, so an export is there for the `query --model` after it.
QUICK = {"query", "enumerate", "spaces", "targets", "predictors", "search", "predictor-cv", "predict", "suggest",
         "export"}
# What the reader fills in (SPACE, M, ...), elides, chooses between, or brings (a plug-in, a file).
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z0-9_]*\b|\.\.\.|[\[|$<]|mypkg|my_family|/tmp/")


def _examples(page: str) -> list[str]:
    return FENCE.findall((REPO / page).read_text())


def _key(page: str, body: str) -> tuple[str, str] | None:
    return next((k for k in NOT_RUN if k[0] == page and body.startswith(k[1])), None)


def _checkpoint(name: str, path: Path) -> None:
    """A stitched checkpoint of a space as `stitchnas run` leaves one: the shipped anchors,
    stitching layers from least squares on a calibration batch (untrained, which no example reads)."""
    import torch

    import stitchnas as sn
    from stitchnas.network import save_checkpoint

    torch.manual_seed(0)
    space = sn.load_space(name)
    net = sn.StitchedNetwork(space, space.create_models())
    net.init_least_squares(torch.randn(64, *space.input_size))
    save_checkpoint(path, net, anchors_tuned=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("doc_examples")
    for name in RESULTS:
        shutil.copytree(REPO / "results" / name, root / "results" / name)
    for name in ("fmnist_vit_2way", "fmnist_resnet_grown"):
        _checkpoint(name, root / "results" / name / "stitched.pt")
    return root


def _has_fashion_mnist() -> bool:
    from stitchnas.errors import StitchnasError
    from stitchnas.measure._fashion import locate_fashion_mnist

    try:
        locate_fashion_mnist(None)
    except StitchnasError:
        return False
    return True


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
    for (shown_on, file), first in FILES.items():
        if shown_on == page:
            blocks = [b for b in YAML.findall((REPO / page).read_text()) if b.startswith(first)]
            assert blocks, f"{page} no longer shows {file} (a YAML block starting {first!r})"
            (folder / file).write_text(blocks[0])
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


def _commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in SHELL.findall((REPO / page).read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                command = re.split(r"\s+#", line)[0].strip()
                words = command.split()
                if (len(words) > 1 and words[0] == "stitchnas" and words[1] in QUICK
                        and not PLACEHOLDER.search(command.replace("--", ""))):
                    found.append((page, command))
    return found


COMMANDS = _commands()


def test_the_quick_commands_are_found():
    assert len(COMMANDS) >= 10 and {p for p, _ in COMMANDS} >= {"README.md", "docs/run.md"}


@pytest.mark.parametrize("page, command", COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_quick_commands_run_as_printed(page, command, folder, monkeypatch, capsys):
    argv = shlex.split(command)[1:]
    if argv[0] == "export" and (len(argv) < 2 or argv[1].startswith("-")) and not _has_fashion_mnist():
        pytest.skip("exporting the default space's ResNet stitch re-estimates its BatchNorm statistics "
                    "on Fashion-MNIST, which is not installed here")
    monkeypatch.chdir(folder)
    monkeypatch.delenv("STITCHNAS_RESULTS", raising=False)
    if argv[0] == "query" and "--model" in argv and not (folder / argv[argv.index("--model") + 1]).exists():
        # the page's export before it ran in another pytest-xdist worker's folder: run it here first
        for earlier_page, earlier in COMMANDS[:COMMANDS.index((page, command))]:
            if earlier_page == page and shlex.split(earlier)[1] == "export":
                assert run_cli(capsys, *shlex.split(earlier)[1:])[0] == 0, earlier
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, f"{page}: `{command}` exits {code}: {err.strip()[-300:]}"
