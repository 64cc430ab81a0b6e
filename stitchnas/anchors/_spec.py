"""What a space file says of an anchor and of the features at its block boundaries: plain data,
no torch, so loading a space (``stitchnas spaces``, ``stitchnas query``) never imports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["AnchorSpec", "FeatureSpec", "LAYOUTS", "stitch_problem"]


@dataclass(frozen=True)
class AnchorSpec:
    """One anchor of a space: a timm architecture, its kwargs, and where its weights come from."""

    name: str
    model: str
    kwargs: tuple[tuple[str, Any], ...] = ()
    checkpoint: str | None = None
    pretrained: bool = False
    init: str | None = None  # weights train-anchors starts from (not part of any hash)

    @property
    def kwargs_dict(self) -> dict[str, Any]:
        return dict(self.kwargs)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "kwargs": {k: _jsonable(v) for k, v in self.kwargs},
            "checkpoint": self.checkpoint,
            "pretrained": self.pretrained,
            **({"init": self.init} if self.init else {}),
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


LAYOUTS = ("tokens", "nchw", "nhwc")


@dataclass(frozen=True)
class FeatureSpec:
    """The per-sample shape of features at a block boundary.

    ``layout`` is ``tokens`` (shape (N, C)), ``nchw`` (C, H, W) or ``nhwc`` (H, W, C, Swin's
    stages). For tokens, ``grid`` is the (H, W) patch grid when the adapter knows it and
    ``prefix`` the number of leading non-spatial tokens (class, distillation, register tokens),
    so ``N == prefix + H * W``.
    """

    layout: str
    shape: tuple[int, ...]
    grid: tuple[int, int] | None = None
    prefix: int = 0

    @property
    def channels(self) -> int:
        return self.shape[0] if self.layout == "nchw" else self.shape[-1]

    @property
    def positions(self) -> int:
        """Tokens or spatial positions: how many vectors a stitching layer maps per sample."""
        if self.layout == "tokens":
            return self.shape[0]
        return self.shape[-2] * self.shape[-1] if self.layout == "nchw" else self.shape[0] * self.shape[1]

    @property
    def resolution(self) -> tuple[int, int] | None:
        """The spatial (H, W) of a feature map or token grid; None for tokens of unknown grid."""
        if self.layout == "nchw":
            return (self.shape[1], self.shape[2])
        if self.layout == "nhwc":
            return (self.shape[0], self.shape[1])
        return self.grid

    @property
    def is_map(self) -> bool:
        """Whether the features are a plain spatial map (no extra tokens), in any layout."""
        return self.resolution is not None and self.prefix == 0

    @property
    def stitch_key(self) -> tuple:
        """Boundaries with equal keys can be stitched (the stitching layer converts the layout)."""
        if self.is_map:
            return ("map", *self.resolution)
        return ("tokens", self.positions, self.prefix, self.grid)

    def __str__(self) -> str:
        text = f"{self.layout}{tuple(self.shape)}"
        if self.layout == "tokens" and self.grid is not None:
            text += f" grid {self.grid[0]}x{self.grid[1]}" + (f" + {self.prefix}" if self.prefix else "")
        return text


def stitch_problem(src: FeatureSpec, dst: FeatureSpec) -> str | None:
    """Why features ``src`` cannot feed a stitching layer producing ``dst`` (None: they can).

    Stitching layers map channels position by position and convert between layouts (tokens,
    NCHW, NHWC); they never resample, so both sides must hold the same positions.
    """
    if src.stitch_key == dst.stitch_key:
        return None
    if src.is_map and dst.is_map:
        (h1, w1), (h2, w2) = src.resolution, dst.resolution
        return (f"spatial resolutions differ ({h1}x{w1} vs {h2}x{w2}); stitching layers do not resample: "
                "cut and resume at points of equal resolution (rules two_way and snnet_stages map "
                "stage to stage)")
    if src.layout == dst.layout == "tokens" or not (src.is_map or dst.is_map):
        return ("stitching needs the same token grid on both sides (same img_size and patch_size, "
                "the same number of prefix tokens: class, distillation and register tokens)")
    seq = src if not src.is_map else dst
    what = (f"{seq.prefix} prefix token(s) (class, distillation, register)" if seq.prefix
            else "no known token grid")
    return (f"token sequence {seq} has {what} and cannot be laid out as a feature map; stitch "
            "such anchors only to token models with the same tokens")
