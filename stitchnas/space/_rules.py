"""Stitching rules: which routes a space contains, and in which order (their stable ids).

A rule sees only the anchors' depths and returns one slot per id: a :class:`Candidate`, or
``None`` for an id that the official numbering keeps but that is not a valid network.
Rules are found by name in a small registry (:func:`get_rule`, :func:`list_rules`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from .._registry import Registry
from ..errors import StitchnasError
from ._routes import Candidate, Junction, Route, Segment

__all__ = ["StitchRule", "SNNetV1Rule", "SNNetV2Rule", "TwoWayRule", "SNNetStagesRule", "Stage",
           "boundary_stages", "get_rule", "list_rules", "register_rule"]


class StitchRule(ABC):
    """Base of all rules. ``__init__`` takes the rule's options from the space file.

    Call order: ``check(depths)`` (raises a StitchnasError when the anchors do not fit), then
    ``enumerate(depths)``. Rules with ``staged = True`` also receive the anchors' feature specs
    at every block boundary (``check(depths, features)``, ``enumerate(depths, features)``;
    ``features[a][i]`` enters block i of anchor a), to cut and resume only at boundaries of
    equal spatial resolution, stage by stage.
    """

    name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}
    staged: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise StitchnasError(
                f"rule {self.name!r} has no option {', '.join(map(repr, unknown))}; "
                f"its options are {sorted(self.options) or 'none'}"
            )
        self.config = {**self.options, **options}
        for key, value in self.config.items():
            default = self.options[key]
            if isinstance(default, int) and not isinstance(default, bool):
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise StitchnasError(
                        f"rule {self.name!r}: option {key!r} must be a positive integer, got {value!r}"
                    )
        if "pairs" in self.config and self.config["pairs"] not in ("nearest", "all"):
            raise StitchnasError(
                f"rule {self.name!r}: pairs must be 'nearest' or 'all', got {self.config['pairs']!r}"
            )

    def check(self, depths: Sequence[int]) -> None:
        """Raise a StitchnasError if this rule cannot stitch anchors of these depths."""
        if len(depths) < 2:
            raise StitchnasError(f"rule {self.name!r} needs at least two anchors, got {len(depths)}")

    @abstractmethod
    def enumerate(self, depths: Sequence[int]) -> list[Candidate | None]:
        """One slot per id, in id order."""

    def to_json(self) -> dict[str, Any]:
        return {"type": self.name, **self.config}


RULES = Registry("stitching rule")


def register_rule(cls: type[StitchRule]) -> type[StitchRule]:
    """Register a rule class under its ``name`` (usable as a decorator)."""
    return RULES.register(cls.name, cls)


def list_rules(pattern: str = "*") -> list[str]:
    """Names of registered rules matching a shell-style pattern, e.g. ``list_rules('snnet*')``."""
    return RULES.names(pattern)


def get_rule(config: dict[str, Any]) -> StitchRule:
    """Build a rule from its space-file mapping ``{type: NAME, option: value, ...}``."""
    if not isinstance(config, dict) or "type" not in config:
        hint = f": write rule: {{type: {config}}}" if isinstance(config, str) and config in RULES else ""
        raise StitchnasError(
            f"the space's rule must be a mapping with a 'type' (one of {list_rules()}), got {config!r}{hint}"
        )
    options = dict(config)
    name = options.pop("type")
    bad = [k for k in options if not isinstance(k, str)]
    if bad:
        raise StitchnasError(f"the space's rule has option name(s) {bad} that are not words; "
                             "write options as name: value")
    if not isinstance(name, str) or name not in RULES:
        raise StitchnasError(RULES.unknown(name))
    return RULES.get(name)(**options)


def _anchors_alone(depths: Sequence[int]) -> list[Candidate | None]:
    return [Candidate(i, Route((Segment(i, 0, d),))) for i, d in enumerate(depths)]


def _junction_keys(route: Route, names: dict[Junction, str] | None = None) -> tuple[str, ...]:
    """One layer per junction, named by it; ``names`` memoises the names over a whole space."""
    if names is None:
        return tuple(str(j) for j in route.junctions)
    return tuple(names.get(j) or names.setdefault(j, str(j)) for j in route.junctions)


@dataclass(frozen=True)
class Stage:
    """A run of block boundaries with equal stitch keys (one spatial resolution) of one anchor.

    Boundaries ``lo..hi`` lie in it; its blocks are ``start .. hi-1`` (``start = lo - 1``: the
    block that brought the features to this resolution, or 0 for the stage that includes the
    stem's output), ``blocks = hi - start`` of them.
    """

    key: tuple
    lo: int
    hi: int

    @property
    def start(self) -> int:
        return max(self.lo - 1, 0)

    @property
    def blocks(self) -> int:
        return self.hi - self.start


def boundary_stages(features: Sequence[Any]) -> list[Stage]:
    """Split one anchor's boundary feature specs (depth + 1 of them) into runs of equal stitch keys."""
    keys = [f.stitch_key for f in features]
    stages, lo = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[lo]:
            stages.append(Stage(keys[lo], lo, i - 1))
            lo = i
    return stages


def _describe_stages(features: Sequence[Any]) -> str:
    return ", ".join(f"{st.blocks} block(s) at {features[st.hi]}" for st in boundary_stages(features))


def _pairs(n: int, mode: str) -> list[tuple[int, int]]:
    if mode == "nearest":
        return [(i, i + 1) for i in range(n - 1)]
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


@register_rule
class SNNetV1Rule(StitchRule):
    """SN-Net: paired sliding-window stitching, small -> large, anchors of equal depth.

    Ids follow SN-Net's official code: the anchors alone, then for each anchor pair (A, B), for
    each window start w = 0, stride, ... < d, each new pair (j, k) of the window gives
    ``A[0, j+1) -> B[k, d)``. All stitches of one window share one stitching layer.
    """

    name = "snnet_v1"
    options = {"kernel_size": 2, "stride": 1, "pairs": "nearest"}

    def check(self, depths: Sequence[int]) -> None:
        super().check(depths)
        if len(set(depths)) != 1:
            raise StitchnasError(
                f"rule 'snnet_v1' needs anchors of equal depth, got depths {list(depths)}; "
                "use rule 'snnet_v2' (two anchors) or 'two_way' for unequal depths"
            )

    def enumerate(self, depths: Sequence[int]) -> list[Candidate | None]:
        d = depths[0]
        k, stride = self.config["kernel_size"], self.config["stride"]
        out = _anchors_alone(depths)
        for a, b in _pairs(len(depths), self.config["pairs"]):
            seen: set[tuple[int, int]] = set()
            window_id = -1
            for w in range(0, d, stride):
                ids = range(w, min(w + k, d))
                new = [(j, kk) for j in ids for kk in ids if (j, kk) not in seen]
                if not new:
                    continue
                window_id += 1
                for j, kk in new:
                    seen.add((j, kk))
                    route = Route((Segment(a, 0, j + 1), Segment(b, kk, d)))
                    out.append(Candidate(len(out), route, (f"{a}>{b}@w{window_id}",)))
        return out


@register_rule
class SNNetV2Rule(StitchRule):
    """SN-Netv2: two-way stitching between a small anchor S and a large anchor L, official order.

    0 = S, 1 = L; then S->L, L->S, L->S->L and S->L->S stitches (see docs/spaces.md for the exact
    order). The last S->L id keeps its number but has no L blocks left and is not valid.
    Every junction has its own stitching layer, shared by all routes that use it.
    """

    name = "snnet_v2"
    options: ClassVar[dict[str, Any]] = {}

    def check(self, depths: Sequence[int]) -> None:
        if len(depths) != 2:
            raise StitchnasError(
                f"rule 'snnet_v2' stitches exactly two anchors (small, then large), got {len(depths)}; "
                "use rule 'two_way' for more"
            )
        if depths[0] > depths[1]:
            raise StitchnasError(
                f"rule 'snnet_v2' needs the small anchor first: depths {list(depths)} list the "
                "deeper anchor first; swap the anchors"
            )

    def enumerate(self, depths: Sequence[int]) -> list[Candidate | None]:
        ds, dl = depths
        r = dl // ds
        S, L = 0, 1
        slots: list[Route | None] = [Route((Segment(S, 0, ds),)), Route((Segment(L, 0, dl),))]
        s2l = [(i, (i + 1) * r) for i in range(ds)]
        l2s = [(i, (i * ds) // dl + 1) for i in range(dl - 1) if dl == ds or i % 2 == 1]
        for i, j in s2l:
            slots.append(Route((Segment(S, 0, i + 1), Segment(L, j, dl))) if j < dl else None)
        for i, j in l2s:
            slots.append(Route((Segment(L, 0, i + 1), Segment(S, j, ds))))
        for i1, j1 in l2s:
            for i2, j2 in s2l:
                if i2 != ds - 1 and i2 >= j1:
                    slots.append(Route((Segment(L, 0, i1 + 1), Segment(S, j1, i2 + 1),
                                        Segment(L, j2, dl))))
        for i1, j1 in s2l:
            for i2, j2 in l2s:
                if i2 >= j1:
                    slots.append(Route((Segment(S, 0, i1 + 1), Segment(L, j1, i2 + 1),
                                        Segment(S, j2, ds))))
        return [None if r_ is None else Candidate(i, r_, _junction_keys(r_))
                for i, r_ in enumerate(slots)]


@register_rule
class TwoWayRule(StitchRule):
    """Two-way stitching for any number of anchors, beyond SN-Net's own spaces.

    For each allowed ordered anchor pair (A, B) (``pairs: nearest`` = neighbours in the listed
    order, ``all`` = every pair; both directions), A runs ``c`` blocks (``c`` a multiple of
    ``stride``) and B resumes at the block of equal relative depth, or at one of the ``window``
    positions centred on it. With ``max_stitches: 2`` a second stitch leaves B for any anchor
    allowed from B (back to A too, never re-running A's blocks).

    Relative depth is taken within a stage: the run of boundaries of one spatial resolution
    (a plain ViT is one stage, so B resumes at ``c * d_B / d_A``, rounded half up). A cut after
    ``j`` of the ``n_A`` blocks of A's stage resumes after ``j * n_B / n_A`` blocks of B's
    stage of the same resolution (rounded half up, kept inside that stage); cuts at a
    resolution B does not have give no stitch. So CNNs and hierarchical transformers stitch
    stage to stage, and the stitching layer converts layouts between families.
    Ids: anchors, then one-stitch routes, then two-stitch routes, each in that loop order.
    """

    name = "two_way"
    options = {"pairs": "nearest", "max_stitches": 2, "window": 1, "stride": 1}
    staged = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.config["max_stitches"] > 2:
            raise StitchnasError(
                f"rule 'two_way': max_stitches must be 1 or 2, got {self.config['max_stitches']}"
            )

    def check(self, depths: Sequence[int], features: Sequence[Sequence[Any]] | None = None) -> None:
        super().check(depths)
        if features is None:
            return
        from ..anchors import stitch_problem

        pairs = _pairs(len(depths), self.config["pairs"])
        apart = [(a, b) for a, b in pairs
                 if not {f.stitch_key for f in features[a][1:]} & {f.stitch_key for f in features[b][1:]}]
        # neighbours must be stitchable; with pairs: all, pairs that are not simply give no stitch
        if apart and (self.config["pairs"] == "nearest" or len(apart) == len(pairs)):
            a, b = apart[0]
            fa, fb = features[a], features[b]
            problem = stitch_problem(fa[-1], fb[-1]) or "no common resolution"
            raise StitchnasError(
                f"rule 'two_way': anchors {a} and {b} share no block boundary to stitch at "
                f"(anchor {a}: {_describe_stages(fa)}; anchor {b}: {_describe_stages(fb)}): {problem}"
            )

    def _resumes(self, c: int, da: int, db: int, sa: list[Stage] | None = None,
                 sb: list[Stage] | None = None) -> list[int]:
        if sa is None or sb is None:
            aligned = (2 * c * db + da) // (2 * da)  # c * db / da rounded half up
            lo_b, hi_b = 0, db - 1
        else:
            st_a = next(st for st in sa if st.lo <= c <= st.hi)
            st_b = next((st for st in sb if st.key == st_a.key), None)
            if st_b is None:
                return []
            j = c - st_a.start
            aligned = st_b.start + (2 * j * st_b.blocks + st_a.blocks) // (2 * st_a.blocks)
            aligned = min(max(aligned, st_b.lo), st_b.hi)
            lo_b, hi_b = st_b.lo, min(st_b.hi, db - 1)
        w = self.config["window"]
        lo = aligned - (w - 1) // 2
        return list(range(max(lo, lo_b), min(lo + w - 1, hi_b) + 1))  # no loop over a huge window

    def _cuts(self, lo: int, d: int) -> list[int]:
        s = self.config["stride"]
        return [c for c in range(lo + 1, d) if c % s == 0]

    def enumerate(self, depths: Sequence[int],
                  features: Sequence[Sequence[Any]] | None = None) -> list[Candidate | None]:
        n = len(depths)
        stages = [boundary_stages(f) for f in features] if features is not None else [None] * n

        memo: dict[tuple[int, int, int], list[int]] = {}

        def resumes(c: int, a: int, b: int) -> list[int]:
            key = (c, a, b)
            if key not in memo:
                memo[key] = self._resumes(c, depths[a], depths[b], stages[a], stages[b])
            return memo[key]

        pairs = _pairs(n, self.config["pairs"])
        nexts: dict[int, list[int]] = {i: [] for i in range(n)}
        for a, b in pairs:
            nexts[a].append(b)
            nexts[b].append(a)
        ordered = [p for a, b in pairs for p in ((a, b), (b, a))]
        routes: list[Route] = [c.route for c in _anchors_alone(depths)]
        singles: list[tuple[int, int, int, int]] = []
        for a, b in ordered:
            for c in self._cuts(0, depths[a]):
                for k in resumes(c, a, b):
                    singles.append((a, c, b, k))
                    routes.append(Route((Segment(a, 0, c), Segment(b, k, depths[b]))))
        if self.config["max_stitches"] == 2:
            for a, c, b, k in singles:
                for c2 in self._cuts(k, depths[b]):
                    for dst in sorted(nexts[b]):
                        for k2 in resumes(c2, b, dst):
                            if dst == a and k2 < c:
                                continue
                            routes.append(Route((Segment(a, 0, c), Segment(b, k, c2),
                                                 Segment(dst, k2, depths[dst]))))
        unique = list(dict.fromkeys(routes))
        names: dict[Junction, str] = {}
        return [Candidate(i, r, _junction_keys(r, names)) for i, r in enumerate(unique)]


def _paired_stage(n: int, kernel_size: int, stride: int) -> tuple[list[tuple[int, int]], list[int]]:
    """SN-Net's ``paired_stitching`` within a stage of n blocks in both anchors: sliding windows;
    (j, k) with j < k (front runs stage blocks 0..j, back resumes at stage block k); one layer
    per window that brings new pairs."""
    cfgs: list[tuple[int, int]] = []
    layers: list[int] = []
    window = -1
    for w in range(0, n, stride):
        ids = range(w, min(w + kernel_size, n))
        new = [(j, k) for j in ids for k in ids if j < k and (j, k) not in cfgs]
        if new:
            window += 1
            cfgs += new
            layers += [window] * len(new)
    return cfgs, layers


def _unpaired_stage(n_front: int, n_back: int) -> tuple[list[tuple[int, int]], list[int]]:
    """SN-Net's ``unpaired_stitching`` (front stage shallower): back block i maps to front block
    ``floor(i * n_front / n_back)`` (nearest interpolation); (j, i) for every back block i > j
    mapped to front block j. Layer ids as SN-Net's code assigns them: the m-th stitch uses
    layer ``mapping[m]``."""
    mapping = [(i * n_front) // n_back for i in range(n_back)]
    cfgs = [(j, i) for j in range(n_front) for i, e in enumerate(mapping) if e == j and j < i]
    return cfgs, [mapping[m] for m in range(len(cfgs))]


@register_rule
class SNNetStagesRule(StitchRule):
    """SN-Net's stitching of CNNs and hierarchical models (ResNet, Swin, LeViT), official order.

    Stages are the runs of blocks at one spatial resolution (ResNet's ``layerN``, Swin's and
    LeViT's stages). For each stitched stage s (option ``stages``, default all), for each pair
    of neighbouring anchors (small, then large), the front anchor runs up to block j of stage s
    and the back anchor resumes at block k > j of its stage s: paired sliding windows
    (``kernel_size``, ``stride``) when both stages are equally deep, SN-Net's nearest-depth
    mapping when the back stage is deeper. Ids: the anchors, then per stage, per pair, SN-Net's
    order. SN-Net stitches ResNet/Swin in stages [1, 2], LeViT in [0, 1].
    """

    name = "snnet_stages"
    options: ClassVar[dict[str, Any]] = {"stages": None, "kernel_size": 2, "stride": 1}
    staged = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        st = self.config["stages"]
        if st is not None and (
            not isinstance(st, list) or not st
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in st)
            or len(set(st)) != len(st)
        ):
            raise StitchnasError(
                f"rule 'snnet_stages': stages must be a list of distinct stage numbers (0 = first), "
                f"e.g. [1, 2], or null for all; got {st!r}"
            )

    def _stages(self, features: Sequence[Sequence[Any]]) -> list[list[Stage]]:
        return [[st for st in boundary_stages(f) if st.blocks > 0] for f in features]

    def check(self, depths: Sequence[int], features: Sequence[Sequence[Any]] | None = None) -> None:
        super().check(depths)
        if features is None:
            raise StitchnasError("rule 'snnet_stages' needs the anchors' features: load it with a space")
        stages = self._stages(features)
        counts = [len(s) for s in stages]
        desc = "; ".join(f"anchor {a}: {_describe_stages(f)}" for a, f in enumerate(features))
        if len(set(counts)) != 1 or any(
            stages[a][s].key != stages[0][s].key for a in range(len(stages)) for s in range(counts[0])
        ):
            raise StitchnasError(
                f"rule 'snnet_stages' needs anchors with the same stages (same resolutions, in the "
                f"same order), got {desc}; use rule 'two_way' to stitch wherever resolutions match"
            )
        chosen = self.config["stages"] or list(range(counts[0]))
        bad = [s for s in chosen if s >= counts[0]]
        if bad:
            raise StitchnasError(
                f"rule 'snnet_stages': the anchors have stages 0..{counts[0] - 1}, not {bad}"
            )
        for s in chosen:
            for a in range(len(depths) - 1):
                if stages[a][s].blocks > stages[a + 1][s].blocks:
                    raise StitchnasError(
                        f"rule 'snnet_stages' stitches small to large: stage {s} of anchor {a} has "
                        f"{stages[a][s].blocks} blocks, more than anchor {a + 1}'s "
                        f"{stages[a + 1][s].blocks}; list the anchors from small to large or use 'two_way'"
                    )

    def enumerate(self, depths: Sequence[int],
                  features: Sequence[Sequence[Any]] | None = None) -> list[Candidate | None]:
        if features is None:
            raise StitchnasError("rule 'snnet_stages' needs the anchors' features: load it with a space")
        stages = self._stages(features)
        out = _anchors_alone(depths)
        for s in self.config["stages"] or range(len(stages[0])):
            for a in range(len(depths) - 1):
                b = a + 1
                sa, sb = stages[a][s], stages[b][s]
                if sa.blocks == sb.blocks:
                    cfgs, layers = _paired_stage(sa.blocks, self.config["kernel_size"], self.config["stride"])
                else:
                    cfgs, layers = _unpaired_stage(sa.blocks, sb.blocks)
                for (j, k), layer in zip(cfgs, layers):
                    route = Route((Segment(a, 0, sa.start + j + 1), Segment(b, sb.start + k, depths[b])))
                    out.append(Candidate(len(out), route, (f"{a}>{b}@s{s}l{layer}",)))
        return out
