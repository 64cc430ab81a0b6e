"""Building and exporting one stitch: a ready ``nn.Module`` for a candidate (from an id, a route
or a front member), written as standalone files: a ``torch.export`` program (``.pt2``, the
default), ONNX, or TorchScript (deprecated in torch, kept for those who need it); pt2 and ONNX
take any batch size. Each file carries the stitch's timm ``pretrained_cfg``
(:func:`load_exported`, :func:`read_export_metadata`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StitchnasError
from ..fileio import atomic_write, check_writable
from ..fronts import FrontPoint
from ..space import Candidate, Route, SearchSpace, load_space

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["EXPORT_FORMATS", "EXPORT_SUFFIXES", "export_base", "build_model", "export_model", "load_exported",
           "read_export_metadata", "resolve_candidate"]

EXPORT_FORMATS = ("pt2", "onnx", "torchscript")  # the suffixes: .pt2, .onnx, .pt
EXPORT_SUFFIXES = (".pt", ".pt2", ".onnx", ".ts")  # what an export writes, one stitch or a front
DEFAULT_FORMATS = ("pt2", "onnx")
_SUFFIX = {"pt2": ".pt2", "onnx": ".onnx", "torchscript": ".pt"}
_META_FILE = "stitchnas_export.json"  # extra file (pt2, TorchScript) / metadata key "stitchnas" (ONNX)
_MAX_BATCH = 1 << 16
#: an ONNX file's outputs may differ from the module's by this fraction of the largest output
#: (and relatively): onnxruntime's float32 kernels sum in another order than torch's
ONNX_TOLERANCE = 1e-4


def export_base(path: str | os.PathLike) -> Path:
    """``path`` without a suffix any export writes: ``m.pt2`` and ``m`` both name ``m.*``, so a
    path given with one format's suffix never becomes ``m.pt2.onnx`` (or ``m.pt2.pt``)."""
    base = Path(path)
    return base.with_suffix("") if base.suffix in EXPORT_SUFFIXES else base


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
                device: str = "cpu", calibration=None) -> nn.Module:
    """A ready ``nn.Module`` (eval mode) for one stitch of ``space``.

    ``stitch`` is an id, a Route, a route string, a Candidate or a FrontPoint. The stitched
    network is loaded with :func:`stitchnas.checkpoints.load_network` (the anchors' weights plus
    ``checkpoint``'s stitching layers; without a checkpoint the stitching layers are untrained,
    which only suits anchors). Returns the standalone :class:`~stitchnas.model.RouteModule`, or
    with ``switchable=True`` the whole :class:`~stitchnas.model.StitchedNetwork` switched to it.
    ``calibration``: image batches (e.g. :func:`stitchnas.measure.calibration_images`) on which
    the stitch's BatchNorm statistics are re-estimated for its route, as ``evaluate`` measures
    it (:func:`calibrate_batchnorm`); ignored without BatchNorm layers.
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
        module = net
    else:
        module = net.route_module(cand)
    if calibration is not None:
        from ._batchnorm import calibrate_batchnorm

        calibrate_batchnorm(module, calibration)
    return module.eval()


def _onnx_exporter() -> tuple[bool | None, str | None]:
    """(use the dynamo exporter?, why ONNX is unavailable): onnxscript -> dynamo, onnx -> legacy."""
    from importlib.util import find_spec

    if find_spec("onnxscript") is not None and find_spec("onnx") is not None:
        return True, None
    if find_spec("onnx") is not None:
        return False, None
    return None, ("ONNX export needs the 'onnx' package (and 'onnxscript' for torch's default "
                  "exporter), which is not installed: `pip install 'stitchnas[export]'`")


def _parse_formats(formats: str | Sequence[str] | None) -> list[str]:
    if formats is None:
        return list(DEFAULT_FORMATS)
    if isinstance(formats, str):
        formats = formats.split(",")
    out = [f.strip().lower() for f in formats if f.strip()]
    bad = [f for f in out if f not in EXPORT_FORMATS]
    if bad or not out:
        raise StitchnasError(f"unknown export format(s) {bad or list(formats)}: use one or more of "
                             f"{', '.join(EXPORT_FORMATS)} (comma-separated)")
    return list(dict.fromkeys(out))


def _json_cfg(module: nn.Module) -> dict[str, Any]:
    """The module's timm-facing attributes, JSON-able (what a loaded export gets back)."""
    cfg = getattr(module, "pretrained_cfg", None)
    out: dict[str, Any] = {}
    if isinstance(cfg, dict) and cfg:
        out["pretrained_cfg"] = json.loads(json.dumps(cfg, default=list))
    if getattr(module, "num_classes", None) is not None:
        out["num_classes"] = int(module.num_classes)
    return out


