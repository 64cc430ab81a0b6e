"""Export formats: torch.export (.pt2, the default) and ONNX with a dynamic batch dimension,
TorchScript on request; each checked against the library model at two batch sizes."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from stitchnas.errors import StitchnasError
from stitchnas.network import (EXPORT_FORMATS, StitchedNetwork, export_model, load_exported,
                               read_export_metadata)
from support import run_cli
from support.tiny import space  # noqa: F401 - fixture

onnx = pytest.importorskip("onnx", reason="the 'export' extra (onnx, onnxscript, onnxruntime)")
onnxruntime = pytest.importorskip("onnxruntime", reason="the 'export' extra")
pytest.importorskip("onnxscript", reason="the 'export' extra")

ANCHOR, CROSSING = 0, "0[0:2]>1[2:4]"  # the small anchor; a stitch from anchor 0 into anchor 1


@pytest.fixture(scope="module")
def net(space):  # noqa: F811
    torch.manual_seed(0)
    return StitchedNetwork(space, space.create_models(weights=False)).eval()


@pytest.fixture(scope="module", params=[ANCHOR, CROSSING], ids=["anchor", "crossing-stitch"])
def exported(request, net, space, tmp_path_factory):  # noqa: F811
    """(library module, written paths, warnings raised) for pt2 + ONNX, the default formats."""
    cand = space.candidate(request.param) if isinstance(request.param, int) else space.find(request.param)
    module = net.route_module(cand).eval()
    out = tmp_path_factory.mktemp("export") / f"id{cand.id}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = export_model(module, out, space.input_size, metadata={"id": cand.id})
    return module, cand, paths, caught


def _inputs():
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(b, 1, 28, 28, generator=gen) for b in (1, 3)]


def test_default_is_pt2_and_onnx_without_warnings(exported):
    module, cand, paths, caught = exported
    assert [p.suffix for p in paths] == [".pt2", ".onnx"] and all(p.is_file() for p in paths)
    assert [str(w.message) for w in caught] == []
    assert not any(p.name.endswith(".tmp") or ".tmp." in p.name for p in paths[0].parent.iterdir())


def test_pt2_runs_at_two_batch_sizes_equal_to_the_model(exported):
    module, cand, paths, _ = exported
    program = torch.export.load(str(paths[0]))
    loaded = load_exported(paths[0])
    for x in _inputs():
        with torch.no_grad():
            expected = module(x)
            assert torch.allclose(program.module()(x), expected, atol=1e-5)
            assert torch.allclose(loaded(x), expected, atol=1e-5)
            assert loaded(x).shape == (x.shape[0], 10)


def test_onnx_runs_at_two_batch_sizes_equal_to_the_model(exported):
    module, cand, paths, _ = exported
    proto = onnx.load(str(paths[1]))
    onnx.checker.check_model(proto)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = onnxruntime.InferenceSession(str(paths[1]), providers=["CPUExecutionProvider"])
    for x in _inputs():
        got = session.run(None, {"input": x.numpy()})[0]
        with torch.no_grad():
            expected = module(x).numpy()
        assert got.shape == expected.shape == (x.shape[0], 10)
        assert np.allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_metadata_rides_inside_both_files(exported):
    module, cand, paths, _ = exported
    for path in paths:
        meta = read_export_metadata(path)
        assert meta["id"] == cand.id and meta["num_classes"] == 10
        assert meta["pretrained_cfg"]["input_size"] == (1, 28, 28)
        assert meta["pretrained_cfg"]["stitchnas"]["route"] == str(cand.route)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")  # load_exported's own
def test_torchscript_is_still_selectable_and_says_it_is_deprecated_once(net, space, tmp_path):  # noqa: F811
    module = net.route_module(space.find(CROSSING))
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as probe:  # torch 2.14 deprecates it; 2.7, the floor, does not
        warnings.simplefilter("always")
        torch.jit.trace(torch.nn.Linear(2, 2), torch.zeros(1, 2))
    deprecated = any(issubclass(w.category, FutureWarning) for w in probe)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = export_model(module, tmp_path / "m", space.input_size, format="torchscript", batch_size=2)
    said = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    assert len(said) == deprecated and all(re.search("torch.jit.trace.*prefer format 'pt2'", m) for m in said)
    assert warnings.filters == filters  # nothing silenced for the rest of the process
    assert paths == [tmp_path / "m.pt"]
    loaded = load_exported(paths[0])
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(loaded(x), module(x), atol=1e-5)
    assert loaded.pretrained_cfg["input_size"] == (1, 28, 28) and loaded.num_classes == 10


def test_format_names_and_errors(net, space, tmp_path):  # noqa: F811
    assert EXPORT_FORMATS == ("pt2", "onnx", "torchscript")
    module = net.route_module(0)
    with pytest.raises(StitchnasError, match=r"unknown export format\(s\) \['tflite'\]: use one or more "
                                             "of pt2, onnx, torchscript"):
        export_model(module, tmp_path / "m", space.input_size, format="pt2,tflite")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StitchnasError, match="is ONNX: run it with onnxruntime"):
        load_exported(tmp_path / "x.onnx")
    with pytest.raises(StitchnasError, match="no exported model at"):
        read_export_metadata(tmp_path / "missing.pt2")
    (tmp_path / "junk.pt2").write_bytes(b"not a zip")
    with pytest.raises(StitchnasError, match="cannot read .*junk.pt2 as an exported model"):
        read_export_metadata(tmp_path / "junk.pt2")


def test_cli_export_format_pt2(tmp_path, capsys):
    out = tmp_path / "anchor"
    code, stdout, err = run_cli(capsys, "export", "tiny_test", "--id", 0, "--allow-random-weights",
                                "--out", out, "--format", "pt2")
    assert code == 0, err
    assert f"wrote {out}.pt2 (torch.export program, batch dynamic" in stdout
    assert "input [batch, 1, 28, 28]" in stdout
    loaded = load_exported(f"{out}.pt2")
    assert loaded(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    assert Path(f"{out}.pt2").is_file() and not Path(f"{out}.onnx").exists()


class _DataDependent(torch.nn.Module):
    """A branch on a value: torch.export cannot capture it with a dynamic batch."""

    def forward(self, x):
        if x.sum() > 0:
            return x.flatten(1) * 2
        return x.flatten(1)


def test_a_failed_export_writes_nothing_and_says_what_to_do(tmp_path):
    with pytest.raises(StitchnasError, match="torch.export failed on this stitch.*--format torchscript"):
        export_model(_DataDependent(), tmp_path / "m", (1, 4, 4), format="onnx,pt2")
    assert list(tmp_path.iterdir()) == []


def test_an_onnx_exporter_failure_names_the_operator_in_one_line_and_writes_nothing(tmp_path):
    """NesT's attention runs on 5-D tensors, which torch's ONNX exporter cannot translate (timm's
    own NesT fails the same way): one line naming the operator and the way out, no file left."""
    import timm

    from stitchnas.anchors import adapter_for
    from stitchnas.network import RouteModule

    torch.manual_seed(0)
    ad = adapter_for(timm.create_model("nest_tiny", img_size=32, in_chans=1, num_classes=10).eval())
    module = RouteModule(ad.stem_module, [ad.block_modules], [], ad.head_module).eval()
    with pytest.raises(StitchnasError, match=r"ONNX export to .* failed: torch's ONNX exporter cannot translate "
                                             r"aten\.scaled_dot_product_attention in this model; export "
                                             r"--format pt2 instead") as info:  # torch 2.7 (the floor) and 2.14
        export_model(module, tmp_path / "m", (1, 32, 32), format="onnx")
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_the_onnx_check_allows_float_noise_in_proportion_to_the_logits_not_a_wrong_export(tmp_path):
    """onnxruntime sums in another order than torch: on logits of tens the two differ by a few
    1e-4 (a MobileNetV3 stitch: 4e-4 at logits of 23), which a fixed atol of 1e-4 refused. The
    check allows 1e-4 of the largest output, and still refuses an export off by far more."""
    from stitchnas.network._export import _check_onnx

    torch.manual_seed(0)
    module = torch.nn.Linear(8, 10).eval()
    with torch.no_grad():
        module.weight.mul_(60.0)
    x = [torch.randn(1, 8), torch.randn(3, 8)]
    path = tmp_path / "linear.onnx"
    with warnings.catch_warnings():  # the legacy exporter (a plain file with a dynamic batch) is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (x[1],), str(path), input_names=["input"], output_names=["logits"],
                          dynamo=False, dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    with torch.no_grad():
        expected = [module(v) for v in x]
    assert max(float(e.abs().max()) for e in expected) > 10
    _check_onnx(str(path), x, [e + 5e-4 for e in expected])  # float noise at this scale: passes
    with pytest.raises(StitchnasError, match=r"the ONNX export differs from the model at batch 1 "
                                             r"\(max abs difference 0\.05, allowed .*of the largest output\)"):
        _check_onnx(str(path), x, [e + 0.05 for e in expected])
