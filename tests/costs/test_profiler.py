import json

import pytest
import timm
import torch

from stitchnas.network import StitchedNetwork
from stitchnas.costs import Profiler, count_flops, count_params
from stitchnas.space import load_space
from stitchnas.network import StitchingLayer


@pytest.mark.parametrize(
    "name, flops, params",
    [
        ("deit_tiny_patch16_224", 1_258_411_200, 5_717_416),
        ("deit_small_patch16_224", 4_608_338_304, 22_050_664),
    ],
)
def test_deit_reference_counts(name, flops, params):
    model = timm.create_model(name)
    assert count_flops(model, torch.zeros(1, 3, 224, 224)) == flops
    assert count_params(model) == params


def test_count_flops_given_a_shape_says_to_pass_a_tensor():
    """A shape where a tensor belongs used to reach timm's patch embedding as a traceback."""
    from stitchnas.errors import StitchnasError

    model = timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1)
    with pytest.raises(StitchnasError, match=r"not the shape \(3, 32, 32\): pass torch.randn\(1, 3, 32, 32\)"):
        count_flops(model, (3, 32, 32))


def test_fused_attention_is_counted_like_unfused():
    """fvcore cannot see scaled_dot_product_attention; our handle must count QK^T and AV."""
    model = timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=2).eval()
    x = torch.zeros(1, 3, 32, 32)
    fused = count_flops(model, x)
    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = False
    unfused = count_flops(model, x)
    tokens, dim, depth = 17, 192, 2
    assert fused == unfused
    from fvcore.nn import FlopCountAnalysis

    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = True
    blind = int(FlopCountAnalysis(model, x).unsupported_ops_warnings(False).total())
    assert fused - blind == depth * 2 * tokens * tokens * dim  # what plain fvcore misses


def _convmixer():
    from timm.models.convmixer import ConvMixer

    return ConvMixer(dim=32, depth=2, kernel_size=5, patch_size=4, in_chans=1, num_classes=10)


@pytest.mark.parametrize("make", [
    lambda: timm.create_model("sequencer2d_s", in_chans=1, num_classes=10, layers=(1, 1, 1, 1),
                              embed_dims=(16, 32, 32, 32), hidden_sizes=(8, 16, 16, 16)),
    _convmixer,
    lambda: timm.create_model("samvit_base_patch16", in_chans=1, num_classes=10, img_size=32, patch_size=4,
                              embed_dim=32, depth=2, num_heads=2, window_size=4, global_attn_indexes=(1,),
                              neck_chans=16),
], ids=["sequencer2d_bilstm", "convmixer_padding_same", "samvit_relpos_einsum"])
def test_ops_fvcore_miscounts_are_counted_as_the_meta_path_counts_them(make):
    """Sequencer2D's BiLSTMs (aten::lstm) and ConvMixer's padding="same" convolutions
    (aten::_convolution_mode) have no fvcore handle: plain fvcore counts them as 0 (Sequencer2D
    at 64x64 was 41% short, ConvMixer 7%). SAM's relative-position einsums it counts from a
    rounded estimate. With stitchnas's handles the count equals the FlopCounterMode path's."""
    from fvcore.nn import FlopCountAnalysis

    from stitchnas.costs import count_flops_meta

    model = make().eval()
    x = torch.zeros(1, 1, 32, 32)
    counted = count_flops(model, x)
    assert counted == count_flops_meta(model, (1, 32, 32)).fvcore_flops
    plain = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False).total()
    assert counted != plain


class _Einsum(torch.nn.Module):
    def __init__(self, equation):
        super().__init__()
        self.equation = equation

    def forward(self, a, b):
        return torch.einsum(self.equation, a, b)


@pytest.mark.parametrize("equation, a, b, flops", [
    ("bhwc,hkc->bhwk", (1, 17, 19, 23), (17, 29, 23), 17 * 19 * 23 * 29),  # fvcore: 215,450 (4.309e+05 / 2)
    ("abc,abd->acd", (3, 5, 7), (3, 5, 11), 3 * 5 * 7 * 11),  # fvcore's own exact cases agree
    ("ij,jk->ik", (37, 41), (41, 43), 37 * 41 * 43),
])
def test_einsum_contractions_are_counted_exactly(equation, a, b, flops):
    assert count_flops(_Einsum(equation).eval(), (torch.zeros(a), torch.zeros(b))) == flops


