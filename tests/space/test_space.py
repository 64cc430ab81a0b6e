import json
import os

import pytest

from support import SHARED, tiny_anchor, write_space
from stitchnas.errors import StitchnasError
from stitchnas.costs import Profiler
from stitchnas.space import DEFAULT_SPACE, list_spaces, load_space


def test_bundled_spaces_are_listed_and_load():
    names = list_spaces()
    for expected in ("deit_tsb_v1", "deit3_sl_v2", "deit_tsb_2way", "tiny_test", DEFAULT_SPACE):
        assert expected in names
    assert list_spaces("deit*") == ["deit3_bl_v2", "deit3_sb_v2", "deit3_sl_v2", "deit_tsb_2way", "deit_tsb_v1"]
    assert len(load_space("tiny_test")) == 14
    assert len(load_space(DEFAULT_SPACE)) == 33 and len(load_space("fmnist_vit_2way")) == 83


def test_snnetv2_configs_share_the_numbering_with_their_own_depths():
    """SN-Netv2's S/B (12 and 12 blocks) and B/L (12 and 24) configs: 135 ids, 134 valid each;
    with equal depths every block but the last is a B->S cut, with unequal ones every odd one."""
    sb, bl = load_space("deit3_sb_v2"), load_space("deit3_bl_v2")
    assert (sb.depths, bl.depths) == ((12, 12), (12, 24))
    for space in (sb, bl):
        assert space.num_ids == 135 and len(space) == 134
        with pytest.raises(StitchnasError, match="not a valid network"):
            space.candidate(13)
    assert str(sb.candidate(14).route) == "1[0:1]>0[1:12]" and str(sb.candidate(24).route) == "1[0:11]>0[11:12]"
    assert str(bl.candidate(14).route) == "1[0:2]>0[1:12]" and str(bl.candidate(24).route) == "1[0:22]>0[11:12]"


def test_deit3_sl_v2_has_134_valid_candidates_in_official_order():
    space = load_space("deit3_sl_v2")
    assert space.depths == (12, 24)
    assert space.num_ids == 135 and len(space) == 134
    assert [c.id for c in space.candidates][:14] == list(range(13)) + [14]
    with pytest.raises(StitchnasError, match="not a valid network"):
        space.candidate(13)
    with pytest.raises(StitchnasError, match="ids 0..134"):
        space.candidate(135)


@pytest.mark.skipif(not (SHARED / "snnet_v1_deit_tsb.jsonl").is_file(), reason="../shared absent")
def test_deit_tsb_v1_matches_snnet_published_table():
    """Ids, routes and fvcore flops agree with SN-Net's stitches_res.txt.

    SN-Net's stitched models skip the final LayerNorm: their counts are ours minus 5*197*d."""
    space = load_space("deit_tsb_v1")
    ref = [json.loads(line) for line in (SHARED / "snnet_v1_deit_tsb.jsonl").read_text().splitlines()]
    costs = Profiler(space).profile()
    assert [c.id for c in costs] == [r["cfg_id"] for r in ref] == list(range(71))
    for c, r in zip(costs, ref):
        if len(c.route) == 1:
            assert (c.flops, c.params) == (r["flops"], r["params"])
        else:
            d = space.feature_specs[c.route.last_anchor][-1].channels
            assert c.flops - 5 * 197 * d == r["flops"], c.route
            assert abs(c.flops - r["flops"]) / r["flops"] < 0.0003


def test_content_hash_tracks_content_not_name(tmp_path):
    body = f"anchors: [{tiny_anchor('s', 16)}, {tiny_anchor('l', 32)}]\nrule: {{type: two_way}}\n"
    a = load_space(write_space(tmp_path, "name: a\n" + body, "a.yaml"))
    b = load_space(write_space(tmp_path, "name: b\n" + body, "b.yaml"))
    c = load_space(write_space(tmp_path, "name: c\n" + body.replace("two_way}", "two_way, stride: 2}"), "c.yaml"))
    assert a.content_hash == b.content_hash != c.content_hash
    assert a.structure_hash == b.structure_hash != c.structure_hash