def export_model(module: nn.Module, path: str | os.PathLike, input_size: Sequence[int],
                 batch_size: int = 1, formats: str | Sequence[str] | None = None,
                 metadata: dict[str, Any] | None = None, *,
                 format: str | Sequence[str] | None = None) -> list[Path]:
    """Write ``module`` as standalone files and return their paths: ``<path>.pt2``
    (``torch.export``, load with :func:`load_exported` or ``torch.export.load``), ``<path>.onnx``
    and, if asked, ``<path>.pt`` (TorchScript via ``torch.jit.trace``, which torch deprecates).

    ``format`` (or ``formats``, its older name): names or a comma-separated string out of
    :data:`EXPORT_FORMATS`; default pt2 and ONNX. pt2 and ONNX have a dynamic batch dimension
    (any batch from 1 to 65536); TorchScript is traced at ``batch_size``. ``metadata`` (JSON-able:
    what was exported, where its weights came from) and the module's timm ``pretrained_cfg`` and
    ``num_classes`` go inside each file: the extra file ``stitchnas_export.json`` (pt2,
    TorchScript) or the ONNX metadata property ``stitchnas``.

    Each file is loaded back and checked against ``module`` on fresh random inputs (atol 1e-5;
    ONNX :data:`ONNX_TOLERANCE` of the largest output with onnxruntime, where installed) at two
    batch sizes before it replaces any file; files are written only once every format passed,
    each to a temporary name, then renamed. ONNX is skipped with a warning when its exporter is
    not installed (an error if it is the only format asked for).
    """
    import torch

    formats = _parse_formats(format if format is not None else formats)
    if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size > 0):
        raise StitchnasError(f"batch_size must be a positive integer, got {batch_size!r}")
    base = export_base(path)
    for fmt in formats:  # before the work: a folder that takes no file fails now, in one line
        check_writable(base.with_name(base.name + _SUFFIX[fmt]), f"{fmt} export")
    module = module.eval()
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    size = tuple(int(v) for v in input_size)
    gen = torch.Generator().manual_seed(0)
    # torch.export specialises a dimension it sees as 1: trace the dynamic ones at batch >= 2
    example = torch.randn((max(2, batch_size), *size), generator=gen).to(device)
    checks = [torch.randn((b, *size), generator=gen).to(device) for b in sorted({1, batch_size + 2})]
    meta = {**(metadata or {}), **_json_cfg(module)}
    extra = {_META_FILE: json.dumps(meta)}
    blobs: dict[str, bytes] = {}  # format -> file content, written once all formats passed
    onnx_tmp: str | None = None
    skip_onnx = None
    dynamo, why = _onnx_exporter()
    if "onnx" in formats and dynamo is None:
        if formats == ["onnx"]:
            raise StitchnasError(why)
        skip_onnx = why
    program = None
    with torch.no_grad():
        expected = [module(x) for x in checks]
        if "pt2" in formats or ("onnx" in formats and skip_onnx is None and dynamo):
            program = _torch_export(module, example)
        if "pt2" in formats:
            buf = io.BytesIO()
            torch.export.save(program, buf, extra_files=extra)
            reloaded = torch.export.load(io.BytesIO(buf.getvalue())).module()
            _compare(reloaded, checks, expected, 1e-5, "the exported program (pt2)", f"{base}.pt2")
            blobs["pt2"] = buf.getvalue()
        if "onnx" in formats and skip_onnx is None:
            out = base.with_name(base.name + ".onnx")
            onnx_tmp = _export_onnx(program if dynamo else module, example, out, dynamo, meta,
                                    checks, expected)
    try:
        if "torchscript" in formats:
            blobs["torchscript"] = _torchscript(module, example[:batch_size], extra, device, gen,
                                                base, batch_size, size)
    except BaseException:
        if onnx_tmp is not None:
            os.unlink(onnx_tmp)
        raise
    written: list[Path] = []
    for fmt in formats:
        if fmt in blobs:
            out = base.with_name(base.name + _SUFFIX[fmt])
            with atomic_write(out, "wb") as fh:
                fh.write(blobs[fmt])
            written.append(out)
        elif fmt == "onnx" and onnx_tmp is not None:
            out = base.with_name(base.name + ".onnx")
            os.replace(onnx_tmp, out)
            written.append(out)
    if skip_onnx:
        warnings.warn(f"skipped ONNX: {skip_onnx}", stacklevel=2)
    return written


