"""Search spaces: anchors plus a stitching rule, loaded from YAML, enumerated into candidates.

A space file names the anchors (timm model + kwargs + weights source) and the rule; the space
enumerates every candidate with a stable id and knows the shape of every stitching layer.
Bundled spaces live in ``search_spaces/`` and are found by name (:func:`list_spaces`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..anchors import AnchorSpec, FeatureSpec, stitch_problem  # torch-free; models built lazily
from .._util import did_you_mean, did_you_mean_key, gc_paused, short_repr
from ..errors import StitchnasError
from ..paths import check_name, names_a_file, pretrained_dir, results_dir
from ._defaults import DEFAULT_SPACE
from . import _idcache
from ._routes import Candidate, Junction, Route
from ._rules import StitchRule, get_rule
from ._schema import check_sections, kwargs_problem
from ._structure import read_structure, structure_versions, write_structure

__all__ = ["SearchSpace", "LayerShape", "load_space", "list_spaces", "bundled_spaces_dir",
           "DEFAULT_SPACE", "check_acc1"]

_TOP_KEYS = {"name", "description", "input_size", "anchors", "rule", "stitching", "data", "training",
             "run"}
_ANCHOR_KEYS = {"name", "model", "kwargs", "checkpoint", "pretrained", "acc1", "init"}


@dataclass(frozen=True)
class LayerShape:
    """A stitching layer's shape: channels in and out, the feature layout it receives
    (``layout``) and the one it must produce (``out_layout``, None: the same), and the grid
    (H, W) at the junction (needed to lay tokens out as a feature map)."""

    in_channels: int
    out_channels: int
    layout: str
    out_layout: str | None = None
    grid: tuple[int, int] | None = None

    def build(self, rank: int | None = None):
        """A fresh :class:`~stitchnas.network.StitchingLayer` of this shape."""
        from ..network import StitchingLayer

        return StitchingLayer(self.in_channels, self.out_channels, rank, in_layout=self.layout,
                              out_layout=self.out_layout or self.layout, grid=self.grid)


#: The most anchors one space may hold (SN-Net stitches 2-3; each anchor is built, and the
#: routes multiply with their number).
MAX_ANCHORS = 32


def bundled_spaces_dir() -> Path:
    """The bundled ``search_spaces`` folder (source checkout, or installed package data)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "search_spaces", package / "search_spaces"):
        if candidate.is_dir():
            return candidate
    from importlib.resources import files

    return Path(str(files("stitchnas").joinpath("search_spaces")))


def list_spaces(pattern: str = "*") -> list[str]:
    """Names of bundled spaces matching a shell-style pattern, e.g. ``list_spaces('deit*')``."""
    names = sorted(p.stem for p in bundled_spaces_dir().glob("*.yaml"))
    return [n for n in names if fnmatch.fnmatch(n, pattern)]


def load_space(name_or_path: str | os.PathLike | None = None) -> "SearchSpace":
    """Load a space from a YAML path or a bundled space's name (the default space if None)."""
    if isinstance(name_or_path, SearchSpace):
        return name_or_path
    target = str(name_or_path) if name_or_path is not None else DEFAULT_SPACE
    path = Path(target)
    if not names_a_file(target, bundled_spaces_dir() / f"{target}.yaml"):
        path = bundled_spaces_dir() / f"{target}.yaml"
        if not path.is_file():
            hint = did_you_mean(target, list_spaces())
            raise StitchnasError(
                f"unknown space {target!r}: not a file and not a bundled space "
                f"(bundled: {', '.join(list_spaces())}){hint}"
            )
    if not os.path.exists(path):  # a folder, FIFO or device exists: read_yaml says what it is
        raise StitchnasError(f"space file {path} does not exist; give a YAML path or a bundled name")
    from ..fileio import read_yaml

    return SearchSpace.from_dict(read_yaml(path, "space file"), path=path)


