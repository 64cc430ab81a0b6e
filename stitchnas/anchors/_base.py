"""Anchors: timm models seen as stem -> blocks -> head, whatever their family.

An :class:`AnchorAdapter` cuts one timm model into modules that share its parameters: a stem,
``depth`` blocks and a head (final norm, pooling, classifier). Everything else in stitchnas
(stitched models, profiler, training) only talks to adapters, so a new model family is one new
adapter registered with :func:`register_adapter`.
"""

from __future__ import annotations

import logging
import types
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .._registry import Registry
from .._util import did_you_mean
from ..errors import StitchnasError, nonfinite_tensor, unreadable_checkpoint

__all__ = [
    "AnchorSpec",
    "FeatureSpec",
    "LAYOUTS",
    "stitch_problem",
    "AnchorAdapter",
    "PatchTokenAdapter",
    "Borrowed",
    "ADAPTERS",
    "register_adapter",
    "list_adapters",
    "adapter_for",
    "create_anchor_model",
    "init_anchor",
]


from ._spec import LAYOUTS, AnchorSpec, FeatureSpec, stitch_problem  # noqa: E402,F401 - torch-free


def _timm():
    try:
        import timm
    except ImportError as err:  # pragma: no cover - timm is a hard dependency
        raise StitchnasError("timm is not installed: pip install timm") from err
    return timm


def check_model_name(spec: AnchorSpec) -> None:
    """Refuse a model name ``timm.create_model`` would not take, in one line.

    Takes every form timm does: a registry name with or without a pretrained tag
    (``deit_tiny_patch16_224.fb_in1k``), ``hf-hub:ORG/REPO`` (its ``config.json`` must be in the
    Hugging Face cache when offline) and ``local-dir:PATH`` (a folder with ``config.json``).
    """
    timm = _timm()
    try:
        source, model_id = timm.models.parse_model_name(spec.model)
    except ValueError as err:
        raise StitchnasError(f"anchor {spec.name!r}: {err}") from err
    if source is None:
        if not timm.is_model(spec.model):
            hint = did_you_mean(spec.model, timm.list_models(), n=5) or "; see timm.list_models()"
            raise StitchnasError(f"anchor {spec.name!r}: unknown timm model {spec.model!r}{hint}")
        return
    if source == "local-dir":
        config = Path(model_id).expanduser() / "config.json"
        if not config.is_file():
            raise StitchnasError(
                f"anchor {spec.name!r}: {spec.model!r} has no {config}; point local-dir: at a folder "
                "saved by timm (config.json beside the weights)"
            )
        return
    try:
        timm.models.load_model_config_from_hf(model_id)
    except Exception as err:  # huggingface_hub raises its own errors offline or for unknown repos
        raise StitchnasError(
            f"anchor {spec.name!r}: cannot read the config of {spec.model!r} "
            f"({type(err).__name__}): it is not in the Hugging Face cache and the hub cannot be "
            f"reached; fetch it once where there is internet (timm.create_model({spec.model!r})) "
            "or give a timm architecture name with a local checkpoint"
        ) from err