def _torchscript(module: nn.Module, example, extra: dict[str, str], device, gen, base: Path,
                 batch_size: int, size: tuple[int, ...]) -> bytes:
    """``torch.jit.trace`` at ``batch_size``, saved, loaded back and checked; torch's four
    deprecation warnings (trace, trace_method, save, load) become one that names pt2."""
    import torch

    with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced = torch.jit.trace(module, (example,), check_trace=False)
        buf = io.BytesIO()
        torch.jit.save(traced, buf, _extra_files=extra)
        reloaded = torch.jit.load(io.BytesIO(buf.getvalue()), map_location=device)
        x = torch.randn((batch_size, *size), generator=gen).to(device)
        got, expected = reloaded(x), module(x)
    deprecated = [w for w in caught if issubclass(w.category, FutureWarning) and "deprecated" in str(w.message)]
    for w in caught:  # pass on all but the tracer's notes and torch's deprecations
        if w not in deprecated and not issubclass(w.category, torch.jit.TracerWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if deprecated:  # say it once, naming the replacement
        warnings.warn(f"TorchScript export uses torch.jit.trace, which torch "
                      f"{torch.__version__.split('+')[0]} deprecates ({deprecated[0].message}); "
                      "prefer format 'pt2' (torch.export)", FutureWarning, stacklevel=3)
    _compare(lambda _: got, [x], [expected], 1e-5, "the traced TorchScript module", f"{base}.pt")
    return buf.getvalue()


def _torch_export(module: nn.Module, example):
    """``torch.export.export`` with a dynamic batch dimension."""
    import torch

    batch = torch.export.Dim("batch", min=1, max=_MAX_BATCH)
    try:
        return torch.export.export(module, (example,), dynamic_shapes=({0: batch},))
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise StitchnasError(f"torch.export failed on this stitch with a dynamic batch: "
                             f"{type(err).__name__}: {first[:300]}; export --format torchscript "
                             "instead") from err


def _compare(got_module, inputs, expected, atol: float, what: str, target: str) -> None:
    import torch

    for x, e in zip(inputs, expected):
        got = got_module(x)
        if got.shape != e.shape or not torch.allclose(got, e, atol=atol):
            diff = (got - e).abs().max().item() if got.shape == e.shape else f"shape {tuple(got.shape)}"
            raise StitchnasError(f"{what} differs from the model at batch {x.shape[0]} (max abs "
                                 f"difference {diff}); not writing {target}")


def _export_onnx(model, example, out: Path, dynamo: bool, metadata: dict[str, Any] | None,
                 checks, expected) -> str:
    """ONNX with a dynamic batch axis, from the ExportedProgram (dynamo) or, with only ``onnx``
    installed, by torch's legacy exporter with ``dynamic_axes``: a checked temporary file beside
    ``out``, for the caller to rename."""
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp.onnx", dir=out.parent)
    os.close(fd)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the dynamo exporter's progress lines
            if dynamo:
                torch.onnx.export(model, (example,), tmp, input_names=["input"], verbose=False,
                                  output_names=["logits"], dynamo=True, external_data=False)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", torch.jit.TracerWarning)
                    torch.onnx.export(model, (example,), tmp, input_names=["input"], verbose=False,
                                      output_names=["logits"], dynamo=False,
                                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        if metadata is not None:
            import onnx

            proto = onnx.load(tmp)
            entry = proto.metadata_props.add()
            entry.key, entry.value = "stitchnas", json.dumps(metadata)
            for value in [*proto.graph.input, *proto.graph.output]:  # name the dynamic axis
                dims = value.type.tensor_type.shape.dim
                if dims and dims[0].dim_param:
                    dims[0].dim_param = "batch"
            onnx.save(proto, tmp)
        _check_onnx(tmp, checks, expected)
        os.chmod(tmp, 0o644)
    except BaseException as err:
        for leftover in (tmp, tmp + ".data"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass
        if isinstance(err, Exception) and not isinstance(err, StitchnasError):
            raise StitchnasError(f"ONNX export to {out} failed: {_onnx_failure(err)}; export "
                                 "--format pt2 instead") from err
        raise
    return tmp


def _onnx_failure(err: BaseException) -> str:
    """One line for an ONNX exporter failure: the operator it could not translate where it names
    one (its errors run to pages, with terminal colours), else the error's first line."""
    import re

    chain, seen = [], err
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(str(e) for e in chain))
    op = re.search(r"target=torch\.ops\.(\w+\.\w+)", text)
    if op:
        return f"torch's ONNX exporter cannot translate {op.group(1)} in this model"
    first = text.splitlines()[0] if text else ""
    return f"{type(err).__name__}: {first}"


def _check_onnx(path: str, checks, expected) -> None:
    """Where onnxruntime is installed, check the ONNX file against the module at each check batch
    size (1 and another: the batch axis is dynamic), to :data:`ONNX_TOLERANCE` of the largest
    output (at least that much absolute): onnxruntime's kernels sum in another order than
    torch's, which on logits of tens differs by a few 1e-4, while a wrong export is off by units."""
    from importlib.util import find_spec

    if find_spec("onnxruntime") is None:
        return
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for x, e in zip(checks, expected):
        got = session.run(None, {name: x.detach().cpu().numpy()})[0]
        e = e.detach().cpu().numpy()
        atol = ONNX_TOLERANCE * max(1.0, float(np.abs(e).max()))
        if got.shape != e.shape or not np.allclose(got, e, atol=atol, rtol=ONNX_TOLERANCE):
            diff = f"{np.abs(got - e).max():.3g}" if got.shape == e.shape else f"shape {got.shape}"
            raise StitchnasError(f"the ONNX export differs from the model at batch {x.shape[0]} "
                                 f"(max abs difference {diff}, allowed {atol:.3g}: {ONNX_TOLERANCE:g} of "
                                 "the largest output)")


def read_export_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """What :func:`export_model` stored inside a ``.pt2``, ``.onnx`` or TorchScript ``.pt`` file:
    its ``metadata`` plus ``pretrained_cfg`` and ``num_classes`` ({} if it stored nothing)."""
    path = Path(path)
    if not path.is_file():
        raise StitchnasError(f"no exported model at {path}: pass a .pt2, .onnx or .pt file that "
                             "`stitchnas export` wrote")
    try:
        if path.suffix == ".onnx":
            import onnx

            proto = onnx.load(str(path), load_external_data=False)
            text = next((p.value for p in proto.metadata_props if p.key == "stitchnas"), "")
        else:
            import torch

            extra = {_META_FILE: ""}
            if path.suffix == ".pt2":
                torch.export.load(str(path), extra_files=extra)
            else:
                torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
            text = extra[_META_FILE]
        return _tuples(json.loads(text)) if text else {}
    except (StitchnasError, ImportError):
        raise
    except Exception as err:
        raise StitchnasError(f"cannot read {path} as an exported model ({type(err).__name__}: "
                             f"{str(err).splitlines()[0][:200] if str(err) else ''}): pass a file "
                             "that `stitchnas export` wrote") from err


def _tuples(meta: dict[str, Any]) -> dict[str, Any]:
    cfg = meta.get("pretrained_cfg")
    if isinstance(cfg, dict):
        for key in ("input_size", "mean", "std", "test_input_size"):
            if isinstance(cfg.get(key), list):
                cfg[key] = tuple(cfg[key])
    return meta


def load_exported(path: str | os.PathLike, device: str = "cpu") -> nn.Module:
    """A ``.pt2`` (or TorchScript ``.pt``) export as a module that timm's helpers accept: it
    carries ``pretrained_cfg`` / ``default_cfg``, ``num_classes`` and ``export_metadata``
    (``timm.data.resolve_model_data_config(load_exported(p))`` works). ONNX files run in
    onnxruntime; read their config with :func:`read_export_metadata`."""
    import torch

    path = Path(path)
    if path.suffix == ".onnx":
        raise StitchnasError(f"{path} is ONNX: run it with onnxruntime and read its config with "
                             "stitchnas.network.read_export_metadata")
    meta = read_export_metadata(path)
    if path.suffix == ".pt2":
        module = torch.export.load(str(path)).module()
        if device != "cpu":
            module = module.to(device)
    else:
        module = torch.jit.load(str(path), map_location=device)
    cfg = meta.get("pretrained_cfg") or {}
    object.__setattr__(module, "pretrained_cfg", cfg)
    object.__setattr__(module, "default_cfg", cfg)
    object.__setattr__(module, "num_classes", meta.get("num_classes", cfg.get("num_classes")))
    object.__setattr__(module, "export_metadata", meta)
    return module
