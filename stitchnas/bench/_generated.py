"""Spaces of small timm ViTs written on the fly for the benchmarks (one-channel 28x28 input, so
building and profiling them is quick): any anchors' width, depth and heads under any rule, with
the route structure of the real spaces at any size (134 to 10^5 candidates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..space import SearchSpace, load_space

__all__ = ["vit_space"]

_ANCHOR = ("  - {{name: a{i}, model: vit_tiny_patch16_224, kwargs: {{img_size: 28, patch_size: 7, "
           "in_chans: 1, num_classes: 10, embed_dim: {dim}, depth: {depth}, num_heads: {heads}}}}}\n")


def vit_space(folder: str | Path, name: str, anchors: Sequence[Sequence[int]],
              rule: Mapping[str, Any]) -> SearchSpace:
    """Write ``folder/name.yaml`` and load it: anchors ``a0, a1, ...``, each ``(embed_dim, depth)``
    or ``(embed_dim, depth, num_heads)`` (2 heads when not given), and ``rule``'s options."""
    rows = [(a[0], a[1], a[2] if len(a) > 2 else 2) for a in anchors]
    text = (f"name: {name}\ninput_size: [1, 28, 28]\nanchors:\n"
            + "".join(_ANCHOR.format(i=i, dim=d, depth=n, heads=h) for i, (d, n, h) in enumerate(rows))
            + "rule: {" + ", ".join(f"{k}: {v}" for k, v in rule.items()) + "}\n")
    path = Path(folder) / f"{name}.yaml"
    path.write_text(text)
    return load_space(path)