def test_an_einsum_that_sums_nothing_is_counted_as_fvcore_counts_it():
    """An outer product is no contraction: fvcore's own handle counts it, unchanged."""
    from fvcore.nn import FlopCountAnalysis

    model, inputs = _Einsum("bi,bj->bij").eval(), (torch.zeros(3, 17), torch.zeros(3, 19))
    assert count_flops(model, inputs) == int(FlopCountAnalysis(model, inputs).total()) > 0


class _Recurrent(torch.nn.Module):
    def __init__(self, rnn, lengths=None):
        super().__init__()
        self.rnn, self.lengths = rnn, lengths

    def forward(self, x):
        if self.lengths is None:
            return self.rnn(x)[0]
        pack = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(self.lengths), batch_first=True)
        return torch.nn.utils.rnn.pad_packed_sequence(self.rnn(pack)[0], batch_first=True)[0]


@pytest.mark.parametrize("rnn, shape, lengths, flops", [
    # time steps x sequences x (every weight matrix's size), one flop per multiply-add
    (torch.nn.LSTM(8, 16, batch_first=True), (3, 5, 8), None, 15 * (64 * 8 + 64 * 16)),
    (torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True), (5, 3, 8), None,
     15 * 2 * (64 * 8 + 64 * 16 + 64 * 32 + 64 * 16)),
    (torch.nn.LSTM(8, 16, proj_size=4, batch_first=True), (3, 5, 8), None, 15 * (64 * 8 + 64 * 4 + 4 * 16)),
    (torch.nn.GRU(8, 16, bidirectional=True), (5, 2, 8), None, 10 * 2 * (48 * 8 + 48 * 16)),
    (torch.nn.RNN(8, 16, bias=False), (5, 8), None, 5 * (16 * 8 + 16 * 16)),  # one sequence, unbatched
    (torch.nn.GRU(8, 16, batch_first=True, bidirectional=True), (2, 5, 8), [5, 3],
     8 * 2 * (48 * 8 + 48 * 16)),  # packed: 5 + 3 steps, not 2 x 5
])
def test_recurrent_layers_are_counted_by_hand(rnn, shape, lengths, flops):
    assert count_flops(_Recurrent(rnn, lengths).eval(), torch.zeros(shape)) == flops


def test_without_source_files_the_handles_digest_is_the_version(monkeypatch):
    import inspect

    import stitchnas
    from stitchnas.costs import _profiler

    def no_source(obj):
        raise OSError("could not get source code")

    monkeypatch.setattr(inspect, "getsource", no_source)
    assert _profiler._handles_digest() == f"stitchnas-{stitchnas.__version__}"


def test_profiles_cached_before_a_handle_changed_are_traced_again(tmp_path, monkeypatch):
    """The profile cache is keyed by the op handles' code too: a profile cached while an op was
    counted as 0 is not read back once the op is counted."""
    from stitchnas.costs import _profiler

    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path))
    space = load_space("tiny_test")
    Profiler(space).profile()
    doc = json.loads(Profiler(space).cache_path.read_text())
    assert doc["versions"]["handles"] == _profiler._handles_digest()
    monkeypatch.delitem(_profiler.EXTRA_OP_HANDLES, "aten::lstm")
    assert _profiler._handles_digest() != doc["versions"]["handles"]
    traced = []
    monkeypatch.setattr(Profiler, "_trace_pieces", lambda self, models: traced.append(1) or doc["pieces"])
    Profiler(space).pieces()
    assert traced and json.loads(Profiler(space).cache_path.read_text())["versions"]["handles"] \
        == _profiler._handles_digest()


def test_composed_counts_equal_whole_network_traces_for_every_candidate():
    space = load_space("tiny_test")
    models = space.create_models(weights=False)
    net = StitchedNetwork(space, models)
    costs = Profiler(space).profile()
    x = torch.zeros(1, *space.input_size)
    for c in costs:
        m = net.route_module(c.id)
        assert (c.flops, c.params) == (count_flops(m, x), count_params(m)), c.route


