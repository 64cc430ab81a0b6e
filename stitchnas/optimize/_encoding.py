"""Encodings: Optuna parameters <-> candidates.

``relative`` (the default): ``shape`` (the anchor sequence of the route, e.g. ``"0>1>0"``) and,
for each stitch, where it cuts (``stitch1``, ``stitch2``: relative depth 0..1 at which the route
leaves an anchor). Every trial suggests the same parameters (a fixed search space: Optuna 5's
NSGA-II and GP samplers model only the parameters every trial shares and draw conditional ones at
random), and the point maps to the nearest valid candidate of that shape. ``tree`` (for the
exhaustive sampler): an exact define-by-run tree (``shape``, then each stitch's junction among
those legal after the previous choice), whose leaves are the candidates one to one. ``path`` (the
default beyond the exact limit): ``relative`` with the shape written anchor by anchor
(``anchor1``, ``anchor2``, ... each a small categorical, ``-`` ending the route early), so a
crossover can join one route's first anchor to another's last, and a space of hundreds of shapes
costs Optuna no comparisons of a long list of choices per trial.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..space import Candidate, SearchSpace

__all__ = ["make_encoding"]


def _shape(cand: "Candidate") -> str:
    return ">".join(str(a) for a in cand.route.anchors)


class _RelativeEncoding:
    """``shape`` + one float per stitch slot (relative depth of the cut); nearest candidate."""

    name = "relative"

    def __init__(self, space: "SearchSpace") -> None:
        depths = space.depths
        self.slots = max((c.route.num_stitches for c in space.candidates), default=0)
        groups: dict[str, list[tuple[int, tuple[float, ...], tuple[float, ...]]]] = {}
        for c in space.candidates:
            cuts = tuple(j.src_end / depths[j.src] for j in c.route.junctions)
            resumes = tuple(j.dst_start / depths[j.dst] for j in c.route.junctions)
            groups.setdefault(_shape(c), []).append((c.id, cuts, resumes))
        # a second float per slot only where cuts alone do not tell candidates apart (window > 1)
        self.resume = any(len({g[1] for g in grp}) < len(grp) for grp in groups.values())
        self.shapes = sorted(groups, key=lambda s: (s.count(">"), s))
        self._ids = {s: np.array([g[0] for g in grp]) for s, grp in groups.items()}
        self._pos = {s: np.array([g[1] + (g[2] if self.resume else ()) for g in grp], dtype=float)
                     for s, grp in groups.items()}
        self._of = {g[0]: (s, g[1], g[2]) for s, grp in groups.items() for g in grp}

    def suggest(self, trial: "optuna.Trial") -> int:
        shape = trial.suggest_categorical("shape", self.shapes)
        cuts = [trial.suggest_float(f"stitch{k}", 0.0, 1.0) for k in range(1, self.slots + 1)]
        resumes = ([trial.suggest_float(f"resume{k}", 0.0, 1.0) for k in range(1, self.slots + 1)]
                   if self.resume else [])
        return self.nearest(shape, cuts, resumes)

    def nearest(self, shape: str, cuts: Sequence[float], resumes: Sequence[float] = ()) -> int:
        n = shape.count(">")
        ids, pos = self._ids[shape], self._pos[shape]
        if n == 0:
            return int(ids[0])
        x = list(cuts[:n]) + (list(resumes[:n]) if self.resume else [])
        d = np.sum((pos - np.asarray(x, dtype=float)) ** 2, axis=1)
        return int(ids[int(np.argmin(d))])  # ties: the first, ids ascending

    def params(self, cid: int) -> dict[str, Any]:
        shape, cuts, resumes = self._of[cid]
        out: dict[str, Any] = {"shape": shape}
        for k in range(1, self.slots + 1):
            out[f"stitch{k}"] = float(cuts[k - 1]) if k <= len(cuts) else 0.0
            if self.resume:
                out[f"resume{k}"] = float(resumes[k - 1]) if k <= len(resumes) else 0.0
        return out


class _TreeEncoding:
    """Exact define-by-run tree: ``shape``, then each junction (``src_end>dst_start``) among
    those legal after the previous ones; leaves are the candidates one to one."""

    name = "tree"

    def __init__(self, space: "SearchSpace") -> None:
        self.tree: dict[str, Any] = {}
        self._params: dict[int, dict[str, Any]] = {}
        for c in space.candidates:
            shape = _shape(c)
            junctions = [f"{j.src_end}>{j.dst_start}" for j in c.route.junctions]
            params: dict[str, Any] = {"shape": shape}
            if not junctions:
                self.tree[shape] = c.id
                self._params[c.id] = params
                continue
            node = self.tree.setdefault(shape, {})
            name = shape
            for k, label in enumerate(junctions, 1):
                params[f"{name}|j{k}"] = label
                if k == len(junctions):
                    node[label] = c.id
                else:
                    node = node.setdefault(label, {})
                    name = f"{name}|{label}"
            self._params[c.id] = params
        self.shapes = sorted(self.tree, key=lambda s: (s.count(">"), s))

    @staticmethod
    def _order(label: str) -> tuple[int, ...]:
        return tuple(int(v) for v in label.split(">"))

    def suggest(self, trial: "optuna.Trial") -> int:
        shape = trial.suggest_categorical("shape", self.shapes)
        node, name, k = self.tree[shape], shape, 1
        while isinstance(node, dict):
            label = trial.suggest_categorical(f"{name}|j{k}", sorted(node, key=self._order))
            node, name, k = node[label], f"{name}|{label}", k + 1
        return int(node)

    def params(self, cid: int) -> dict[str, Any]:
        return dict(self._params[cid])

    def distributions(self) -> dict[str, Any]:
        """Every parameter's distribution, as :meth:`suggest` asks for it: ``shape`` and each
        node's junction choices (for completed trials built without a sampler)."""
        from optuna.distributions import CategoricalDistribution

        out: dict[str, Any] = {"shape": CategoricalDistribution(self.shapes)}

        def walk(node: Any, name: str, k: int) -> None:
            if isinstance(node, dict):
                labels = sorted(node, key=self._order)
                out[f"{name}|j{k}"] = CategoricalDistribution(labels)
                for label in labels:
                    walk(node[label], f"{name}|{label}", k + 1)

        for shape in self.shapes:
            walk(self.tree[shape], shape, 1)
        return out


