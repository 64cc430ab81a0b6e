"""Building and exporting one stitch: a ready ``nn.Module`` for a candidate (from an id, a route
or a front member), written as standalone TorchScript and ONNX files.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StitchnasError
from ..fileio import atomic_write
from ..fronts import FrontPoint
from ..space import Candidate, Route, SearchSpace, load_space

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["build_model", "export_model", "resolve_candidate"]


def resolve_candidate(space: SearchSpace, stitch: Any) -> Candidate:
    """The candidate of ``space`` named by an id, a Route, a route string or JSON list, a
    Candidate or a FrontPoint (whose route must match the space's route for that id)."""
    if isinstance(stitch, bool):
        raise StitchnasError(f"cannot pick a stitch from {stitch!r}: give an id or a route")
    if isinstance(stitch, int):
        return space.candidate(stitch)
    if isinstance(stitch, (FrontPoint, Candidate)):
        cand = space.candidate(stitch.id)
        if cand.route != stitch.route:
            raise StitchnasError(
                f"id {stitch.id} is {stitch.route} on the front but {cand.route} in space "
                f"{space.name!r}: the front comes from another enumeration; re-run the search"
            )
        return cand
    if isinstance(stitch, (Route, str, list, tuple)):
        return space.find(stitch)
    raise StitchnasError(f"cannot pick a stitch from {type(stitch).__name__}: give an id, a route "
                         "(e.g. '0[0:2]>1[2:4]'), a Candidate or a front member")


def build_model(space: SearchSpace | str | os.PathLike, stitch: Any,
                checkpoint: str | os.PathLike | None = None, switchable: bool = False,
                device: str = "cpu") -> nn.Module:
    """A ready ``nn.Module`` (eval mode) for one stitch of ``space``.

    ``stitch`` is an id, a Route, a route string, a Candidate or a FrontPoint. The stitched
    network is loaded with :func:`stitchnas.checkpoints.load_network` (the anchors' weights plus
    ``checkpoint``'s stitching layers; without a checkpoint the stitching layers are untrained,
    which only suits anchors). Returns the standalone :class:`~stitchnas.model.RouteModule`, or
    with ``switchable=True`` the whole :class:`~stitchnas.model.StitchedNetwork` switched to it.
    """
    from ._checkpoints import load_network

    space = load_space(space)
    cand = resolve_candidate(space, stitch)
    if checkpoint is None and not cand.is_anchor:
        warnings.warn(f"building stitch {cand.id} ({cand.route}) of {space.name} without a "
                      "checkpoint: its stitching layers are untrained", stacklevel=2)
    net = load_network(space, checkpoint).to(device)
    if switchable:
        net.reset_stitch_id(cand.id)
        return net.eval()
    return net.route_module(cand).eval()


def _onnx_exporter() -> tuple[bool | None, str | None]:
    """(use the dynamo exporter?, why ONNX is unavailable): onnxscript -> dynamo, onnx -> legacy."""
    from importlib.util import find_spec

    if find_spec("onnxscript") is not None and find_spec("onnx") is not None:
        return True, None
    if find_spec("onnx") is not None:
        return False, None
    return None, ("ONNX export needs the 'onnx' package (and 'onnxscript' for torch's default "
                  "exporter), which is not installed: `pip install onnx onnxscript`")


def export_model(module: nn.Module, path: str | os.PathLike, input_size: Sequence[int],
                 batch_size: int = 1, formats: Sequence[str] = ("torchscript", "onnx"),
                 metadata: dict[str, Any] | None = None) -> list[Path]:
    """Write ``module`` as standalone files: ``<path>.pt`` (TorchScript, traced) and
    ``<path>.onnx``; returns the paths written. ``metadata`` (JSON-able: what was exported, where
    its weights came from) goes inside each file: the TorchScript extra file ``stitchnas_export.json``,
    the ONNX metadata property ``stitchnas``.

    The traced module is saved, loaded back and checked against ``module`` on a fresh random
    input (atol 1e-5) before it replaces any file. ONNX is skipped with a warning when its
    exporter is not installed (an error if it is the only format asked for). Inputs have a fixed
    shape ``[batch_size, *input_size]``. Each file is written to a temporary name, then renamed.
    """
    import torch

    formats = [f.strip().lower() for f in formats]
    bad = [f for f in formats if f not in ("torchscript", "onnx")]
    if bad or not formats:
        raise StitchnasError(f"unknown export format(s) {bad or formats}: use torchscript and/or onnx")
    base = Path(path)
    if base.suffix in (".pt", ".onnx", ".ts"):
        base = base.with_suffix("")
    module = module.eval()
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    shape = (batch_size, *(int(v) for v in input_size))
    gen = torch.Generator().manual_seed(0)
    example = torch.randn(shape, generator=gen).to(device)
    check = torch.randn(shape, generator=gen).to(device)
    written: list[Path] = []
    skip_onnx = None
    dynamo, why = _onnx_exporter()
    if "onnx" in formats and dynamo is None:
        if formats == ["onnx"]:
            raise StitchnasError(why)
        skip_onnx = why
    with torch.no_grad():
        expected = module(check)
        if "torchscript" in formats:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer and deprecation chatter
                traced = torch.jit.trace(module, (example,), check_trace=False)
                buf = io.BytesIO()
                extra = {"stitchnas_export.json": json.dumps(metadata)} if metadata is not None else {}
                torch.jit.save(traced, buf, _extra_files=extra)
                reloaded = torch.jit.load(io.BytesIO(buf.getvalue()), map_location=device)
            got = reloaded(check)
            if got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-5):
                diff = (got - expected).abs().max().item() if got.shape == expected.shape else "shape"
                raise StitchnasError(f"the traced TorchScript module differs from the model "
                                     f"(max abs difference {diff}); not writing {base}.pt")
            out = base.with_name(base.name + ".pt")
            with atomic_write(out, "wb") as fh:
                fh.write(buf.getvalue())
            written.append(out)
        if "onnx" in formats and skip_onnx is None:
            out = base.with_name(base.name + ".onnx")
            written.append(_export_onnx(module, example, out, dynamo, metadata))
    if skip_onnx:
        warnings.warn(f"skipped ONNX: {skip_onnx}", stacklevel=2)
    return written


