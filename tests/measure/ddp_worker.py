"""Run by torchrun from test_train.py: train on 2 ranks, save each rank's stitching layers."""

import sys
from pathlib import Path

import torch

from stitchnas.measure import DataSpec
from stitchnas.space import load_space
from stitchnas.measure import StitchTrainConfig, train_stitched

out = Path(sys.argv[1])
space = load_space("tiny_test")
cfg = StitchTrainConfig(epochs=1, batch_size=32, calib_size=64, sampling="uniform", seed=3)
result = train_stitched(space, DataSpec("digits", input_size=(1, 28, 28)), cfg, out / "stitched.pt",
                        resume=False)
rank = torch.distributed.get_rank()
torch.save(result.network.stitch_layers.state_dict(), out / f"rank{rank}.pt")