def create_anchor_model(spec: AnchorSpec, *, weights: bool = True, device: str | None = None,
                        space: str = "SPACE") -> nn.Module:
    """Create the timm model of an anchor, in eval mode.

    ``weights=False`` skips checkpoints and hub downloads (random init); ``device="meta"``
    builds it without memory, for shape inference; ``device="uninitialized"`` allocates real
    but uninitialised parameters (skipping timm's slow weight init), for counting FLOPs only.
    """
    if device == "uninitialized":
        model = create_anchor_model(spec, weights=False, device="meta")
        if any(True for _ in model.buffers()):
            return create_anchor_model(spec, weights=False)  # buffers hold real values (indices)
        return model.to_empty(device="cpu").eval()
    timm = _timm()
    check_model_name(spec)
    kwargs = spec.kwargs_dict
    try:
        if device == "meta":
            with torch.device("meta"):
                model = timm.create_model(spec.model, pretrained=False, **kwargs)
        else:
            model = timm.create_model(
                spec.model, pretrained=bool(weights and spec.pretrained), **kwargs
            )
    except StitchnasError:
        raise
    except Exception as err:  # timm raises anything on bad kwargs: TypeError, ValueError, ...
        first = (str(err).strip().splitlines() or [""])[0][:300]
        what = "rejects" if isinstance(err, TypeError) else "cannot be built with"
        raise StitchnasError(
            f"anchor {spec.name!r}: timm model {spec.model!r} {what} kwargs {kwargs}: "
            f"{type(err).__name__}: {first}; fix the anchor's kwargs"
        ) from err
    if weights and spec.checkpoint and device != "meta":
        load_checkpoint(model, spec, space)
    return model.eval()


def load_checkpoint(model: nn.Module, spec: AnchorSpec, space: str = "SPACE") -> None:
    """Load a local checkpoint (a state dict, or one under 'model'/'state_dict'/'state_dict_ema'/
    'model_ema'; torch or safetensors). A file that does not fit as it is is read as timm reads
    its own downloads (a family's original release layout), and a JAX ``.npz`` by the model's own
    timm reader, each only where every weight is read. ``space``: the space as the user named
    it, for the hints."""
    path = Path(spec.checkpoint)
    missing = f"train the anchors (stitchnas train-anchors {space}) or fix the anchor's checkpoint path"
    if path.suffix == ".npz":
        _check_file(path, spec, "checkpoint", missing)
        return _load_npz(model, spec, path)
    state = _read_state(path, spec, space, "checkpoint", missing)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        converted = _converted_by_timm(model, spec, path)
        if converted is not None:
            model.load_state_dict(converted, strict=True)
            _say_once("converted", spec, path, logging.INFO, "anchor %r: checkpoint %s converted by "
                      "timm's loader for %s (a release in its family's original format)", spec.name, path,
                      spec.model)
            resized = sorted(k for k, v in converted.items() if k in state and state[k].shape != v.shape)
            if resized:
                _say_once("resized", spec, path, logging.WARNING, "anchor %r: checkpoint %s was made for "
                          "another input or stem: timm resized %s to fit; its accuracy at this size is not "
                          "the file's (measure it: stitchnas evaluate %s --anchors)", spec.name, path,
                          ", ".join(resized[:3]) + (" ..." if len(resized) > 3 else ""), space)
            return
        head = _other_classifier(model, state)
        if head:
            raise StitchnasError(
                f"anchor {spec.name!r}: checkpoint {path} has a classifier of {head} classes, the anchor "
                f"{getattr(model, 'num_classes', '?')}: to fine-tune it on this data, give the file as the "
                f"anchor's `init:` and a new `checkpoint:` path (stitchnas train-anchors {space} starts "
                "from it, with a new classifier)") from err
        first = str(err).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise StitchnasError(
            f"anchor {spec.name!r}: checkpoint {path} does not fit timm model {spec.model!r} "
            f"with kwargs {spec.kwargs_dict} ({detail[:200]}); check the anchor's model and kwargs, "
            f"or, if they changed on purpose, train it again (stitchnas train-anchors {space} --force)"
        ) from err


