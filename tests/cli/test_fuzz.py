"""Fuzzing the file readers: broken space files, measurements files, target files and fronts are
loaded or refused with a StitchnasError (the CLI's exit code 2), never another exception.

Inputs are valid documents mutated by hypothesis (keys dropped, duplicated, renamed or retyped;
None, bools, NaN, inf, huge and negative numbers, strings, lists and mappings in any field),
then written as text that may be truncated at any point, spliced with random characters, given a
BOM or CRLF line ends, or replaced by random bytes. Derandomized, so every run tries the same
examples. Model names stay within tiny ViTs or garbage, and numbers in timm kwargs stay small, so
no example builds a large model.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st
from support.fuzzing import as_text, fuzz, mutated

from stitchnas.cli import main
from stitchnas.errors import StitchnasError
from stitchnas.fronts import load_front
from stitchnas.measure import Measurement, read_measurements
from stitchnas.space import load_space
from stitchnas.costs import load_target


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """One folder for the module's examples (each overwrites its file)."""
    return tmp_path_factory.mktemp("fuzz")


def _write(folder: Path, data: bytes, name: str) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------
# (a) space files
# ---------------------------------------------------------------------------------------------
KW = {"img_size": 28, "patch_size": 7, "in_chans": 1, "num_classes": 10, "embed_dim": 16, "depth": 3,
      "num_heads": 2}
SPACE = {
    "name": "fuzz", "description": "tiny", "input_size": [1, 28, 28],
    "anchors": [{"name": "s", "model": "vit_tiny_patch16_224", "kwargs": dict(KW)},
                {"name": "l", "model": "vit_tiny_patch16_224", "kwargs": {**KW, "embed_dim": 32}}],
    "rule": {"type": "two_way", "pairs": "nearest", "max_stitches": 2},
    "stitching": {"rank": None},
}
SPACE_PATHS = (
    [(k,) for k in ("name", "description", "input_size", "anchors", "rule", "stitching", "data",
                    "training", "run", "anchor")]
    + [("input_size", i) for i in range(3)]
    + [("anchors", i) for i in range(3)]
    + [("anchors", i, k) for i in (0, 1) for k in ("name", "model", "kwargs", "checkpoint", "pretrained", "models")]
    + [("anchors", i, "kwargs", k) for i in (0, 1) for k in (*KW, "class_token", "global_pool")]
    + [("rule", k) for k in ("type", "pairs", "max_stitches", "window", "stride", "kernel_size", "stages")]
    + [("stitching", k) for k in ("rank", "ranks")]
)
SPACE_SMALL = {"kwargs", "input_size"}  # no huge numbers: they would build huge models
space_docs = mutated(SPACE, SPACE_PATHS, SPACE_SMALL)


def _space_dump(doc) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@fuzz(300)
@given(data=as_text(space_docs, _space_dump))
def test_space_files_load_or_refuse(work, data):
    path = _write(work, data, "space.yaml")
    try:
        space = load_space(path)
        assert len(space) >= 1  # enumerates (anchors built on the meta device)
        space.layer_shapes, space.content_hash, space.structure_hash  # noqa: B018
        event("loaded")
    except StitchnasError as err:
        event("refused")
        assert str(err) and "\n" not in str(err).strip()


