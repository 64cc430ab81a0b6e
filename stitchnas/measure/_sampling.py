"""Which route each training step trains: SN-Net's uniform draw, SN-Netv2's FLOPs-aware one, and
a share of the steps for the anchors when they are trained too; a warning when some stitching layer
can expect too few steps to move from its least-squares start."""

from __future__ import annotations

import random
from typing import Any, Sequence

from ..errors import StitchnasError
from ..space import Candidate
from ._resume import _tuplify

__all__ = ["RouteSampler", "few_steps_warning", "MIN_STEPS_PER_LAYER"]


class RouteSampler:
    """Chooses the candidate trained at each step.

    ``uniform``: every candidate equally often (SN-Net). ``flops``: the FLOPs range is cut into
    ``bins`` equal intervals; a non-empty interval is drawn uniformly, then a candidate within
    it (SN-Netv2's resource-constrained sampling), so cheap and costly regions train equally.
    ``anchor_share``: that share of the steps draws an anchor, the rest a stitch as above."""

    def __init__(self, candidates: Sequence[Candidate], flops: Sequence[int], mode: str = "flops",
                 bins: int = 10, seed: int = 0, anchor_share: float | None = None) -> None:
        if not candidates:
            raise StitchnasError("no candidates to train: the space has no stitched routes")
        self.candidates = list(candidates)
        self.mode = mode
        self.rng = random.Random(seed)
        self.anchors = [c for c in self.candidates if c.is_anchor]
        self.anchor_share = anchor_share if 0 < len(self.anchors) < len(self.candidates) else None
        if self.anchor_share is not None:
            flops, self.candidates = zip(*[(f, c) for c, f in zip(self.candidates, flops) if not c.is_anchor])
        lo, hi = min(flops), max(flops)
        width = (hi - lo) / bins or 1.0
        groups: dict[int, list[Candidate]] = {}
        for c, f in zip(self.candidates, flops):
            groups.setdefault(min(bins - 1, int((f - lo) / width)), []).append(c)
        self.groups = [groups[k] for k in sorted(groups)]

    def sample(self) -> Candidate:
        if self.anchor_share is not None and self.rng.random() < self.anchor_share:
            return self.rng.choice(self.anchors)
        if self.mode == "uniform":
            return self.rng.choice(self.candidates)
        return self.rng.choice(self.rng.choice(self.groups))

    def probabilities(self) -> dict[int, float]:
        """Each candidate's chance of being drawn at a step, by id."""
        share = self.anchor_share or 0.0
        groups = [self.candidates] if self.mode == "uniform" else self.groups
        p = {c.id: (1 - share) / len(groups) / len(g) for g in groups for c in g}
        return p | {c.id: share / len(self.anchors) for c in self.anchors if share}

    def state(self) -> Any:
        return self.rng.getstate()

    def set_state(self, state: Any) -> None:
        self.rng.setstate(_tuplify(state))


MIN_STEPS_PER_LAYER = 10


def few_steps_warning(sampler: RouteSampler, steps: int) -> str | None:
    """One line when some stitching layers can expect fewer than :data:`MIN_STEPS_PER_LAYER`
    updates in ``steps`` (each step trains the layers of one sampled route): a layer that few
    updates leave near its least-squares start, and its stitches measure that start, not training.
    The bound is reasoned (ten updates at the recipe's learning rate barely move a layer), not tuned;
    the demo's quick recipe gives its least-used layer about 19."""
    use: dict[str, float] = {}
    p = sampler.probabilities()
    for c in sampler.candidates:
        for key in c.layer_keys:
            use[key] = use.get(key, 0.0) + p[c.id] * steps
    few = sorted(v for v in use.values() if v < MIN_STEPS_PER_LAYER)
    if not few:
        return None
    return (f"stitching layers: {len(few)} of {len(use)} can expect fewer than {MIN_STEPS_PER_LAYER} "
            f"training steps each (the least {few[0]:.1f} of {steps} steps): they stay near their "
            "least-squares start; train more --epochs, on more images (--train-subset, a larger data "
            "set), or with a smaller --batch-size")