def init_anchor(model: nn.Module, spec: AnchorSpec, space: str = "SPACE") -> str:
    """Start ``model`` (freshly built) from ``spec.init``, the weights its training begins with:
    every tensor read, but a classifier of another class count (or none in the file), which keeps
    its random start. Read as it is, else as timm reads its own downloads (a family's original
    release layout). Returns what was read, for the log."""
    path = Path(spec.init)
    missing, state = "fix the anchor's init path", {}
    if path.suffix != ".npz":
        state = _read_state(path, spec, space, "init", missing)
        own, head = model.state_dict(), _classifier_keys(model)
        fresh = {k for k in head if k not in state or state[k].shape != own[k].shape}
        if set(state) - fresh <= set(own) and set(own) - set(state) <= head and all(
                state[k].shape == v.shape for k, v in own.items() if k not in fresh):
            model.load_state_dict({**own, **{k: v for k, v in state.items() if k not in fresh}})
            return _init_note(path, model, fresh)
    else:
        _check_file(path, spec, "init", missing)
    for drop in (False, True):
        converted = _converted_by_timm(model, spec, path, drop_classifier=drop)
        if converted is not None:
            model.load_state_dict(converted, strict=True)
            fresh = _classifier_keys(model) if drop else set()
            resized = sorted(k for k, v in converted.items()
                             if k in state and k not in fresh and state[k].shape != v.shape)
            return _init_note(path, model, fresh) + " (timm's reading" + (
                f"; resized to fit: {', '.join(resized[:3])}" + (" ..." if len(resized) > 3 else "")
                if resized else "") + ")"
    raise StitchnasError(
        f"anchor {spec.name!r}: init {path} does not fit timm model {spec.model!r} with kwargs "
        f"{spec.kwargs_dict} beyond its classifier, as it is or as timm reads it; give weights of "
        "this architecture (the same widths and depths) or fix the anchor's kwargs")


def _init_note(path: Path, model: nn.Module, fresh: set[str]) -> str:
    if not fresh:
        return f"started from {path}"
    return (f"started from {path}, classifier ({', '.join(sorted(fresh))}) new for "
            f"{getattr(model, 'num_classes', '?')} classes")


def _classifier_keys(model: nn.Module) -> set[str]:
    """The state keys of ``model``'s classifier: the modules timm's pretrained config names as
    classifier, else the one ``get_classifier`` returns."""
    names = (getattr(model, "pretrained_cfg", None) or {}).get("classifier") or ()
    names = {names} if isinstance(names, str) else set(names)
    get = getattr(model, "get_classifier", None)
    classifier = get() if callable(get) else None
    if isinstance(classifier, nn.Module):
        names |= {n for n, m in model.named_modules() if m is classifier and n}
    return {k for k in model.state_dict() if any(k.startswith(n + ".") for n in names)}


def _other_classifier(model: nn.Module, state: dict) -> int | None:
    """The class count of ``state``'s classifier where it alone keeps it from fitting ``model``."""
    own, head = model.state_dict(), _classifier_keys(model)
    if set(state) != set(own) or not head:
        return None
    off = {k for k, v in own.items() if getattr(state[k], "shape", None) != v.shape}
    weights = [k for k in sorted(off) if k.endswith("weight")]
    return int(state[weights[0]].shape[0]) if off and off <= head and weights else None


def _check_file(path: Path, spec: AnchorSpec, what: str, missing: str) -> None:
    from ..fileio import shown

    if path.exists() and not path.is_file():  # a folder, FIFO or device: never opened (would block)
        raise StitchnasError(
            f"anchor {spec.name!r}: {what} {shown(path)} is not a regular file (a folder, FIFO "
            "or device); give the path of a torch or safetensors file")
    if not path.is_file():
        raise StitchnasError(f"anchor {spec.name!r}: {what} {shown(path)} does not exist; {missing}")


