"""Every option of every command says what it does, and the listings speak JSON."""

import argparse
import json
import subprocess
import sys

import pytest
from support import run_cli

from stitchnas.cli import build_parser


def _walk(parser, path):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + [name])
        elif not isinstance(action, argparse._HelpAction):
            yield " ".join(path), action


def test_every_option_of_every_command_has_help():
    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}" for path, a in _walk(build_parser(), ["stitchnas"])
               if not a.help or a.help == argparse.SUPPRESS or not a.help.strip()]
    assert not missing, "options without help text:\n" + "\n".join(missing)


def test_every_command_has_a_help_line():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert all(choice.help for choice in sub._choices_actions)


def test_profile_latency_repeats_says_which_statistic_is_kept():
    """The table keeps the 10th percentile (costs.STATISTIC); the help said "median kept"."""
    from stitchnas.costs._table import STATISTIC

    parser = build_parser()
    latency = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["profile-latency"]
    text = next(a for a in latency._actions if "--repeats" in a.option_strings).help
    assert STATISTIC == "p10_ms" and "10th percentile" in text and "median kept" not in text


def test_suggest_shape_spread_help_states_the_default_in_use():
    """The CLI leaves --shape-spread unset (so parsing imports no scikit-learn) and writes its
    default in the help; it must be suggest's own default."""
    from stitchnas.predict import SHAPE_SPREAD

    parser = build_parser()
    cmd = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["suggest"]
    text = next(a for a in cmd._actions if "--shape-spread" in a.option_strings).help
    assert f"default {SHAPE_SPREAD:g};" in text


def test_spaces_json_names_each_anchor_with_its_size(capsys):
    code, out, _ = run_cli(capsys, "spaces", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    from stitchnas.space import list_spaces

    assert [s["name"] for s in doc] == list_spaces()
    demo = next(s for s in doc if s["name"] == "fmnist_vit_2way")
    assert [a["name"] for a in demo["anchors"]] == ["tiny", "small", "base"]
    assert {a["model"] for a in demo["anchors"]} == {"vit_tiny_patch16_224"}
    assert [a["kwargs"]["embed_dim"] for a in demo["anchors"]] == [16, 64, 128]
    assert demo["input_size"] == [1, 28, 28] and demo["rule"]["type"] == "two_way"


def test_spaces_table_tells_anchors_of_one_timm_name_apart(capsys):
    code, out, _ = run_cli(capsys, "spaces", "fmnist_vit_2way")
    assert code == 0 and out.count("\n") == 1
    line = out.strip()
    for name, dim in (("tiny", 16), ("small", 64), ("base", 128)):
        assert f"{name}: vit_tiny_patch16_224(" in line and f"embed_dim={dim}," in line
    assert "num_classes" not in line and "1x28x28" in line


def test_spaces_count_candidates_where_cached_and_build_on_request(capsys, tmp_path, monkeypatch):
    """Counts come from the structure cache (no torch); a space not cached shows ? and a note
    says how to count it; --count builds and caches it."""
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path / "cache"))
    code, out, err = run_cli(capsys, "spaces", "deit*")
    assert code == 0 and out.count(" ? candidates ") == 5
    assert "5 of 5 spaces' candidates are not counted" in err and "`stitchnas spaces --count`" in err
    code, out, _ = run_cli(capsys, "spaces", "deit*", "--format", "json")
    assert [s["candidates"] for s in json.loads(out)] == [None] * 5
    code, out, err = run_cli(capsys, "spaces", "deit*", "--count", "--format", "json")
    sizes = {s["name"]: s["candidates"] for s in json.loads(out)}  # SN-Net v1's 71; SN-Netv2's 134 valid of 135 ids
    assert sizes == {"deit3_bl_v2": 134, "deit3_sb_v2": 134, "deit3_sl_v2": 134, "deit_tsb_2way": 377,
                     "deit_tsb_v1": 71}
    code, out, err = run_cli(capsys, "spaces", "deit*")  # cached now
    assert code == 0 and err == "" and " 71 candidates " in out and " 377 candidates " in out


def test_targets_json(capsys):
    code, out, _ = run_cli(capsys, "targets", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    from stitchnas.costs import list_targets, load_target

    assert [t["name"] for t in doc] == list_targets()
    assert doc == [load_target(n).to_json() for n in list_targets()]
    code, out, _ = run_cli(capsys, "targets", "cu*")
    assert code == 0 and out.startswith("cuda ") and out.count("\n") == 1
    code, out, _ = run_cli(capsys, "targets", "*flops*")  # counts in units people read, keys as files write them
    said = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()}
    assert said["mcu_flops"] == "flops (fvcore, no device), max_flops=5e+06 (5 MFLOPs)"
    assert said["flops_budget"] == "flops (fvcore, no device), max_flops=5e+09 (5 GFLOPs)"


def test_listings_align_their_columns_whatever_the_names(capsys):
    for listing in ("spaces", "targets"):
        code, out, _ = run_cli(capsys, listing)
        starts = {len(line) - len(line.split("  ", 1)[1].lstrip()) for line in out.splitlines()}
        assert code == 0 and len(starts) == 1, out  # the second column starts at one offset


def test_predictors_json_lists_the_registry_without_loading_it(capsys):
    code, out, _ = run_cli(capsys, "predictors", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert all(set(r) == {"name", "source", "about"} for r in rows)
    # the built-in names the CLI lists without scikit-learn are the registry's, in a fresh process
    fresh = subprocess.run([sys.executable, "-c", "from stitchnas.predict import list_predictors; "
                            "print(','.join(list_predictors()))"], capture_output=True, text=True, check=True)
    from stitchnas.cli._predict import BUILTIN_PREDICTORS

    assert fresh.stdout.strip().split(",") == sorted(BUILTIN_PREDICTORS)
    assert {r["name"] for r in rows if r["source"] == "built-in"} == set(BUILTIN_PREDICTORS)
    code, out, _ = run_cli(capsys, "predictors", "gp*", "--format", "json")
    assert [r["name"] for r in json.loads(out)] == ["gp"]


def test_predictors_lists_what_this_process_registered(capsys):
    from stitchnas.predict import PREDICTORS, register_predictor

    register_predictor("zz_mine", lambda random_state=0: None)
    try:
        code, out, _ = run_cli(capsys, "predictors", "zz*", "--format", "json")
        assert json.loads(out) == [{"name": "zz_mine", "source": "registered", "about": ""}]
    finally:
        PREDICTORS._table.pop("zz_mine")


@pytest.mark.parametrize("listing", ["spaces", "targets", "predictors"])
def test_listing_format_is_checked(capsys, listing):
    code, out, err = run_cli(capsys, listing, "--format", "xml")
    assert code == 2 and out == "" and "invalid choice" in err and err.count("\n") == 1