def check_acc1(value: Any, what: str) -> float:
    """A top-1 accuracy in percent (a finite number in 0..100), or a one-line error about ``what``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    try:
        ok = ok and 0.0 <= float(value) <= 100.0
    except OverflowError:
        ok = False
    if not ok:
        raise StitchnasError(f"{what} must be a top-1 accuracy in percent (a number in 0..100), got "
                             f"{short_repr(value)}; write 0.75 as 75.0")
    return float(value)


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise StitchnasError(msg)


def _weights_path(value: str | None, base: Path) -> str | None:
    """An anchor's weights path as absolute: ``${results}`` and ``${pretrained}`` filled in,
    ``~`` expanded, relative to the space file's folder."""
    if value is None:
        return None
    value = value.replace("${results}", str(results_dir().resolve()))
    value = value.replace("${pretrained}", str(pretrained_dir().resolve()))
    return str((base / os.path.expanduser(value)).resolve())


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(((k, _freeze(v)) for k, v in value.items()), key=lambda kv: str(kv[0])))
    return value


def _is_plain(value: Any) -> bool:
    """Numbers, strings, booleans, null, lists and string-keyed mappings of them (JSON's values)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


class SearchSpace:
    """Anchors + rule. Candidates, depths and shapes are computed lazily and cached.

    Structure (depths, feature shapes) comes from models built on the meta device, so a space
    of large anchors enumerates without their weights or memory.
    """

    def __init__(
        self,
        name: str,
        anchors: Sequence[AnchorSpec],
        rule: StitchRule,
        input_size: tuple[int, int, int] | None = None,
        rank: int | None = None,
        description: str = "",
        path: Path | None = None,
        extra: dict[str, Any] | None = None,
        anchor_acc1: Sequence[float | None] | None = None,
    ) -> None:
        self.name = name
        self.anchors = tuple(anchors)
        self.rule = rule
        self._input_size = tuple(input_size) if input_size else None
        self.rank = rank
        self.description = description
        self.path = path
        self.extra = dict(extra or {})
        acc = tuple(anchor_acc1 or ())
        _require(len(acc) in (0, len(self.anchors)), "anchor_acc1 needs one value (or None) per anchor")
        #: each anchor's top-1 (percent) as the space file or the command line gives it (``acc1:``),
        #: or None: the prior the search interpolates when nothing is measured. Not part of the
        #: hashes: changing a prior never invalidates measured rows, checkpoints or fronts.
        self.anchor_acc1: tuple[float | None, ...] = acc or (None,) * len(self.anchors)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Any, path: Path | None = None) -> "SearchSpace":
        where = f"space file {path}" if path else "space"
        _require(isinstance(doc, dict), f"{where} must be a YAML mapping with 'anchors' and 'rule'")
        unknown = sorted(set(doc) - _TOP_KEYS, key=str)
        _require(not unknown, f"{where}: unknown key(s) {unknown}{did_you_mean_key(unknown, _TOP_KEYS)}; "
                              f"known keys are {sorted(_TOP_KEYS)}")
        for key in ("anchors", "rule"):
            inside = [str(k) for k, v in doc.items() if isinstance(v, dict) and key in v]
            _require(key in doc, f"{where} has no {key!r} at the top level: " + (
                f"move it out of {inside[0]!r}" if inside else "add it (see search_spaces/ for examples)"))
        name = check_name(doc.get("name") or (path.stem if path else "space"), f"{where}: 'name'")
        anchors_doc = doc["anchors"]
        _require(isinstance(anchors_doc, list) and len(anchors_doc) >= 1,
                 f"{where}: 'anchors' must be a list of {{name, model, ...}} mappings")
        _require(len(anchors_doc) <= MAX_ANCHORS,  # each is built; routes grow with their count
                 f"{where}: {len(anchors_doc)} anchors, more than the {MAX_ANCHORS} a space may "
                 "hold: split it into several spaces")
        base = path.parent if path else Path.cwd()
        anchors, priors = [], []
        for i, a in enumerate(anchors_doc):
            _require(isinstance(a, dict) and isinstance(a.get("model"), str),
                     f"{where}: anchor {i} must be a mapping with a 'model' (a timm model name)")
            bad = sorted(set(a) - _ANCHOR_KEYS, key=str)
            _require(not bad, f"{where}: anchor {i} has unknown key(s) {bad}"
                              f"{did_you_mean_key(bad, _ANCHOR_KEYS)}; known: {sorted(_ANCHOR_KEYS)}")
            kwargs = a.get("kwargs") or {}
            _require(isinstance(kwargs, dict), f"{where}: anchor {i} 'kwargs' must be a mapping")
            _require(_is_plain(kwargs), f"{where}: anchor {i} 'kwargs' must map argument names to "
                                        "numbers, strings, booleans, null, lists or mappings")
            problem = kwargs_problem(kwargs)
            _require(problem is None, f"{where}: anchor {i} 'kwargs': {problem}; a model that large "
                                      "cannot be built here: fix the value")
            ckpt, init = a.get("checkpoint"), a.get("init")
            for key, value in (("checkpoint", ckpt), ("init", init)):
                _require(value is None or (isinstance(value, str) and value),
                         f"{where}: anchor {i} '{key}' must be a path string")
            pretrained = a.get("pretrained", False)
            _require(isinstance(pretrained, bool), f"{where}: anchor {i} 'pretrained' must be true or false")
            acc1 = a.get("acc1")
            if acc1 is not None:
                acc1 = check_acc1(acc1, f"{where}: anchor {i} ({a.get('name') or f'a{i}'}) 'acc1'")
            priors.append(acc1)
            ckpt, init = (_weights_path(v, base) for v in (ckpt, init))
            _require(init is None or init != ckpt,
                     f"{where}: anchor {i} 'init' is its 'checkpoint': training would overwrite the "
                     "weights it starts from; give the trained anchor another checkpoint path")
            anchors.append(AnchorSpec(
                name=check_name(a.get("name") or f"a{i}", f"{where}: anchor {i} 'name'"),
                model=a["model"], kwargs=_freeze(kwargs),
                checkpoint=ckpt, pretrained=pretrained, init=init,
            ))
        names = [a.name for a in anchors]
        _require(len(set(names)) == len(names), f"{where}: anchor names {names} must be unique")
        input_size = doc.get("input_size")
        if input_size is not None:
            _require(
                isinstance(input_size, list) and len(input_size) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2 ** 31
                        for v in input_size),
                f"{where}: 'input_size' must be [channels, height, width], got {input_size!r}",
            )
        stitching = doc.get("stitching") or {}
        _require(isinstance(stitching, dict) and set(stitching) <= {"rank"},
                 f"{where}: 'stitching' takes only 'rank' (null for full, or an integer for low-rank)")
        rank = stitching.get("rank")
        _require(rank is None or (isinstance(rank, int) and not isinstance(rank, bool) and rank > 0),
                 f"{where}: stitching rank must be null or a positive integer, got {rank!r}")
        check_sections(doc, where)  # training, run, data: typed and range-checked now
        space = cls(
            name=name, anchors=anchors, rule=get_rule(doc["rule"]), input_size=input_size,
            rank=rank, description=str(doc.get("description") or ""), path=path,
            extra={k: doc[k] for k in ("data", "training", "run") if k in doc},
            anchor_acc1=priors,
        )
        space._raw = doc
        return space

    def with_anchor_acc1(self, values: dict[str, Any]) -> "SearchSpace":
        """This space with the anchors' top-1 priors of ``values`` (anchor name -> percent) set
        over the space file's (``--anchor-acc NAME=ACC``); the hashes stay the same."""
        import copy

        names = [a.name for a in self.anchors]
        acc = list(self.anchor_acc1)
        for name, value in values.items():
            if name not in names:
                raise StitchnasError(f"space {self.name!r} has no anchor {name!r}"
                                     f"{did_you_mean(name, names)}; its anchors are {', '.join(names)}")
            acc[names.index(name)] = check_acc1(value, f"the top-1 of anchor {name!r}")
        new = copy.copy(self)  # shares the cached structure (shapes, candidates, hashes)
        new.anchor_acc1 = tuple(acc)
        return new

    @property
    def is_bundled(self) -> bool:
        """Whether this space was read from its bundled file (to change it, edit a copy)."""
        if self.path is None:
            return False
        bundled = bundled_spaces_dir() / f"{self.name}.yaml"
        try:
            return bundled.is_file() and Path(self.path).resolve() == bundled.resolve()
        except OSError:
            return False

    @property
    def given_as(self) -> str:
        """How to name this space on a command line: its bundled name, else its file's path."""
        return self.name if self.path is None or self.is_bundled else str(self.path)

    # ---- identity -----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_size": list(self.input_size),
            "anchors": [a.to_json() for a in self.anchors],
            "rule": self.rule.to_json(),
            "stitching": {"rank": self.rank},
        }

    def _hash(self, doc: Any) -> str:
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]

    @cached_property
    def structure_hash(self) -> str:
        """Hash of what decides shapes and costs (models, kwargs, input size, rule, rank)."""
        doc = self.to_json()
        doc.pop("name")
        for a in doc["anchors"]:
            a.pop("checkpoint"), a.pop("pretrained"), a.pop("name"), a.pop("init", None)
        return self._hash(doc)

    @cached_property
    def content_hash(self) -> str:
        """Hash of the whole space, weights sources included (checkpoint file names, not paths)."""
        doc = self.to_json()
        doc.pop("name")
        for a in doc["anchors"]:
            a.pop("init", None)  # how the weights were made, as the training recipe: not hashed
            if a["checkpoint"]:
                a["checkpoint"] = Path(a["checkpoint"]).name
        return self._hash(doc)

    # ---- structure ----------------------------------------------------------------------
    @cached_property
    def _meta_adapters(self):
        from ..anchors import adapter_for, create_anchor_model

        adapters = []
        for a in self.anchors:
            model = create_anchor_model(a, weights=False, device="meta")
            try:
                adapters.append(adapter_for(model))
            except StitchnasError as err:
                raise StitchnasError(f"anchor {a.name!r} ({a.model}): {err}") from err
        return adapters

    @property
    def input_size(self) -> tuple[int, int, int]:
        if self._input_size is None:
            self._input_size = tuple(int(v) for v in self._meta_adapters[0].default_input_size())
        return self._input_size

    @cached_property
    def _cached_structure(self) -> tuple[tuple[int, ...], tuple[tuple[FeatureSpec, ...], ...], int] | None:
        """(depths, feature specs, BatchNorm layers) from the structure cache, when this structure was built
        before with the same torch, timm and stitchnas: enumerating and checking a space (a
        query's check of its front) then needs no torch. None: build the meta models."""
        return read_structure(self._structure_cache_path(), len(self.anchors))

    @property
    def structure_cached(self) -> bool:
        """Whether this machine's structure cache holds the space (depths and shapes, written by
        any command that built it): then its candidates are counted without torch, in
        milliseconds, instead of building its models (about half a second a space)."""
        return self._cached_structure is not None

    def _structure_cache_path(self) -> Path | None:
        """``CACHE/structure/NAME-STRUCTURE_HASH.json``; None when the input size is not declared
        (the hash itself would need the models)."""
        if self._input_size is None:
            return None
        from .._cache import cache_file

        try:
            return cache_file("structure", self.name, self.structure_hash)
        except StitchnasError:
            return None

    def _save_structure(self, specs) -> None:
        write_structure(self._structure_cache_path(), self.name, self.depths, self._count_batchnorm(), specs)

    @cached_property
    def batchnorm_layers(self) -> int:
        """How many BatchNorm layers with running statistics the anchors hold (0: a LayerNorm
        family). Their statistics are re-estimated per route when measuring and exporting
        (docs/training.md); read from the structure cache when it has the structure, so no torch."""
        if self._cached_structure is not None:
            return self._cached_structure[2]
        self.feature_specs  # noqa: B018 - built here, they refresh a cache written before this count
        return self._count_batchnorm()

    def _count_batchnorm(self) -> int:
        from ..network import batchnorm_layers

        return sum(len(batchnorm_layers(ad.model)) for ad in self._meta_adapters)

    @cached_property
    def depths(self) -> tuple[int, ...]:
        if self._cached_structure is not None:
            return self._cached_structure[0]
        return tuple(ad.depth for ad in self._meta_adapters)

    @cached_property
    def feature_specs(self) -> tuple[tuple[FeatureSpec, ...], ...]:
        """``feature_specs[a][i]``: features entering block i of anchor a (i = depth: output)."""
        if self._cached_structure is not None:
            return self._cached_structure[1]
        specs = []
        for spec, ad in zip(self.anchors, self._meta_adapters):
            try:
                specs.append(tuple(ad.feature_specs(self.input_size)))
            except Exception as err:
                raise StitchnasError(
                    f"anchor {spec.name!r} ({spec.model}) cannot run on input {list(self.input_size)}: "
                    f"{type(err).__name__}: {str(err).splitlines()[0].rstrip('.') if str(err) else ''}; "
                    "set the space's input_size or the anchor's img_size/in_chans kwargs"
                ) from err
        self._save_structure(specs)
        return tuple(specs)

    @cached_property
    def _slots(self) -> list[Candidate | None]:
        staged = getattr(self.rule, "staged", False)  # rules that map stage to stage see the features
        args = (self.depths, self.feature_specs) if staged else (self.depths,)
        self.rule.check(*args)
        with gc_paused():
            slots = self.rule.enumerate(*args)
        checked: set[Junction] = set()
        for cand in slots:
            if cand is not None:
                cand.route.validate(self.depths)
                for j in cand.route.junctions:
                    if j not in checked:
                        self._check_junction(j)
                        checked.add(j)
        if len(slots) >= _idcache.MIN_IDS:
            routes = tuple(c.route if c is not None else None for c in slots)
            _idcache.save_id_routes(self._id_cache, routes)
            self.__dict__.setdefault("id_routes", routes)  # the cached property's value: built once
        return slots

    @cached_property
    def _id_cache(self):
        return None if self._input_size is None else _idcache.id_cache_path(
            self.name, self.structure_hash, self.rule, structure_versions())

    @cached_property
    def id_routes(self) -> Sequence[Route | None]:
        """Every id's route in id order (None: an id kept for the official numbering, not a
        valid network). A large space enumerated before by the same code reads them from the id
        cache (``stitchnas.space._idcache``): checking a front against it enumerates nothing."""
        if "_slots" not in self.__dict__:
            cached = _idcache.load_id_routes(self._id_cache)
            if cached is not None:
                return cached
        slots = self._slots  # a large space's enumeration leaves its routes here
        routes = self.__dict__.get("id_routes")
        return routes if routes is not None else tuple(c.route if c is not None else None for c in slots)

    def _check_junction(self, j: Junction) -> None:
        """Legal junctions join features of equal spatial resolution (or identical token
        sequences); the stitching layer converts the layout (tokens, NCHW, NHWC)."""
        src = self.feature_specs[j.src][j.src_end]
        dst = self.feature_specs[j.dst][j.dst_start]
        problem = stitch_problem(src, dst)
        if problem:
            a, b = self.anchors[j.src], self.anchors[j.dst]
            raise StitchnasError(
                f"cannot stitch {a.name} after block {j.src_end - 1} ({src}) to {b.name} at block "
                f"{j.dst_start} ({dst}): {problem}"
            )

    @property
    def candidates(self) -> list[Candidate]:
        """Valid candidates in id order."""
        return [c for c in self._slots if c is not None]

    @property
    def num_ids(self) -> int:
        """Number of ids, invalid ones (kept for the official numbering) included."""
        return len(self._slots)

    def __len__(self) -> int:
        return len(self.candidates)

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self.candidates)

    def candidate(self, cid: int) -> Candidate:
        slots = self._slots
        if not isinstance(cid, int) or not 0 <= cid < len(slots):
            raise StitchnasError(f"space {self.name!r} has ids 0..{len(slots) - 1}, not {cid!r}; "
                                 f"list them with `stitchnas enumerate {self.name}`")
        if slots[cid] is None:
            raise StitchnasError(
                f"id {cid} of space {self.name!r} is kept for the official numbering but is not a "
                "valid network; choose another id"
            )
        return slots[cid]

    @cached_property
    def _by_route(self) -> dict[Route, Candidate]:
        return {c.route: c for c in self.candidates}

    def find(self, route: Route | str | Sequence) -> Candidate:
        """The candidate with this route (Route, string form, or JSON list)."""
        if isinstance(route, str):
            route = Route.parse(route)
        elif not isinstance(route, Route):
            route = Route.of(route)
        try:
            return self._by_route[route]
        except KeyError:
            route.validate(self.depths)
            raise StitchnasError(
                f"route {route} is not in space {self.name!r} ({len(self)} candidates); "
                "run `stitchnas enumerate` to list them"
            ) from None

    def describe(self, route: Route) -> str:
        """Route string with anchor names, e.g. ``ti[0:4]>s[4:12]``."""
        return ">".join(f"{self.anchors[s.anchor].name}[{s.start}:{s.end}]" for s in route)

    @cached_property
    def layer_junctions(self) -> dict[str, tuple[Junction, ...]]:
        """Stitching-layer key -> every junction it serves (in first-use order)."""
        out: dict[str, list[Junction]] = {}
        for c in self.candidates:
            for key, j in zip(c.layer_keys, c.route.junctions):
                lst = out.setdefault(key, [])
                if j not in lst:
                    lst.append(j)
        return {k: tuple(v) for k, v in out.items()}

    def junction_shape(self, j: Junction) -> LayerShape:
        """The shape of the stitching layer a junction needs."""
        src = self.feature_specs[j.src][j.src_end]
        dst = self.feature_specs[j.dst][j.dst_start]
        out_layout = None if dst.layout == src.layout else dst.layout
        grid = dst.resolution if src.layout == "tokens" and dst.layout != "tokens" else None
        return LayerShape(src.channels, dst.channels, src.layout, out_layout, grid)

    @cached_property
    def layer_shapes(self) -> dict[str, LayerShape]:
        shapes = {}
        for key, junctions in self.layer_junctions.items():
            shape = self.junction_shape(junctions[0])
            for j in junctions[1:]:
                if self.junction_shape(j) != shape:
                    raise StitchnasError(
                        f"space {self.name!r}: stitching layer {key!r} serves junctions {junctions[0]} "
                        f"and {j} of different shapes ({shape} vs {self.junction_shape(j)}); the rule "
                        "must give them separate layers"
                    )
            shapes[key] = shape
        self._check_rank(shapes, self.rank, f"space {self.name!r}: stitching rank",
                         "set stitching rank to at most {full}, or null for full layers")
        return shapes

    def check_rank(self, rank: int | None, what: str = "rank") -> None:
        """Refuse a low-rank stitching ``rank`` above a stitching layer's full rank (the smaller of
        its widths): that update is a full one with more parameters (``train --rank 1000000``
        wrote a 3.8 GB checkpoint), so it is named before any model is built."""
        self._check_rank(self.layer_shapes, rank, what, "give at most {full}, or no rank for full layers")

    def _check_rank(self, shapes: dict[str, LayerShape], rank: int | None, what: str, fix: str) -> None:
        if rank is None or not shapes:
            return
        full = {key: min(s.in_channels, s.out_channels) for key, s in shapes.items()}
        exceeded = [key for key in full if rank > full[key]]
        if exceeded:
            key = min(exceeded, key=full.get)  # the narrowest layer it exceeds
            shape = shapes[key]
            raise StitchnasError(
                f"{what} {rank} exceeds stitching layer {key!r} ({shape.in_channels} -> {shape.out_channels} "
                f"channels), where rank {full[key]} is already full: {fix.format(full=min(full.values()))}")

    def create_models(self, weights: bool = True, device: str | None = None):
        """The anchors' timm models (with their checkpoints unless ``weights=False``)."""
        from ..anchors import create_anchor_model

        return [create_anchor_model(a, weights=weights, device=device, space=self.given_as)
                for a in self.anchors]

    def __repr__(self) -> str:
        return (f"SearchSpace({self.name!r}, anchors={[a.name for a in self.anchors]}, "
                f"rule={self.rule.name!r})")
