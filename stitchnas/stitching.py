"""Stitching layers: the small maps that join one anchor's features to another's.

A stitching layer is a linear map over the channel dimension of token features (SN-Net), with
an optional low-rank update on top of a frozen least-squares solution (SN-Netv2). It is
initialised by least squares: W, b minimising ||X W^T + b - Y|| over a calibration batch, where
X are the front anchor's features at the cut and Y the back anchor's features where it resumes.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["StitchingLayer", "least_squares_fit", "flatten_positions"]


class StitchingLayer(nn.Module):
    """Linear map ``in_channels -> out_channels`` applied at every token (or spatial position).

    With ``rank`` set, the full map is kept frozen (its least-squares value) and a trainable
    low-rank update ``B @ A`` (B zero-initialised) is added, as in SN-Netv2.
    """

    def __init__(self, in_channels: int, out_channels: int, rank: int | None = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.rank = rank
        self.linear = nn.Linear(in_channels, out_channels)
        if rank is not None:
            if rank <= 0:
                raise ValueError(f"low-rank stitching needs rank >= 1, got {rank}")
            self.linear.weight.requires_grad_(False)
            self.linear.bias.requires_grad_(False)
            self.lora_a = nn.Linear(in_channels, rank, bias=False)
            self.lora_b = nn.Linear(rank, out_channels, bias=False)
            nn.init.zeros_(self.lora_b.weight)
        else:
            self.lora_a = None
            self.lora_b = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        if self.lora_a is not None:
            y = y + self.lora_b(self.lora_a(x))
        return y

    @torch.no_grad()
    def set_weights(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Set the full map (and reset the low-rank update to zero)."""
        self.linear.weight.copy_(weight)
        self.linear.bias.copy_(bias)
        if self.lora_b is not None:
            self.lora_b.weight.zero_()

    @torch.no_grad()
    def effective_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.linear.weight.clone()
        if self.lora_a is not None:
            w += self.lora_b.weight @ self.lora_a.weight
        return w, self.linear.bias.clone()

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}" + (
            f", rank={self.rank}" if self.rank else ""
        )


def flatten_positions(x: torch.Tensor, layout: str = "tokens") -> torch.Tensor:
    """Features (B, N, C) or (B, C, H, W) -> (B*positions, C) rows for least squares."""
    if layout == "tokens":
        return x.reshape(-1, x.shape[-1])
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


@torch.no_grad()
def least_squares_fit(
    pairs: Sequence[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares (W, b) with ``X @ W.T + b ~= Y`` for each (X, Y) pair, averaged over pairs.

    One layer serving several stitch positions (SN-Net's windows) gets the mean of the
    per-position solutions, as SN-Net does. Solved in float64 for stability.
    """
    weights, biases = [], []
    for x, y in pairs:
        x64 = x.double()
        ones = torch.ones(x64.shape[0], 1, dtype=x64.dtype, device=x64.device)
        xa = torch.cat([x64, ones], dim=1)
        sol = torch.linalg.lstsq(xa, y.double(), driver="gelsd" if xa.device.type == "cpu" else None).solution
        weights.append(sol[:-1].T)
        biases.append(sol[-1])
    w = torch.stack(weights).mean(0).float()
    b = torch.stack(biases).mean(0).float()
    return w, b