class _PathEncoding(_RelativeEncoding):
    """``relative`` with the shape as one categorical per route position (``anchor1`` ..., ``-``
    after the first: the route ends there); a sequence that is no shape of the space is cut to
    its longest prefix that is one."""

    name = "path"
    END = "-"

    def __init__(self, space: "SearchSpace") -> None:
        super().__init__(space)
        self.anchors = [str(a) for a in range(len(space.depths))]
        self._known = set(self.shapes)

    def shape_of(self, picks: Sequence[str]) -> str:
        """The shape an anchor-by-anchor pick names: up to the first ``-`` or repeat, then cut to
        the longest prefix that is a shape of the space."""
        route = [picks[0]]
        for a in picks[1:]:
            if a == self.END or a == route[-1]:
                break
            route.append(a)
        while len(route) > 1 and ">".join(route) not in self._known:
            route.pop()
        return ">".join(route)

    def suggest(self, trial: "optuna.Trial") -> int:
        picks = [trial.suggest_categorical("anchor1", self.anchors)]
        picks += [trial.suggest_categorical(f"anchor{k}", [self.END, *self.anchors])
                  for k in range(2, self.slots + 2)]
        cuts = [trial.suggest_float(f"stitch{k}", 0.0, 1.0) for k in range(1, self.slots + 1)]
        resumes = ([trial.suggest_float(f"resume{k}", 0.0, 1.0) for k in range(1, self.slots + 1)]
                   if self.resume else [])
        return self.nearest(self.shape_of(picks), cuts, resumes)

    def params(self, cid: int) -> dict[str, Any]:
        out = super().params(cid)
        names = out.pop("shape").split(">")
        picks = {f"anchor{k}": (names[k - 1] if k <= len(names) else self.END)
                 for k in range(1, self.slots + 2)}
        return {**picks, **out}


def make_encoding(space: "SearchSpace", name: str) -> "_RelativeEncoding | _TreeEncoding":
    """The encoding called ``name`` (``tree``, ``relative`` or ``path``) of ``space``'s candidates."""
    if name == "tree":
        return _TreeEncoding(space)
    return _PathEncoding(space) if name == "path" else _RelativeEncoding(space)
