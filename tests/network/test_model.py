import pytest
import torch

from stitchnas.anchors import adapter_for
from stitchnas.network import StitchedNetwork, reconstruction_error
from stitchnas.costs import count_params
from stitchnas.space import load_space
from stitchnas.network import StitchingLayer, least_squares_fit


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    space = load_space("tiny_test")
    return StitchedNetwork(space, space.create_models(weights=False)).eval()


def test_anchor_routes_reproduce_timm_forward(net):
    x = torch.randn(3, 1, 28, 28)
    for a, model in enumerate(net.anchors):
        cand = net.space.find(f"{a}[0:4]")
        net.reset_stitch_id(cand.id)
        with torch.no_grad():
            assert torch.equal(net(x), model(x))


def test_adapter_pieces_partition_the_model_parameters(net):
    for model in net.anchors:
        ad = adapter_for(model)
        pieces = [ad.stem_module, *ad.block_modules, ad.head_module]
        ids = [id(p) for piece in pieces for p in piece.parameters()]
        assert len(ids) == len(set(ids))  # no parameter in two pieces
        assert set(ids) == {id(p) for p in model.parameters()}  # every parameter in one piece


def test_switching_and_standalone_modules_agree(net):
    x = torch.randn(2, 1, 28, 28)
    seen = set()
    for cand in net.space.candidates:
        net.reset_stitch_id(cand.id)
        with torch.no_grad():
            y = net(x)
            standalone = net.route_module(cand.id)
            assert torch.equal(y, standalone(x))
        assert y.shape == (2, 10)
        seen.add(round(float(y.sum()), 4))
        # the standalone module holds exactly the parameters its route uses
        n = count_params(standalone)
        assert n < sum(count_params(m) for m in net.anchors) + count_params(net.stitch_layers)
    assert len(seen) == len(net.space)  # every route computes something different


def test_standalone_shares_weights(net):
    cand = net.space.find("0[0:2]>1[2:4]")
    m = net.route_module(cand)
    layer = net.stitch_layer(cand.layer_keys[0])
    assert m.stitches[0] is layer
    assert m.stem.patch_embed is net.anchors[0].patch_embed


def test_least_squares_beats_random_initialisation(net):
    torch.manual_seed(1)
    images = torch.randn(16, 1, 28, 28)
    feats = net.boundary_features(images)
    random_err, ls_err = {}, net.init_least_squares(images)
    for key, junctions in net.space.layer_junctions.items():
        shape = net.space.layer_shapes[key]
        layer = StitchingLayer(shape.in_channels, shape.out_channels)
        random_err[key] = sum(
            reconstruction_error(layer, feats[j.src][j.src_end], feats[j.dst][j.dst_start]) for j in junctions
        ) / len(junctions)
    assert set(ls_err) == set(random_err)
    for key in ls_err:
        assert ls_err[key] < 0.9 * random_err[key], key


def test_least_squares_recovers_an_exact_linear_map():
    torch.manual_seed(0)
    x = torch.randn(500, 8)
    w, b = torch.randn(5, 8), torch.randn(5)
    w_hat, b_hat = least_squares_fit([(x, x @ w.T + b)])
    assert torch.allclose(w_hat, w, atol=1e-4) and torch.allclose(b_hat, b, atol=1e-4)
    # a layer serving two positions gets the mean of the two solutions (SN-Net)
    w2 = torch.randn(5, 8)
    w_mean, _ = least_squares_fit([(x, x @ w.T + b), (x, x @ w2.T + b)])
    assert torch.allclose(w_mean, (w + w2) / 2, atol=1e-4)


def test_least_squares_ignores_the_float32_rounding_of_a_layer_norms_collinearity():
    """A LayerNorm's outputs are collinear with the bias column up to float32 rounding (PVTv2's
    stages end with one); fitting that rounding gives weights of 1e5 whose own rounding shows in
    the stitch's output. The cut keeps the weights small and the fit as good."""
    torch.manual_seed(0)
    ln = torch.nn.LayerNorm(16)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.normal_()
        x = ln(torch.randn(512, 16) * 3)
        y = x @ torch.randn(8, 16).T + 0.1 * torch.randn(512, 8)
    xa = torch.cat([x.double(), torch.ones(512, 1, dtype=torch.float64)], 1)
    raw = torch.linalg.lstsq(xa, y.double(), driver="gelsd").solution  # no cut: what it was
    assert raw.abs().max() > 1e4
    w, b = least_squares_fit([(x, y)])
    assert w.abs().max() < 10
    mse, raw_mse = (x @ w.T + b - y).pow(2).mean(), (xa @ raw - y.double()).pow(2).mean()
    assert mse < 1.01 * raw_mse


def test_least_squares_does_not_build_on_a_nearly_collinear_direction():
    """Features with directions 1e4 times weaker than the strongest (a ConvNeXt's first stage on
    gray images) that the target leans on a little: fitting them gives weights in the hundreds
    that cancel each other, so a change of the features a thousand times smaller than they are
    (the anchors moving in joint training) moves the stitch's output by a tenth of itself or more.
    The cut leaves those directions out: small weights, a fit within a few percent, and an output
    that moves by about as little as its input."""
    torch.manual_seed(0)
    z, whisper = torch.randn(2048, 4), torch.randn(2048, 8)
    x = z @ torch.randn(4, 8) + 1e-4 * whisper  # 8 channels of rank 4, and a whisper
    y = z @ torch.randn(4, 6) + 0.01 * whisper @ torch.randn(8, 6)
    xa = torch.cat([x.double(), torch.ones(2048, 1, dtype=torch.float64)], 1)
    raw = torch.linalg.lstsq(xa, y.double(), rcond=1e-5, driver="gelsd").solution  # the old cut
    w, b = least_squares_fit([(x, y)])
    assert raw.abs().max() > 100 and w.abs().max() < 2
    assert (x @ w.T + b - y).norm() / y.norm() < 0.05
    moved = x + 1e-3 * x.std() * torch.randn_like(x)
    assert ((moved - x).double() @ raw[:-1]).norm() / y.norm() > 0.1
    assert ((moved - x) @ w.T).norm() / y.norm() < 0.002


def test_low_rank_layer_starts_at_its_full_map_and_trains_only_the_update():
    layer = StitchingLayer(8, 6, rank=2)
    w, b = torch.randn(6, 8), torch.randn(6)
    layer.set_weights(w, b)
    x = torch.randn(4, 8)
    assert torch.allclose(layer(x), x @ w.T + b, atol=1e-6)
    trainable = {n for n, p in layer.named_parameters() if p.requires_grad}
    assert trainable == {"lora_a.weight", "lora_b.weight"}
    with torch.no_grad():
        layer.lora_b.weight.fill_(0.1)
    w_eff, _ = layer.effective_weight()
    assert torch.allclose(layer(x), x @ w_eff.T + b, atol=1e-5)


def test_a_rank_above_a_layers_full_rank_is_refused_before_any_layer_is_built():
    """A low-rank update wider than the layer is a full one with more parameters (train --rank
    1000000 once wrote a 3.8 GB checkpoint): one line naming the layer and the largest useful rank."""
    from stitchnas.errors import StitchnasError

    space = load_space("tiny_test")
    full = min(min(s.in_channels, s.out_channels) for s in space.layer_shapes.values())
    space.check_rank(full)  # the full rank of the narrowest layer is allowed
    space.check_rank(None)
    with pytest.raises(StitchnasError, match=rf"rank {full + 1} exceeds stitching layer .* give at most {full},"):
        StitchedNetwork(space, space.create_models(weights=False), rank=full + 1)