def _run_cli(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@fuzz(80)
@given(data=as_text(space_docs, _space_dump))
def test_enumerate_cli_exits_0_or_2(work, data):
    code, out, err = _run_cli(["enumerate", str(_write(work, data, "space.yaml"))])
    event(f"exit {code}")
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("stitchnas: error:") and err.count("\n") == 1, err
        assert out == ""
    else:
        assert all(json.loads(line)["flops"] > 0 for line in out.splitlines())


# ---------------------------------------------------------------------------------------------
# (b) measurements files
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    return load_space("tiny_test")


def _rows(space) -> list[dict]:
    return [Measurement(id=c.id, route=c.route, acc1=40.0 + c.id, acc5=90.0, loss=1.0, flops=1000 + c.id,
                        params=10 + c.id, dataset="digits:val", checkpoint="c.pt", space=space.name,
                        space_hash=space.content_hash).to_json() for c in space.candidates]


ROW_KEYS = ("id", "route", "acc1", "acc5", "loss", "flops", "params", "dataset", "checkpoint",
            "space", "space_hash", "extra")


@st.composite
def measurement_lines(draw, rows: list[dict]) -> str:
    out = []
    for row in draw(st.lists(st.sampled_from(rows), min_size=0, max_size=5)):
        doc = draw(mutated(row, [(k,) for k in ROW_KEYS] + [("route", 0), ("route", 0, 2),
                                                            ("route", 1, 0)], set()))
        if draw(st.booleans()):
            doc = row  # keep some rows valid
        out.append(json.dumps(doc, allow_nan=True))
    filler = draw(st.sampled_from(["", " ", "\t", "{}", "null", "[]", "1e999", "9" * 5000]))
    if out and filler:
        out.insert(draw(st.integers(0, len(out))), filler)
    return "\n".join(out) + draw(st.sampled_from(["\n", "", "\n\n"]))


@fuzz(300)
@given(data=st.data())
def test_measurement_files_read_or_refuse(tiny, work, data):
    raw = data.draw(as_text(measurement_lines(_rows(tiny)), lambda text: text))
    path = _write(work, raw, "m.jsonl")
    try:
        rows = read_measurements(path, tiny)
    except StitchnasError as err:
        event("refused")
        assert str(err) and "\n" not in str(err).strip()
        return
    event(f"read {'no' if not rows else 'some'} rows")
    for m in rows:  # whatever is accepted is sound
        assert tiny.candidate(m.id).route == m.route
        assert math.isfinite(m.acc1) and 0 <= m.acc1 <= 100
        assert m.space_hash == tiny.content_hash


# ---------------------------------------------------------------------------------------------
# (c) target files and fronts
# ---------------------------------------------------------------------------------------------
TARGET = {"name": "t", "description": "d", "device": "cpu", "cost_model": "latency", "threads": 2,
          "batch_size": 1, "dtype": "float32", "input_size": None,
          "budgets": {"max_latency_ms": 50, "max_memory_mb": 500, "max_flops": 5.0e9, "max_params": 30e6}}
TARGET_PATHS = ([(k,) for k in (*TARGET, "devcie")] + [("budgets", k) for k in (*TARGET["budgets"], "max_x")]
                + [("input_size", 0)])


@fuzz(200)
@given(data=as_text(mutated(TARGET, TARGET_PATHS, set()), _space_dump))
def test_target_files_load_or_refuse(work, data):
    try:
        target = load_target(_write(work, data, "target.yaml"))
        target.describe()
        event("loaded")
    except StitchnasError as err:
        event("refused")
        assert str(err) and "\n" not in str(err).strip()


@pytest.fixture(scope="module")
def front_doc(tiny):
    from stitchnas.fronts import Front, FrontPoint

    members = [FrontPoint(id=c.id, route=c.route, acc1=60.0 + c.id, acc1_source="measured",
                          flops=1000 * (c.id + 1), params=10 * (c.id + 1), latency_ms=1.0 + c.id,
                          is_anchor=c.route.num_stitches == 0) for c in tiny.candidates[:3]]
    return Front(space=tiny.name, space_hash=tiny.content_hash, target="cpu",
                 objectives=("acc1", "latency_ms"), members=tuple(members)).to_json()


FRONT_PATHS = ([(k,) for k in ("format", "space", "space_hash", "target", "target_budgets", "objectives",
                               "predictor", "measurements", "measured_ids", "study", "members",
                               "created", "stitchnas_version")]
               + [("members", i) for i in range(3)] + [("objectives", 1), ("target_budgets", "max_flops")]
               + [("members", i, k) for i in (0, 2) for k in ("id", "route", "acc1", "acc1_source",
                                                             "acc1_std", "flops", "params", "latency_ms",
                                                             "memory_mb", "is_anchor")])


@fuzz(300)
@given(data=st.data())
def test_fronts_load_or_refuse(tiny, front_doc, work, data):
    raw = data.draw(as_text(mutated(front_doc, FRONT_PATHS, set()), lambda d: json.dumps(d, allow_nan=True)))
    path = _write(work, raw, "front.json")
    try:
        front = load_front(tiny, path=path)
        front.best()
        front.fits(max_latency_ms=3.0)
        event("loaded")
    except StitchnasError as err:
        event("refused")
        assert str(err) and "\n" not in str(err).strip()
