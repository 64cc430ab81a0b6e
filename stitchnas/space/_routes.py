"""Routes: a candidate network as a list of anchor segments, and the candidates a space enumerates.

A route ``0[0:4]>1[4:12]`` runs blocks 0..3 of anchor 0 (whose stem it uses), then a stitching
layer, then blocks 4..11 of anchor 1 (whose final norm and head it uses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Sequence

from ..errors import StitchnasError

__all__ = ["Segment", "Route", "Junction", "Candidate"]

_SEGMENT_RE = re.compile(r"^\s*(\d+)\[(\d+):(\d+)\]\s*$")


@dataclass(frozen=True, order=True)
class Segment:
    """Blocks ``start .. end-1`` of anchor ``anchor`` (anchors numbered as the space lists them)."""

    anchor: int
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.anchor}[{self.start}:{self.end}]"

    @property
    def num_blocks(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, order=True)
class Junction:
    """A stitch: the output of ``src`` after block ``src_end - 1`` feeds ``dst`` at block ``dst_start``."""

    src: int
    src_end: int
    dst: int
    dst_start: int

    def __str__(self) -> str:
        return f"{self.src}:{self.src_end}>{self.dst}:{self.dst_start}"


@dataclass(frozen=True, order=True)
class Route:
    """An immutable, hashable sequence of segments; JSON form ``[[anchor, start, end], ...]``."""

    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        if not self.segments:
            raise StitchnasError("a route needs at least one segment, e.g. [[0, 0, 12]]")
        for seg in self.segments:
            if seg.anchor < 0 or seg.start < 0 or seg.end <= seg.start:
                raise StitchnasError(
                    f"route segment {list(_seg_tuple(seg))} is empty or negative: "
                    "write [anchor, start, end] with 0 <= start < end"
                )
        if len({seg.anchor for seg in self.segments}) == len(self.segments):
            return  # no anchor twice: no self-stitch, no overlap (the common case, 10^5 per space)
        for a, b in zip(self.segments, self.segments[1:]):
            if a.anchor == b.anchor:
                raise StitchnasError(
                    f"route {self} stitches anchor {a.anchor} to itself: consecutive segments "
                    "must come from different anchors (merge them into one segment)"
                )
        for i, a in enumerate(self.segments):
            for b in self.segments[i + 1:]:
                if a.anchor == b.anchor and a.start < b.end and b.start < a.end:
                    raise StitchnasError(
                        f"route {self}: segments {a} and {b} overlap (run the same blocks of "
                        f"anchor {a.anchor} twice); a route must not revisit blocks"
                    )

    @classmethod
    def of(cls, segments: Iterable[Sequence[int] | Segment]) -> "Route":
        """Build from ``[[anchor, start, end], ...]`` (the JSON form) or Segment objects."""
        segs = []
        for s in segments:
            if isinstance(s, Segment):
                segs.append(s)
                continue
            if (
                not isinstance(s, (list, tuple))
                or len(s) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in s)
            ):
                raise StitchnasError(
                    f"route segment {s!r} is not [anchor, start, end] with three integers"
                )
            segs.append(Segment(*s))
        return cls(tuple(segs))

    @classmethod
    def parse(cls, text: str) -> "Route":
        """Parse the string form ``0[0:4]>1[4:12]``."""
        parts = text.split(">")
        segs = []
        for part in parts:
            m = _SEGMENT_RE.match(part)
            if not m:
                raise StitchnasError(
                    f"cannot parse route {text!r}: write segments as ANCHOR[START:END] joined by '>', "
                    "e.g. 0[0:4]>1[4:12]"
                )
            segs.append(Segment(*(int(g) for g in m.groups())))
        return cls(tuple(segs))

    def to_json(self) -> list[list[int]]:
        return [list(_seg_tuple(s)) for s in self.segments]

    def __str__(self) -> str:
        return ">".join(str(s) for s in self.segments)

    def __repr__(self) -> str:
        return f"Route({str(self)!r})"

    def __len__(self) -> int:
        return len(self.segments)

    def __iter__(self):
        return iter(self.segments)

    @property
    def num_stitches(self) -> int:
        return len(self.segments) - 1

    @property
    def first_anchor(self) -> int:
        return self.segments[0].anchor

    @property
    def last_anchor(self) -> int:
        return self.segments[-1].anchor

    @property
    def anchors(self) -> tuple[int, ...]:
        return tuple(s.anchor for s in self.segments)

    @cached_property
    def junctions(self) -> tuple[Junction, ...]:
        return tuple(
            Junction(a.anchor, a.end, b.anchor, b.start)
            for a, b in zip(self.segments, self.segments[1:])
        )

    def validate(self, depths: Sequence[int]) -> None:
        """Check the route against anchors with the given depths (number of blocks)."""
        for seg in self.segments:
            if seg.anchor >= len(depths):
                raise StitchnasError(
                    f"route {self} names anchor {seg.anchor}, but the space has "
                    f"{len(depths)} anchors (0..{len(depths) - 1})"
                )
            if seg.end > depths[seg.anchor]:
                raise StitchnasError(
                    f"route {self}: segment {seg} ends past anchor {seg.anchor}'s "
                    f"{depths[seg.anchor]} blocks"
                )
        first, last = self.segments[0], self.segments[-1]
        if first.start != 0:
            raise StitchnasError(
                f"route {self} must start at block 0 of its first anchor (it uses that anchor's stem)"
            )
        if last.end != depths[last.anchor]:
            raise StitchnasError(
                f"route {self} must run to the last block ({depths[last.anchor]}) of its last "
                "anchor (it uses that anchor's final norm and head)"
            )


def _seg_tuple(seg: Segment) -> tuple[int, int, int]:
    return (seg.anchor, seg.start, seg.end)


@dataclass(frozen=True)
class Candidate:
    """One enumerated network: its stable id, route, and which stitching layer each junction uses.

    ``layer_keys[i]`` names the stitching layer at ``route.junctions[i]``; rules that share one
    layer between several junctions (SN-Net's sliding windows) give them the same key.
    """

    id: int
    route: Route
    layer_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.layer_keys) != self.route.num_stitches:
            raise ValueError(
                f"candidate {self.id}: {self.route.num_stitches} junctions but "
                f"{len(self.layer_keys)} layer keys"
            )

    @property
    def is_anchor(self) -> bool:
        return self.route.num_stitches == 0
