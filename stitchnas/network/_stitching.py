"""Stitching layers: the small maps that join one anchor's features to another's.

A stitching layer is a linear map over the channel dimension, applied at every token or spatial
position (SN-Net): a linear layer on tokens, a 1x1 convolution between NCHW feature maps. It
also converts the layout when the two anchors lay their features out differently (a CNN's NCHW
map feeding a Swin's NHWC stages or LeViT's tokens, and back); it never resamples, so both sides
hold the same positions. An optional low-rank update sits on top of a frozen least-squares
solution (SN-Netv2). It is initialised by least squares: W, b minimising ||X W^T + b - Y|| over a
calibration batch, where the rows of X are the front anchor's features at the cut (every
position of every image) and Y the back anchor's features where it resumes.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..anchors import LAYOUTS  # the feature layouts anchors declare

__all__ = ["StitchingLayer", "least_squares_fit", "flatten_positions", "LAYOUTS"]


class StitchingLayer(nn.Module):
    """Linear map ``in_channels -> out_channels`` applied at every token (or spatial position).

    ``in_layout``/``out_layout`` (``tokens``, ``nchw``, ``nhwc``; the output defaults to the
    input's) say how the features arrive and how the next block wants them; ``grid`` (H, W) is
    needed to turn tokens into a feature map. Between two NCHW maps the map is a 1x1
    convolution; otherwise a linear layer on channels-last features. A 2-D input is taken as
    rows of channels (one row per position, as :func:`flatten_positions` gives them).

    With ``rank`` set, the full map is kept frozen (its least-squares value) and a trainable
    low-rank update ``B @ A`` (B zero-initialised) is added, as in SN-Netv2.
    """

    def __init__(self, in_channels: int, out_channels: int, rank: int | None = None,
                 in_layout: str = "tokens", out_layout: str | None = None,
                 grid: Sequence[int] | None = None) -> None:
        super().__init__()
        out_layout = out_layout or in_layout
        for layout in (in_layout, out_layout):
            if layout not in LAYOUTS:
                raise ValueError(f"unknown feature layout {layout!r}; known: {', '.join(LAYOUTS)}")
        if in_layout == "tokens" and out_layout != "tokens" and grid is None:
            raise ValueError("turning tokens into a feature map needs the grid (H, W)")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.rank = rank
        self.in_layout = in_layout
        self.out_layout = out_layout
        self.grid = tuple(int(g) for g in grid) if grid is not None else None
        self.conv = in_layout == out_layout == "nchw"

        def make(i: int, o: int, bias: bool) -> nn.Module:
            return nn.Conv2d(i, o, 1, bias=bias) if self.conv else nn.Linear(i, o, bias=bias)

        self.linear = make(in_channels, out_channels, True)
        if rank is not None:
            if rank <= 0:
                raise ValueError(f"low-rank stitching needs rank >= 1, got {rank}")
            self.linear.weight.requires_grad_(False)
            self.linear.bias.requires_grad_(False)
            self.lora_a = make(in_channels, rank, False)
            self.lora_b = make(rank, out_channels, False)
            nn.init.zeros_(self.lora_b.weight)
        else:
            self.lora_a = None
            self.lora_b = None

    def _map(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        if self.lora_a is not None:
            y = y + self.lora_b(self.lora_a(x))
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return self.map_rows(x)
        if self.conv:
            return self._map(x)
        if self.in_layout == "nchw":
            x = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        y = self._map(x)  # channels last: (B, N, C) or (B, H, W, C)
        if self.out_layout == "tokens":
            return y.flatten(1, 2) if y.dim() == 4 else y
        if y.dim() == 3:
            y = y.reshape(y.shape[0], *self.grid, y.shape[-1])
        return y.permute(0, 3, 1, 2) if self.out_layout == "nchw" else y

    def map_rows(self, x: torch.Tensor) -> torch.Tensor:
        """The channel map on rows (P, in_channels) -> (P, out_channels)."""
        y = F.linear(x, self._2d(self.linear.weight), self.linear.bias)
        if self.lora_a is not None:
            y = y + F.linear(F.linear(x, self._2d(self.lora_a.weight)), self._2d(self.lora_b.weight))
        return y

    @staticmethod
    def _2d(w: torch.Tensor) -> torch.Tensor:
        return w.reshape(w.shape[0], w.shape[1])

    @torch.no_grad()
    def set_weights(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Set the full map (and reset the low-rank update to zero); ``weight`` is (out, in)."""
        self.linear.weight.copy_(weight.reshape(self.linear.weight.shape))
        self.linear.bias.copy_(bias)
        if self.lora_b is not None:
            self.lora_b.weight.zero_()

    @torch.no_grad()
    def effective_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The map as a whole: (weight (out, in), bias)."""
        w = self._2d(self.linear.weight).clone()
        if self.lora_a is not None:
            w += self._2d(self.lora_b.weight) @ self._2d(self.lora_a.weight)
        return w, self.linear.bias.clone()

    def extra_repr(self) -> str:
        text = f"{self.in_channels} -> {self.out_channels}"
        if (self.in_layout, self.out_layout) != ("tokens", "tokens"):
            text += f", {self.in_layout} -> {self.out_layout}"
        if self.grid is not None and self.in_layout == "tokens" and self.out_layout != "tokens":
            text += f" ({self.grid[0]}x{self.grid[1]})"
        return text + (f", rank={self.rank}" if self.rank else "")


def flatten_positions(x: torch.Tensor, layout: str = "tokens") -> torch.Tensor:
    """Features (B, N, C), (B, C, H, W) or (B, H, W, C) -> (B*positions, C) rows, positions in
    row-major (h, w) order in every layout, so rows of two layouts line up for least squares."""
    if layout == "nchw":
        return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
    return x.reshape(-1, x.shape[-1])


#: Singular values of the calibration features below this share of the largest are dropped
#: (minimum-norm solution). Features a norm layer ends with (PVTv2's stage norm, a LayerNorm)
#: are exactly collinear with the bias column; in float32 the collinearity holds to about 1e-7,
#: and fitting that rounding gives weights of 1e4 whose own float32 rounding shows in the
#: stitch's output (exported models then differ from the network by 1e-2). Nearly collinear
#: features do the same more quietly: a ConvNeXt's first stage on gray images (condition numbers
#: 1e5) was fitted with weights of 300 that cancel each other, and joint training, moving the
#: anchors a little, broke the cancellation: 15 of its 47 stitches fell below 20% top-1 (11 to
#: chance), stitches the least-squares start alone had at 82-86% (docs/training.md). A direction
#: weaker than a thousandth of the strongest carries nothing a trained layer can rely on; the
#: demo's features (condition numbers at most 326) and fmnist_resnet_2way's (221) are solved
#: exactly as without the cut.
LSTSQ_RCOND = 1e-3


@torch.no_grad()
def least_squares_fit(
    pairs: Sequence[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares (W, b) with ``X @ W.T + b ~= Y`` for each (X, Y) pair, averaged over pairs.

    One layer serving several stitch positions (SN-Net's windows) gets the mean of the
    per-position solutions, as SN-Net does. Solved in float64, minimum-norm over the directions
    :data:`LSTSQ_RCOND` drops, so near-collinear features do not blow the weights up.
    """
    weights, biases = [], []
    for x, y in pairs:
        x64 = x.double()
        ones = torch.ones(x64.shape[0], 1, dtype=x64.dtype, device=x64.device)
        xa = torch.cat([x64, ones], dim=1)
        if xa.device.type == "cpu":
            sol = torch.linalg.lstsq(xa, y.double(), rcond=LSTSQ_RCOND, driver="gelsd").solution
        else:  # CUDA's only driver (gels) assumes full rank: the same cut through the pseudo-inverse
            sol = torch.linalg.pinv(xa, rtol=LSTSQ_RCOND) @ y.double()
        weights.append(sol[:-1].T)
        biases.append(sol[-1])
    w = torch.stack(weights).mean(0).float()
    b = torch.stack(biases).mean(0).float()
    return w, b
