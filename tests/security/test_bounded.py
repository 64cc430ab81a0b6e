"""Bounded resources: what stitchnas reads, expands and allocates has a limit, checked before the
work. A YAML alias chain ("billion laughs") is refused in milliseconds, not expanded; files that
are not regular files (FIFOs, devices, folders) are refused before reading, never read; files
past a size cap are refused; huge counts (trials) are refused before a study starts; every
message is one bounded line. Each case runs the real command line as a separate process under a
memory limit (RLIMIT_AS) and a time limit; every file in the working folder is hashed before
and after."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from stitchnas.errors import StitchnasError
from stitchnas.fileio import MAX_YAML_BYTES, MAX_YAML_NODES, load_yaml, read_bytes
from support.hostile import assert_refused, hashes, run

TINY = {"img_size": 28, "patch_size": 7, "in_chans": 1, "num_classes": 10, "embed_dim": 16,
        "depth": 4, "num_heads": 2}
FAST_S = 150  # the whole process, torch import included, on a loaded machine (the in-process bomb check is < 1 s)


def bomb(levels: int = 9, width: int = 10, indent: str = "      ") -> str:
    """An alias chain: ``width ** levels`` values from a few hundred bytes."""
    text = f"{indent}a0: &a0 [{','.join(['lol'] * width)}]\n"
    for i in range(1, levels):
        text += f"{indent}a{i}: &a{i} [{','.join([f'*a{i - 1}'] * width)}]\n"
    return text


def space_text(name: str = "bounded", kwargs_extra: str = "") -> str:
    kw = "".join(f"      {k}: {v}\n" for k, v in TINY.items())
    return (f"name: {name}\ninput_size: [1, 28, 28]\nanchors:\n  - name: s\n    model: vit_tiny_patch16_224\n"
            f"    kwargs:\n{kw}{kwargs_extra}  - name: l\n    model: vit_tiny_patch16_224\n"
            f"    kwargs: {json.dumps({**TINY, 'embed_dim': 32})}\nrule: {{type: two_way}}\n")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bounded")
    (d / "bomb.yaml").write_text(space_text(kwargs_extra=bomb()))
    assert len((d / "bomb.yaml").read_bytes()) < 1200
    (d / "bomb_target.yaml").write_text("name: t\ncost_model: flops\ndevice: null\nextra:\n" + bomb(indent="  "))
    (d / "huge.yaml").write_text(space_text() + "#" * (MAX_YAML_BYTES + 10) + "\n")
    (d / "ok.yaml").write_text(space_text())
    for name, extra in (("deep", "depth: 1000000"), ("negative_depth", "depth: -3"),
                        ("wide", "embed_dim: 100000000"), ("deep_stages", "depths: [2, 2, 5000, 2]")):
        text = space_text(name=name)
        key = extra.split(":")[0]
        text = text.replace(f"      {key}: {TINY[key]}\n", f"      {extra}\n", 1) if key in TINY else \
            text.replace("      depth: 4\n", f"      depth: 4\n      {extra}\n", 1)
        (d / f"{name}.yaml").write_text(text)
    (d / "ckpt_fifo.yaml").write_text(space_text(name="ckpt_fifo").replace(
        "    model: vit_tiny_patch16_224\n", "    model: vit_tiny_patch16_224\n    checkpoint: anchor.fifo.pt\n", 1))
    for name in ("space.fifo.yaml", "m.fifo.jsonl", "front.fifo.json", "target.fifo.yaml", "anchor.fifo.pt"):
        os.mkfifo(d / name)
    (d / "folder.yaml").mkdir()
    (d / "out").mkdir()
    return d


def _check(work: Path, argv, *says) -> str:
    before = hashes(work)
    start = time.monotonic()
    err = assert_refused(run([a.replace("{w}", str(work)) for a in argv], work, timeout=FAST_S * 2), *says)
    assert time.monotonic() - start < FAST_S, "took too long"
    assert hashes(work) == before, "a file was created or changed"
    return err


CASES = {
    "yaml-bomb-space": (["enumerate", "{w}/bomb.yaml"],
                        ["space file", "expands to more than 100,000 values", "use fewer aliases"]),
    "yaml-bomb-target": (["profile-latency", "tiny_test", "--target", "{w}/bomb_target.yaml"],
                         ["target file", "expands to more than 100,000 values"]),
    "yaml-too-big": (["enumerate", "{w}/huge.yaml"], ["space file", "bytes, over the 1,048,576"]),
    "space-fifo": (["enumerate", "{w}/space.fifo.yaml"], ["not a regular file (a FIFO, device or socket)"]),
    "space-dev-zero": (["enumerate", "/dev/zero"], ["space file /dev/zero is not a regular file"]),
    "space-folder": (["enumerate", "{w}/folder.yaml"], ["folder.yaml is a folder, not a file"]),
    "target-fifo": (["profile-latency", "tiny_test", "--target", "{w}/target.fifo.yaml"],
                    ["target file", "not a regular file"]),
    "measurements-fifo": (["predict", "tiny_test", "--measurements", "{w}/m.fifo.jsonl", "--out", "{w}/out/p.jsonl"],
                          ["measurements file", "not a regular file"]),
    "measurements-dev-zero": (["search", "tiny_test", "--target", "flops_budget", "--measurements", "/dev/zero",
                               "--out", "{w}/out"], ["measurements file /dev/zero is not a regular file"]),
    "front-fifo": (["query", "tiny_test", "--front", "{w}/front.fifo.json"], ["front file", "not a regular file"]),
    "front-dev-zero": (["query", "tiny_test", "--front", "/dev/zero"], ["front file /dev/zero is not a regular file"]),
    "path-control-characters": (["enumerate", "{w}/no\nsuch\x1b[31m\r.yaml"],
                                ["no\\nsuch\\x1b[31m\\r.yaml", "does not exist"]),
    "kwargs-depth-huge": (["enumerate", "{w}/deep.yaml"], ["'depth' 1000000 is outside 0..1000 blocks",
                                                           "fix the value"]),
    "kwargs-depth-negative": (["enumerate", "{w}/negative_depth.yaml"], ["'depth' -3 is outside 0..1000"]),
    "kwargs-width-huge": (["enumerate", "{w}/wide.yaml"], ["'embed_dim' 100000000 is larger than 10,000,000"]),
    "kwargs-stage-depth-huge": (["enumerate", "{w}/deep_stages.yaml"], ["'depths' 5000 is outside 0..1000"]),
    "anchor-checkpoint-fifo": (["evaluate", "{w}/ckpt_fifo.yaml", "--data", "digits", "--anchors", "--out",
                                "{w}/out/m.jsonl"], ["checkpoint", "anchor.fifo.pt is not a regular file"]),
    "trials-huge": (["search", "tiny_test", "--target", "flops_budget", "--trials", str(10 ** 18), "--out", "{w}/out"],
                    ["--trials: expected a positive integer up to 1,000,000"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bounded(case, work):
    argv, says = CASES[case]
    _check(work, argv, *says)


def test_aliases_that_expand_to_little_still_load():
    """Anchors and aliases are fine when they expand to little (a shared kwargs mapping)."""
    doc = load_yaml("base: &k {a: 1, b: [1, 2]}\nx: *k\ny: *k\n", "f")
    assert doc["x"] == doc["y"] == {"a": 1, "b": [1, 2]}


def test_bomb_is_refused_in_milliseconds():
    start = time.perf_counter()
    with pytest.raises(StitchnasError, match="expands to more than"):
        load_yaml(bomb(levels=12), "space file x")
    assert time.perf_counter() - start < 1.0
    with pytest.raises(StitchnasError):  # a wide flat list counts too
        load_yaml("[" + ",".join(["1"] * (MAX_YAML_NODES + 1)) + "]", "f")


def test_read_bytes_never_blocks_or_reads_past_the_cap(work, tmp_path):
    with pytest.raises(StitchnasError, match="not a regular file"):
        read_bytes(work / "m.fifo.jsonl", "measurements file")  # a FIFO: would block for ever
    big = tmp_path / "big.json"
    big.write_bytes(b"0" * 2000)
    with pytest.raises(StitchnasError, match="2,000 bytes, over the 1,000"):
        read_bytes(big, "front file", max_bytes=1000)
    assert read_bytes(big, "front file", max_bytes=2000) == b"0" * 2000
    with pytest.raises(FileNotFoundError):
        read_bytes(tmp_path / "nope", "front file")


def test_schema_caps_trials():
    from stitchnas.space._schema import check_section

    with pytest.raises(StitchnasError, match="'trials' must be an integer >= 1"):
        check_section("run", {"trials": 10 ** 18}, "space file x")
    assert yaml.safe_load("val_subset: 1e30")["val_subset"] == "1e30"  # YAML 1.1: a string
    with pytest.raises(StitchnasError, match="'val_subset' must be an integer"):
        check_section("run", {"val_subset": 1.0e30}, "space file x")