def test_find_by_route_and_describe():
    space = load_space("tiny_test")
    cand = space.find("0[0:2]>1[2:4]")
    assert space.candidate(cand.id) is cand
    assert space.find([[0, 0, 2], [1, 2, 4]]) is cand
    assert space.describe(cand.route) == "s[0:2]>l[2:4]"
    with pytest.raises(StitchnasError, match="not in space"):
        space.find("0[0:2]>1[3:4]")
    with pytest.raises(StitchnasError, match="names anchor 5"):
        space.find("5[0:4]")


@pytest.mark.parametrize(
    "text, message",
    [
        ("anchors: [\n  {model: x", "not valid YAML at line"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("rule: {type: two_way}\n", "has no 'anchors'"),
        (f"anchors: [{tiny_anchor('s', 16)}]\n", "has no 'rule'"),
        (f"anchors: [{tiny_anchor('s', 16)}]\nstitching: {{rule: {{type: two_way}}}}\n",
         "has no 'rule' at the top level: move it out of 'stitching'"),
        (f"anchors: [{tiny_anchor('s', 16)}, {tiny_anchor('l', 32)}]\nrule: {{type: two_way}}\nrules: 1\n",
         "unknown key"),
        ("anchors: [{model: deit_tiny_patch16_22}, {model: deit_small_patch16_224}]\nrule: {type: snnet_v1}\n",
         "unknown timm model 'deit_tiny_patch16_22'; did you mean deit_tiny_patch16_224"),
        (f"anchors: [{tiny_anchor('s', 16, depth=4)}, {tiny_anchor('l', 32, depth=6)}]\nrule: {{type: snnet_v1}}\n",
         "equal depth"),
        (f"anchors: [{tiny_anchor('s', 16)}, {tiny_anchor('l', 32, patch=4)}]\nrule: {{type: two_way}}\n",
         "same token grid"),
        (f"anchors: [{tiny_anchor('s', 16)}, {tiny_anchor('s', 32)}]\nrule: {{type: two_way}}\n",
         "must be unique"),
        (f"anchors: [{tiny_anchor('s', 16)}, {tiny_anchor('l', 32)}]\nrule: {{type: twoway}}\n",
         "did you mean two_way"),
        (f"anchors: [{tiny_anchor('s', 16)}, {tiny_anchor('l', 32)}]\nrule: {{type: two_way}}\ninput_size: [28, 28]\n",
         "input_size"),
        (f"anchors: [{tiny_anchor('s', 16)}, {tiny_anchor('l', 32)}]\nrule: {{type: two_way}}\nstitching: {{rank: -1}}\n",
         "rank"),
        ("anchors: [{model: vit_tiny_patch16_224, kwargs: {depth: 2, bogus_kwarg: 1}}, {model: vit_tiny_patch16_224}]\n"
         "rule: {type: two_way}\n", "rejects kwargs"),
    ],
)
def test_bad_space_files_are_one_line_errors(tmp_path, text, message):
    path = write_space(tmp_path, text)
    with pytest.raises(StitchnasError, match=message) as info:
        assert load_space(path).candidates  # enumeration checks the anchors against the rule
    assert "\n" not in str(info.value)


def test_a_results_folder_named_like_a_bundled_space_does_not_hide_it(tmp_path, monkeypatch, capsys):
    """`stitchnas --results . run` leaves ./fmnist_resnet_grown/ in the current folder: the bare
    name (and the default, no name at all) still means the bundled space there, in every command;
    a folder given as a path, or one no bundled space is named after, is still a one-line error."""
    from stitchnas.cli import main

    monkeypatch.chdir(tmp_path)
    for name in (DEFAULT_SPACE, "tiny_test", "elsewhere"):
        (tmp_path / name).mkdir()
    assert load_space(DEFAULT_SPACE).name == load_space().name == DEFAULT_SPACE
    assert main(["enumerate", "tiny_test"]) == 0 and "tiny_test" in capsys.readouterr().out
    for given in (f".{os.sep}tiny_test", "elsewhere"):
        with pytest.raises(StitchnasError, match=r"^space file .*(tiny_test|elsewhere) is a folder, not a file"):
            load_space(given)


def test_unknown_bundled_name_suggests():
    with pytest.raises(StitchnasError, match="did you mean deit_tsb_v1"):
        load_space("deit_tsb_v2")
