"""BatchNorm statistics of one route: read, set and re-estimate them.

An anchor's BatchNorm layer keeps one set of running statistics for every route that runs it, so
after joint stitching training a route is normalised with statistics gathered mostly on other
routes (docs/training.md has the measured cost). Re-estimating them on the route alone, with no
weight changed, is what weight-sharing searches do before measuring a subnet; these helpers do it
deterministically: only the BatchNorm layers switch to train mode (dropout and drop-path stay
off), and the statistics are the plain average over the given batches (``momentum=None``), so the
same batches give the same statistics bit for bit, whether a route runs alone or inside a
prefix-sharing evaluation.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

import torch
from torch import nn

__all__ = ["batchnorm_layers", "has_batchnorm", "batchnorm_state", "load_batchnorm_state",
           "estimating_batchnorm", "calibrate_batchnorm"]

_BatchNorm = nn.modules.batchnorm._BatchNorm

#: one BatchNorm layer's statistics: (running_mean, running_var, num_batches_tracked)
LayerState = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def batchnorm_layers(module: nn.Module) -> list[nn.Module]:
    """The BatchNorm layers under ``module`` that keep running statistics, in module order."""
    return [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


def has_batchnorm(module: nn.Module) -> bool:
    """Whether ``module`` holds a BatchNorm layer with running statistics."""
    return any(isinstance(m, _BatchNorm) and m.track_running_stats for m in module.modules())


def batchnorm_state(module: nn.Module) -> list[LayerState]:
    """A copy of the running statistics of ``module``'s BatchNorm layers, in module order."""
    return [(m.running_mean.detach().clone(), m.running_var.detach().clone(),
             m.num_batches_tracked.detach().clone()) for m in batchnorm_layers(module)]


def load_batchnorm_state(module: nn.Module, state: list[LayerState]) -> None:
    """Copy ``state`` (from :func:`batchnorm_state` of a module of the same structure) into
    ``module``'s BatchNorm layers."""
    layers = batchnorm_layers(module)
    if len(layers) != len(state):
        raise ValueError(f"{len(state)} BatchNorm states for {len(layers)} BatchNorm layers")
    with torch.no_grad():
        for m, (mean, var, count) in zip(layers, state):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(count)


@contextmanager
def estimating_batchnorm(module: nn.Module, reset: bool = True) -> Iterator[None]:
    """Within the block, ``module``'s forward passes average its BatchNorm statistics.

    ``reset``: start from no statistics (else continue the average the counters hold). Only the
    BatchNorm layers train; everything else runs in eval mode. Modes and momenta come back
    after the block; the statistics stay.
    """
    layers = batchnorm_layers(module)
    modes = [(m, m.training) for m in module.modules()]
    momenta = [m.momentum for m in layers]
    try:
        module.eval()
        for m in layers:
            if reset:
                m.reset_running_stats()
            m.momentum = None  # a cumulative average: independent of how the batches are split
            m.train()
        yield
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        for m, mode in modes:
            m.training = mode


def calibrate_batchnorm(module: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Re-estimate ``module``'s BatchNorm statistics on ``batches`` (image tensors), no weight
    changed; returns the number of batches. ``module`` runs them as given (one route)."""
    n = 0
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    with estimating_batchnorm(module), torch.no_grad():
        for x in batches:
            module(x.to(device))
            n += 1
    return n