def _export_onnx(module: nn.Module, example, out: Path, dynamo: bool,
                 metadata: dict[str, Any] | None = None) -> Path:
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp.onnx", dir=out.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kwargs = {"external_data": False} if dynamo else {}
            torch.onnx.export(module, (example,), tmp, input_names=["input"], verbose=False,
                              output_names=["logits"], dynamo=dynamo, **kwargs)
        if metadata is not None:
            import onnx

            proto = onnx.load(tmp)
            entry = proto.metadata_props.add()
            entry.key, entry.value = "stitchnas", json.dumps(metadata)
            onnx.save(proto, tmp)
        _check_onnx(tmp, module, example)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException as err:
        for leftover in (tmp, tmp + ".data"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass
        if isinstance(err, Exception) and not isinstance(err, StitchnasError):
            raise StitchnasError(f"ONNX export to {out} failed: {type(err).__name__}: "
                                 f"{str(err).splitlines()[0] if str(err) else ''}; export "
                                 "--format torchscript instead") from err
        raise
    return out


def _check_onnx(path: str, module: nn.Module, example) -> None:
    """Where onnxruntime is installed, check the ONNX file against the module (atol 1e-4)."""
    from importlib.util import find_spec

    if find_spec("onnxruntime") is None:
        return
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: example.detach().cpu().numpy()})[0]
    expected = module(example).detach().cpu().numpy()
    if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-4, rtol=1e-4):
        raise StitchnasError(f"the ONNX export differs from the model (max abs difference "
                             f"{np.abs(got - expected).max() if got.shape == expected.shape else 'shape'})")
