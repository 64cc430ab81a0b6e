"""Stitching rules: which routes a space contains, and in which order (their stable ids).

A rule sees only the anchors' depths and returns one slot per id: a :class:`Candidate`, or
``None`` for an id that the official numbering keeps but that is not a valid network.
Rules are found by name in a small registry (:func:`get_rule`, :func:`list_rules`).
"""

from __future__ import annotations

import difflib
import fnmatch
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

from .errors import StitchnasError
from .routes import Candidate, Route, Segment

__all__ = ["StitchRule", "SNNetV1Rule", "SNNetV2Rule", "TwoWayRule", "get_rule", "list_rules",
           "register_rule"]


class StitchRule(ABC):
    """Base of all rules. ``__init__`` takes the rule's options from the space file.

    Call order: ``check(depths)`` (raises a StitchnasError when the anchors do not fit), then
    ``enumerate(depths)``.
    """

    name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}

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


_RULES: dict[str, type[StitchRule]] = {}


def register_rule(cls: type[StitchRule]) -> type[StitchRule]:
    _RULES[cls.name] = cls
    return cls


def list_rules(pattern: str = "*") -> list[str]:
    return sorted(n for n in _RULES if fnmatch.fnmatch(n, pattern))


def get_rule(config: dict[str, Any]) -> StitchRule:
    """Build a rule from its space-file mapping ``{type: NAME, option: value, ...}``."""
    if not isinstance(config, dict) or "type" not in config:
        raise StitchnasError(
            f"the space's rule must be a mapping with a 'type' (one of {list_rules()}), got {config!r}"
        )
    options = dict(config)
    name = options.pop("type")
    if name not in _RULES:
        close = difflib.get_close_matches(str(name), list(_RULES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise StitchnasError(f"unknown stitching rule {name!r} (known: {list_rules()}){hint}")
    return _RULES[name](**options)


def _anchors_alone(depths: Sequence[int]) -> list[Candidate | None]:
    return [Candidate(i, Route((Segment(i, 0, d),))) for i, d in enumerate(depths)]


def _junction_keys(route: Route) -> tuple[str, ...]:
    return tuple(str(j) for j in route.junctions)


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

    0 = S, 1 = L; then S->L, L->S, L->S->L and S->L->S stitches (see the README for the exact
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
    ``stride``) and B resumes at the block of equal relative depth ``c * d_B / d_A`` (rounded half up), or
    at one of the ``window`` positions centred on it. With ``max_stitches: 2`` a second stitch
    leaves B for any anchor allowed from B (back to A too, never re-running A's blocks).
    Ids: anchors, then one-stitch routes, then two-stitch routes, each in that loop order.
    """

    name = "two_way"
    options = {"pairs": "nearest", "max_stitches": 2, "window": 1, "stride": 1}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.config["max_stitches"] > 2:
            raise StitchnasError(
                f"rule 'two_way': max_stitches must be 1 or 2, got {self.config['max_stitches']}"
            )

    def _resumes(self, c: int, da: int, db: int) -> list[int]:
        aligned = (2 * c * db + da) // (2 * da)  # c * db / da rounded half up
        w = self.config["window"]
        lo = aligned - (w - 1) // 2
        return [k for k in range(lo, lo + w) if 0 <= k < db]

    def _cuts(self, lo: int, d: int) -> list[int]:
        s = self.config["stride"]
        return [c for c in range(lo + 1, d) if c % s == 0]

    def enumerate(self, depths: Sequence[int]) -> list[Candidate | None]:
        n = len(depths)
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
                for k in self._resumes(c, depths[a], depths[b]):
                    singles.append((a, c, b, k))
                    routes.append(Route((Segment(a, 0, c), Segment(b, k, depths[b]))))
        if self.config["max_stitches"] == 2:
            for a, c, b, k in singles:
                for c2 in self._cuts(k, depths[b]):
                    for dst in sorted(nexts[b]):
                        for k2 in self._resumes(c2, depths[b], depths[dst]):
                            if dst == a and k2 < c:
                                continue
                            routes.append(Route((Segment(a, 0, c), Segment(b, k, c2),
                                                 Segment(dst, k2, depths[dst]))))
        unique = list(dict.fromkeys(routes))
        return [Candidate(i, r, _junction_keys(r)) for i, r in enumerate(unique)]