def test_low_rank_space_counts_the_update(tmp_path):
    text = load_space("tiny_test").path.read_text() + "stitching: {rank: 2}\n"
    path = tmp_path / "lr.yaml"
    path.write_text(text)
    low, full = Profiler(load_space(path)).profile(), Profiler(load_space("tiny_test")).profile()
    net = StitchedNetwork(load_space(path), load_space(path).create_models(weights=False))
    for lo, fu in zip(low, full):
        if len(lo.route) == 1:
            assert (lo.flops, lo.params) == (fu.flops, fu.params)
        else:
            assert lo.flops > fu.flops and lo.params > fu.params
            m = net.route_module(lo.id)
            assert lo.flops == count_flops(m, torch.zeros(1, 1, 28, 28))


def test_deit3_two_way_sample_equals_whole_traces():
    space = load_space("deit3_sl_v2")
    costs = {c.id: c for c in Profiler(space).profile()}
    net = StitchedNetwork(space, space.create_models(weights=False, device="uninitialized"))
    x = torch.zeros(1, 3, 224, 224)
    for cid in (0, 2, 20, 40, 120):  # anchor, S->L, L->S, L->S->L, S->L->S
        m = net.route_module(cid)
        assert (costs[cid].flops, costs[cid].params) == (count_flops(m, x), count_params(m))


def test_profile_cache_is_reused_and_rebuilt_when_broken(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHNAS_CACHE", str(tmp_path))
    space = load_space("tiny_test")
    first = Profiler(space)
    costs = first.profile()
    assert first.traced > 0 and first.cache_path.is_file()
    second = Profiler(load_space("tiny_test"))
    assert second.profile() == costs and second.traced == 0
    first.cache_path.write_text("{not json")
    third = Profiler(load_space("tiny_test"))
    assert third.profile() == costs and third.traced > 0
    assert json.loads(first.cache_path.read_text())["pieces"]


def test_distinct_pieces_are_traced_once():
    space = load_space("deit_tsb_v1")
    prof = Profiler(space, use_cache=False)
    prof.profile()
    # 3 stems + 3 distinct blocks + 3 heads + 2 stitching-layer shapes
    assert prof.traced == 11


def test_stitching_layer_flops():
    layer = StitchingLayer(192, 384)
    assert count_flops(layer, torch.zeros(1, 197, 192)) == 197 * 192 * 384


def test_profile_cache_versions_come_from_metadata_or_the_package(monkeypatch):
    """The cache key is read without importing timm or fvcore (the packages' own version lines,
    else their metadata); a package installed without metadata gives the same key."""
    import importlib.metadata

    from stitchnas.costs._profiler import _versions

    found = _versions()
    assert set(found) == {"torch", "timm", "fvcore"} and all(found.values())

    def missing(dist):
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert _versions() == found


def test_package_version_reads_files_not_imports():
    """The structure and profile caches share one reader: the package's own version line, no
    import (timm stays unimported), and "none" for a package that is not installed."""
    import subprocess
    import sys

    code = ("import sys; from stitchnas._util import package_version; "
            "print(package_version('timm'), package_version('no_such_package_xyz'), 'timm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    import timm

    assert out == [timm.__version__, "none", "False"]


def test_a_spaces_costs_are_composed_once_and_shared(monkeypatch):
    """A search composes every candidate's cost for the predictor and again for the target: the
    second Profiler of the same space object reads the first one's sums; another load of the
    space, or a Profiler that re-traces, composes its own (and gets the same numbers)."""
    space = load_space("tiny_test")
    want = {c.id: (c.flops, c.params) for c in Profiler(space).profile()}

    def boom(*args, **kwargs):
        raise AssertionError("a segment was summed again")

    monkeypatch.setattr(Profiler, "_segment", boom)
    again = Profiler(space).profile()
    assert {c.id: (c.flops, c.params) for c in again} == want
    with pytest.raises(AssertionError, match="summed again"):
        Profiler(load_space("tiny_test")).profile()  # another object: nothing shared
    with pytest.raises(AssertionError, match="summed again"):
        Profiler(space, use_cache=False, progress=False).profile()
    monkeypatch.undo()
    other = load_space("tiny_test")
    assert {c.id: (c.flops, c.params) for c in Profiler(other).profile()} == want
    # a candidate of another space object with the same id is composed, not read from the memo
    foreign = other.candidates[3]
    assert Profiler(space).cost(foreign) == Profiler(other).cost(foreign)