def _read_state(path: Path, spec: AnchorSpec, space: str, what: str, missing: str) -> dict:
    """The state dict a weights file holds (torch or safetensors; under 'model', 'state_dict',
    'state_dict_ema' or 'model_ema' if so), wrapper prefixes dropped, every tensor finite."""
    _check_file(path, spec, what, missing)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            with _training_script_globals():
                state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise StitchnasError(
            f"anchor {spec.name!r}: cannot read {what} {path}: {unreadable_checkpoint(err)}; "
            "give a torch or safetensors state dict"
        ) from err
    for key in ("model", "state_dict", "state_dict_ema", "model_ema"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise StitchnasError(f"anchor {spec.name!r}: {what} {path} holds no state dict")
    state = {_unwrapped(k): v for k, v in state.items()}
    bad = nonfinite_tensor(state)
    if bad:
        raise StitchnasError(f"anchor {spec.name!r}: {what} {path} is not usable: tensor {bad} "
                             "(training diverged or the file is damaged); retrain the anchors "
                             f"(stitchnas train-anchors {space} --force, a lower lr) or fix the {what} path")
    return state


_SAID: set[tuple[str, str, str]] = set()


def _say_once(what: str, spec: AnchorSpec, path: Path, level: int, message: str, *args) -> None:
    """Log ``message`` once per process for this kind of note, file and model: a run loads its
    anchors more than once."""
    key = (what, str(path.resolve()), spec.model)
    if key not in _SAID:
        _SAID.add(key)
        from ..progress import get_logger

        get_logger("anchors").log(level, message, *args)


def _load_npz(model: nn.Module, spec: AnchorSpec, path: Path) -> None:
    """A JAX/Flax ``.npz`` release (Google's ViTs, BiT) read by the model's own timm loader,
    ``load_pretrained`` (ViT, NaFlexViT and ResNetV2 have one), with every weight checked read."""
    if not callable(getattr(model, "load_pretrained", None)):
        raise StitchnasError(
            f"anchor {spec.name!r}: checkpoint {path} is an .npz (JAX) file, which timm reads only "
            f"for ViT, NaFlexViT and ResNetV2 (BiT) models, not {type(model).__name__}; give a "
            "torch or safetensors state dict")
    state = _converted_by_timm(model, spec, path)
    if state is None:
        raise StitchnasError(
            f"anchor {spec.name!r}: cannot read checkpoint {path} into timm model {spec.model!r} "
            f"with kwargs {spec.kwargs_dict}: timm's .npz loader failed, or left weights it did not "
            "find at their random start (a head of another class count, other widths); check the "
            "anchor's model and kwargs")
    bad = nonfinite_tensor(state)
    if bad:
        raise StitchnasError(f"anchor {spec.name!r}: checkpoint {path} is not usable: tensor {bad}; "
                             "fix the checkpoint path")
    model.load_state_dict(state, strict=True)
    _say_once("converted", spec, path, logging.INFO, "anchor %r: checkpoint %s read by timm's .npz loader "
              "for %s", spec.name, path, spec.model)


def _unwrapped(key: str) -> str:
    """A weight's name without the prefixes of the wrappers it was saved through: DDP's
    ``module.`` and torch.compile's ``_orig_mod.``, in either order."""
    while key.startswith(("module.", "_orig_mod.")):
        key = key.split(".", 1)[1]
    return key


def _training_script_globals():
    """What a weights-only load may build besides tensors: the ``argparse.Namespace`` of options
    that the DeiT, DeiT-III and ConvNeXt training scripts save beside the weights (``args``), a
    class whose objects only hold attributes."""
    import argparse

    return torch.serialization.safe_globals([argparse.Namespace])


def _converted_by_timm(model: nn.Module, spec: AnchorSpec, path: Path,
                       drop_classifier: bool = False) -> dict | None:
    """The checkpoint as timm reads it for ``spec.model`` when it loads its own downloads: the
    family's checkpoint filter converts original releases (DeiT-III's ``gamma_1``, Swin's and
    ConvNeXt's layouts) to timm's names. None where timm cannot: a file of another model, or a
    model without a pretrained configuration. The classifier is kept (timm drops one of another
    class count; here that stays an error), and so is every weight: built under two seeds, a
    tensor that differs was left at its random start by one of timm's lenient loaders (None). The
    file read is the anchor's, never the model name's own source (``hf-hub:``, ``local-dir:``).
    The global random state is not touched. ``drop_classifier``: timm leaves the classifier at its
    random start (as for another class count), and only the other weights must all be read."""
    import timm

    from ..progress import quiet_timm

    classes = getattr(model, "num_classes", None)
    if drop_classifier:  # timm drops a classifier whose class count is not its configuration's
        classes = -1 if not isinstance(classes, int) else classes + 1
    overlay = {"file": str(path), "num_classes": classes, "source": ""}

    def read() -> dict:
        if path.suffix == ".npz":  # JAX: the model's own loader, as timm's configurations name it
            built = timm.create_model(spec.model, **spec.kwargs_dict)
            built.load_pretrained(str(path))
            return built.state_dict()
        return timm.create_model(spec.model, pretrained=True, pretrained_cfg_overlay=overlay,
                                 **spec.kwargs_dict).state_dict()

    states = []
    try:
        with torch.random.fork_rng(devices=[]), torch.device("cpu"), _training_script_globals(), quiet_timm():
            for seed in (0, 1):
                torch.manual_seed(seed)
                states.append(read())
    except Exception:  # timm's loader raises anything; the caller reports the plain load's error
        return None
    head = _classifier_keys(model) if drop_classifier else set()
    if any(not torch.equal(v, states[1][k]) for k, v in states[0].items() if k not in head):
        return None
    return states[0]


class AnchorAdapter(ABC):
    """A timm model cut into stem, blocks and head, modules that share the model's parameters.

    Subclasses name the timm model class they cut (``model_class``, ``"module:Class"``; or
    override :meth:`handles`) and implement :meth:`stem`, :meth:`blocks` and :meth:`head`; call
    order: ``handles(model)`` picks the adapter, then the three cutters are called once each.
    ``feature_specs`` (shapes at every block boundary) is derived by running them.
    """

    layout: str = "tokens"
    model_class: str = ""  # "module:Class" of the timm model family

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.stem_module = self.stem()
        self.block_modules = list(self.blocks())
        self.head_module = self.head()

    @classmethod
    def handles(cls, model: nn.Module) -> bool:
        """Whether this adapter understands ``model``: an instance of ``model_class`` (a class
        this timm does not have handles nothing)."""
        from .._util import import_object
        from ..errors import PluginError

        if not cls.model_class:
            raise NotImplementedError(f"{cls.__name__}: set model_class or override handles")
        try:
            klass = import_object(cls.model_class, "timm model class")
        except PluginError:  # pragma: no cover - older timm
            return False
        return isinstance(model, klass)

    @abstractmethod
    def stem(self) -> nn.Module:
        """Image -> features entering block 0."""

    @abstractmethod
    def blocks(self) -> list[nn.Module]:
        """The blocks, in order; each maps features to features."""

    @abstractmethod
    def head(self) -> nn.Module:
        """Features leaving the last block -> logits (final norm included)."""

    @property
    def depth(self) -> int:
        return len(self.block_modules)

    def default_input_size(self) -> tuple[int, int, int]:
        """The input (C, H, W) the model was built for: timm's data config by default."""
        from timm.data import resolve_model_data_config

        return tuple(resolve_model_data_config(self.model)["input_size"])

    def feature_specs(self, input_size: tuple[int, ...]) -> list[FeatureSpec]:
        """Feature shapes at boundaries 0..depth (input of block i; the last is the output)."""
        device = next(iter(self.model.parameters())).device
        was_training = self.model.training
        self.model.eval()  # batch norm cannot run a batch of one 1x1 map in training mode
        try:
            with torch.no_grad():
                x = self.stem_module(torch.zeros((1, *input_size), device=device))
                specs = [self._spec(x, 0)]
                for i, blk in enumerate(self.block_modules):
                    x = blk(x)
                    specs.append(self._spec(x, i + 1))
        finally:
            self.model.train(was_training)
        return specs

    def patch_input_size(self, patch_embed: nn.Module) -> tuple[int, int, int]:
        """The input (C, H, W) a model with a timm ``PatchEmbed`` was built for (its ``img_size``
        kwarg, which timm's data config does not follow); timm's data config otherwise."""
        if getattr(patch_embed, "img_size", None) is not None and hasattr(patch_embed, "proj"):
            return (patch_embed.proj.in_channels, *patch_embed.img_size)
        return AnchorAdapter.default_input_size(self)

    def token_grid(self, boundary: int) -> tuple[int, int] | None:
        """For token layouts: the (H, W) patch grid entering block ``boundary`` (None: unknown)."""
        return None

    def prefix_tokens(self) -> int:
        """For token layouts: how many leading tokens are not grid positions (class tokens...)."""
        return 0

    def _spec(self, x: torch.Tensor, boundary: int) -> FeatureSpec:
        shape = tuple(int(s) for s in x.shape[1:])
        if self.layout != "tokens":
            return FeatureSpec(self.layout, shape)
        grid, prefix = self.token_grid(boundary), self.prefix_tokens()
        if grid is not None and shape[0] != prefix + grid[0] * grid[1]:
            grid = None  # the model runs at another size than it was built for
        return FeatureSpec("tokens", shape, tuple(int(g) for g in grid) if grid else None,
                           prefix if grid else 0)


class PatchTokenAdapter(AnchorAdapter):
    """Base of adapters whose stem is a timm patch embedding (the model attribute
    ``patch_attr``) and whose blocks run on its tokens: the input size the model was built for
    and the token grid are the patch embedding's; the prefix tokens vary by family."""

    layout = "tokens"
    patch_attr = "patch_embed"

    def default_input_size(self) -> tuple[int, int, int]:
        return self.patch_input_size(getattr(self.model, self.patch_attr))

    def token_grid(self, boundary: int) -> tuple[int, int] | None:
        return getattr(getattr(self.model, self.patch_attr), "grid_size", None)


ADAPTERS = Registry("anchor adapter")


def register_adapter(cls: type[AnchorAdapter]) -> type[AnchorAdapter]:
    """Register an adapter class (usable as a decorator); later registrations are tried first."""
    return ADAPTERS.register(cls.__name__, cls)


def list_adapters(pattern: str = "*") -> list[str]:
    """Names of registered adapter classes matching a shell-style pattern."""
    return ADAPTERS.names(pattern)


def adapter_for(model: nn.Module) -> AnchorAdapter:
    """The adapter of the most recently registered class that handles ``model``."""
    for cls in ADAPTERS.values():
        if cls.handles(model):
            return cls(model)
    kind = type(model)
    raise StitchnasError(
        f"no anchor adapter for {kind.__name__} ({kind.__module__}); the {len(ADAPTERS.names())} "
        "adapters and the timm families they take are listed by `stitchnas bench adapters` and "
        "docs/cnns.md: use one of those families or register an AnchorAdapter"
    )


class Borrowed(nn.Module):
    """Runs a method of a timm model on a subset of its modules and parameters.

    The borrowed modules and parameters are the model's own objects (shared, not copied), and
    the model's plain attributes (flags like ``no_embed_class``) are copied, so timm's own code
    runs unchanged on this smaller module.
    """

    def __init__(
        self,
        model: nn.Module,
        names: list[str],
        fn: Callable[["Borrowed", torch.Tensor], torch.Tensor],
        methods: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        for key, value in vars(model).items():
            if not key.startswith("_") and key != "training":
                object.__setattr__(self, key, value)
        for name in names:
            value = getattr(model, name, None)
            if isinstance(value, (nn.Module, nn.Parameter)):
                setattr(self, name, value)
            else:
                object.__setattr__(self, name, value)
        for name in methods:
            object.__setattr__(self, name, types.MethodType(getattr(type(model), name), self))
        self._fn = fn
        self._model_type = type(model).__name__

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fn(self, x)

    def extra_repr(self) -> str:
        return f"from={self._model_type}"
